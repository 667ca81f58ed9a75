"""SM and memory clocks, clock-event (throttle) reasons as ``{reason}`` series, P-state."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead

# reason label -> pynvml constant name (the bit in nvmlDeviceGetCurrentClocksEventReasons)
REASONS = (
    ("gpu_idle", "GpuIdle"),
    ("applications_clocks_setting", "ApplicationsClocksSetting"),
    ("sw_power_cap", "SwPowerCap"),
    ("hw_slowdown", "HwSlowdown"),
    ("sync_boost", "SyncBoost"),
    ("sw_thermal_slowdown", "SwThermalSlowdown"),
    ("hw_thermal_slowdown", "HwThermalSlowdown"),
    ("hw_power_brake_slowdown", "HwPowerBrakeSlowdown"),
    ("display_clock_setting", "DisplayClockSetting"),
)


def reason_bits(nv):
    out = []
    for label, suffix in REASONS:
        bit = getattr(nv, "nvmlClocksEventReason" + suffix, None)
        if bit is None:
            bit = getattr(nv, "nvmlClocksThrottleReason" + suffix, None)
        if bit is not None:
            out.append((label, int(bit)))
    return out


@COLLECTORS.register(
    "clocks",
    default=True,
    help="SM/memory clocks, clock-event (throttle) reasons, performance state",
    needs=("gpu",),
)
class ClocksCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        lb = dev.labels
        sm = dev.read("clock_sm", nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_SM)
        if sm is not None:
            out.add("gpuwatch_gpu_sm_clock_hertz", lb, sm * 1e6)
        mem = dev.read("clock_mem", nv.nvmlDeviceGetClockInfo, nv.NVML_CLOCK_MEM)
        if mem is not None:
            out.add("gpuwatch_gpu_memory_clock_hertz", lb, mem * 1e6)
        fn = (
            getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None)
            or nv.nvmlDeviceGetCurrentClocksThrottleReasons
        )
        mask = dev.read("clock_event_reasons", fn)
        if mask is not None:
            for label, bit in reason_bits(nv):
                out.add("gpuwatch_gpu_clock_event_active", lb + (label,), 1.0 if mask & bit else 0.0)
        pstate = dev.read("performance_state", nv.nvmlDeviceGetPerformanceState)
        if pstate is not None and 0 <= pstate <= 15:  # 32 = unknown
            out.add("gpuwatch_gpu_performance_state", lb, float(pstate))
        return out
