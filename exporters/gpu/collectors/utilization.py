"""GPU and memory-controller utilization (nvmlDeviceGetUtilizationRates)."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register(
    "utilization", default=True, help="GPU and memory-controller utilization", needs=("gpu",)
)
class UtilizationCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        util = dev.read("utilization", dev.nv.nvmlDeviceGetUtilizationRates)
        if util is not None:
            out.add("gpuwatch_gpu_utilization_ratio", dev.labels, util.gpu / 100.0)
            out.add("gpuwatch_gpu_memory_utilization_ratio", dev.labels, util.memory / 100.0)
        return out
