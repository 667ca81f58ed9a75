"""Power draw, the energy counter and the enforced power limit (NVML answers milliwatts/mJ)."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register("power", default=True, help="Power draw, energy counter, power limit", needs=("gpu",))
class PowerCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        lb = dev.labels
        mw = dev.read("power", nv.nvmlDeviceGetPowerUsage)
        if mw is not None:
            out.add("gpuwatch_gpu_power_watts", lb, mw / 1000.0)
        mj = dev.read("energy", nv.nvmlDeviceGetTotalEnergyConsumption)
        if mj is not None:
            out.add("gpuwatch_gpu_energy_joules_total", lb, mj / 1000.0)
        limit = dev.read("power_limit", nv.nvmlDeviceGetEnforcedPowerLimit)
        if limit is not None:
            out.add("gpuwatch_gpu_power_limit_watts", lb, limit / 1000.0)
        return out
