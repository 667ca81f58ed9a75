"""PCIe replay counter (cheap; the throughput collector is separate and opt-in)."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register("pcie", default=True, help="PCIe replay counter", needs=("gpu",))
class PcieCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        n = dev.read("pcie_replays", dev.nv.nvmlDeviceGetPcieReplayCounter)
        if n is not None:
            out.add("gpuwatch_gpu_pcie_replays_total", dev.labels, float(n))
        return out
