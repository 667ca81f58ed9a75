"""PCIe replay counter (cheap; the throughput collector is separate and opt-in)."""

from .base import COLLECTORS, Collector


@COLLECTORS.register("pcie", default=True, help="PCIe replay counter")
class PcieCollector(Collector):
    name = "pcie"

    def collect_gpu(self, dev, out, extras):
        n = dev.read("pcie_replays", dev.nv.nvmlDeviceGetPcieReplayCounter)
        if n is not None:
            out.add("gpuwatch_gpu_pcie_replays_total", dev.labels, float(n))
