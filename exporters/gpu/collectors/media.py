"""Video encoder and decoder utilization."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register("media", default=True, help="Video encoder and decoder utilization", needs=("gpu",))
class MediaCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        enc = dev.read("encoder", nv.nvmlDeviceGetEncoderUtilization)
        if enc is not None:
            out.add("gpuwatch_gpu_encoder_utilization_ratio", dev.labels, enc[0] / 100.0)
        dec = dev.read("decoder", nv.nvmlDeviceGetDecoderUtilization)
        if dec is not None:
            out.add("gpuwatch_gpu_decoder_utilization_ratio", dev.labels, dec[0] / 100.0)
        return out
