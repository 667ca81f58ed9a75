"""PCIe TX/RX throughput. Opt-in: NVML samples each direction for ~20 ms, per GPU."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register(
    "pcie_throughput",
    default=False,
    help="PCIe TX/RX throughput (NVML samples ~20 ms per GPU and direction)",
    needs=("gpu",),
)
class PcieThroughputCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        for label, counter in (("tx", nv.NVML_PCIE_UTIL_TX_BYTES), ("rx", nv.NVML_PCIE_UTIL_RX_BYTES)):
            kbps = dev.read("pcie_throughput", nv.nvmlDeviceGetPcieThroughput, counter)
            if kbps is None:
                return out
            out.add("gpuwatch_gpu_pcie_throughput_bytes_per_second", dev.labels + (label,), kbps * 1024.0)
        return out
