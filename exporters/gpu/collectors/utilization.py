"""GPU and memory-controller utilization (nvmlDeviceGetUtilizationRates)."""

from .base import COLLECTORS, Collector


@COLLECTORS.register("utilization", default=True, help="GPU and memory-controller utilization")
class UtilizationCollector(Collector):
    name = "utilization"

    def collect_gpu(self, dev, out, extras):
        util = dev.read("utilization", dev.nv.nvmlDeviceGetUtilizationRates)
        if util is not None:
            out.add("gpuwatch_gpu_utilization_ratio", dev.labels, util.gpu / 100.0)
            out.add("gpuwatch_gpu_memory_utilization_ratio", dev.labels, util.memory / 100.0)
