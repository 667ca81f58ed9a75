"""Video encoder and decoder utilization."""

from .base import COLLECTORS, Collector


@COLLECTORS.register("media", default=True, help="Video encoder and decoder utilization")
class MediaCollector(Collector):
    name = "media"

    def collect_gpu(self, dev, out, extras):
        nv = dev.nv
        enc = dev.read("encoder", nv.nvmlDeviceGetEncoderUtilization)
        if enc is not None:
            out.add("gpuwatch_gpu_encoder_utilization_ratio", dev.labels, enc[0] / 100.0)
        dec = dev.read("decoder", nv.nvmlDeviceGetDecoderUtilization)
        if dec is not None:
            out.add("gpuwatch_gpu_decoder_utilization_ratio", dev.labels, dec[0] / 100.0)
