"""A ``pynvml``-compatible module backed by a scenario file instead of a driver.

Call :func:`load` (or :func:`load_scenario`) once, then use it exactly like nvidia-ml-py's
``pynvml``: ``nvmlInit()``, ``nvmlDeviceGetHandleByIndex(i)``, ... Return values are
nvidia-ml-py's own structures where they are plain data (``c_nvmlUtilization_t``,
``c_nvmlMemory_v2_t``, ``nvmlPciInfo_t``, ``c_nvmlFieldValue_t``), and errors are nvidia-ml-py's
``NVMLError_*`` classes with the real codes, so the exporter cannot tell the difference.

Only handles are simulated objects (a ctypes pointer cannot carry them), and the GPM structure
:class:`c_nvmlGpmMetricsGet_t` is a plain Python class with the same fields for the same reason.

Test hooks: :func:`set_clock` (a function returning seconds since start), :data:`calls`
(a Counter of ``(function, gpu index)``), :func:`reset_calls`.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pynvml as _real  # nvidia-ml-py: error classes, constants and data structures

from . import scenario as _sc

# --- constants, error classes and structures, re-exported from nvidia-ml-py -------------------

for _name in dir(_real):
    if _name.startswith(
        ("NVML_", "NVMLError", "nvmlClocksEventReason", "nvmlClocksThrottleReason", "nvmlEventType")
    ):
        globals()[_name] = getattr(_real, _name)
NVMLError = _real.NVMLError
nvmlExceptionClass = _real.nvmlExceptionClass
nvmlMemory_v2 = _real.nvmlMemory_v2
c_nvmlMemory_t = _real.c_nvmlMemory_t
c_nvmlMemory_v2_t = _real.c_nvmlMemory_v2_t
c_nvmlUtilization_t = _real.c_nvmlUtilization_t
c_nvmlFieldValue_t = _real.c_nvmlFieldValue_t
nvmlPciInfo_t = _real.nvmlPciInfo_t
nvmlFriendlyObject = _real.nvmlFriendlyObject
c_nvmlGpmSupport_t = _real.c_nvmlGpmSupport_t

SIMULATED = True  # the exporter logs which backend it runs on

_ERR = {
    "GpuIsLost": _real.NVML_ERROR_GPU_IS_LOST,
    "Unknown": _real.NVML_ERROR_UNKNOWN,
    "Timeout": _real.NVML_ERROR_TIMEOUT,
    "DriverNotLoaded": _real.NVML_ERROR_DRIVER_NOT_LOADED,
    "LibraryNotFound": _real.NVML_ERROR_LIBRARY_NOT_FOUND,
    "NoPermission": _real.NVML_ERROR_NO_PERMISSION,
    "LibRmVersionMismatch": _real.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
}


def _raise(code: int) -> NoReturn:
    raise NVMLError(code)


# --- simulated handles -----------------------------------------------------------------------


class SimDevice:
    __slots__ = ("gpu",)

    def __init__(self, gpu: _sc.Gpu):
        self.gpu = gpu

    def __repr__(self) -> str:
        return f"<sim device {self.gpu.index}>"


class SimMigDevice:
    __slots__ = ("parent", "inst")

    def __init__(self, parent: SimDevice, inst: _sc.MigInstance):
        self.parent = parent
        self.inst = inst


class SimEventSet:
    def __init__(self, since: float):
        self.since = since
        self.devices: set[int] = set()
        self.cursor = 0  # index into the simulator's XID event list
        self.used = 0  # events already delivered from the entry at cursor
        self.freed = False


class SimEventData:
    """What ``nvmlEventSetWait`` returns (c_nvmlEventData_t's fields)."""

    __slots__ = ("device", "eventType", "eventData", "gpuInstanceId", "computeInstanceId")

    def __init__(self, device, event_type: int, data: int):
        self.device = device
        self.eventType = event_type
        self.eventData = data
        self.gpuInstanceId = 0xFFFFFFFF
        self.computeInstanceId = 0xFFFFFFFF


class SimGpmSample:
    __slots__ = ("t", "gpu")

    def __init__(self):
        self.t: float | None = None
        self.gpu: _sc.Gpu | None = None


class _GpmMetric:
    __slots__ = ("metricId", "nvmlReturn", "value")

    def __init__(self):
        self.metricId = 0
        self.nvmlReturn = 0
        self.value = 0.0


class c_nvmlGpmMetricsGet_t:  # noqa: N801 - pynvml's name
    """Same fields as nvidia-ml-py's structure (sample pointers hold simulated samples)."""

    def __init__(self):
        self.version = 0
        self.numMetrics = 0
        self.sample1 = None
        self.sample2 = None
        self.metrics = [_GpmMetric() for _ in range(32)]


# --- the simulator ----------------------------------------------------------------------------


class Simulator:
    def __init__(self, scen: _sc.Scenario, clock: Callable[[], float] | None = None):
        self.scenario = scen
        self._t0 = time.monotonic()
        self.clock = clock or (lambda: time.monotonic() - self._t0)
        self.lock = threading.Lock()
        self.refcount = 0
        self.devices = [SimDevice(g) for g in scen.gpus]
        self.calls: collections.Counter = collections.Counter()
        self.event_sets_created = 0
        # XID events in time order: [at, gpu index, xid, count]
        self.events: list[list[Any]] = sorted(
            ([f.at, f.gpu, f.xid, f.count] for f in scen.faults if f.kind == "xid"),
            key=lambda e: e[0],
        )
        self.by_gpu: dict[int, list[_sc.Fault]] = collections.defaultdict(list)
        self.init_failures = [f for f in scen.faults if f.kind == "nvml_init_failure"]
        for f in scen.faults:
            if f.gpu is not None:
                self.by_gpu[f.gpu].append(f)

    def now(self) -> float:
        return self.clock()

    def init_error(self, t: float) -> int | None:
        for f in self.init_failures:
            if f.active(t):
                return _ERR[f.error]
        return None

    def session(self) -> float:
        """Checks common to every call after init; returns the current time."""
        t = self.now()
        if self.refcount <= 0:
            _raise(_real.NVML_ERROR_UNINITIALIZED)
        code = self.init_error(t)
        if code is not None:
            _raise(code)
        return t

    def device(self, handle, fn: str, feature: str | None = None) -> tuple[_sc.Gpu, float]:
        t = self.session()
        if isinstance(handle, SimMigDevice):
            handle = handle.parent
        if not isinstance(handle, SimDevice):
            _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
        gpu = handle.gpu
        self.calls[(fn, gpu.index)] += 1
        for f in self.by_gpu.get(gpu.index, ()):
            if not f.active(t):
                continue
            if f.kind == "hang":
                time.sleep(f.delay)
            elif f.kind == "lost":
                _raise(_ERR[f.error])
            elif f.kind == "xid" and f.xid == 79:
                _raise(_real.NVML_ERROR_GPU_IS_LOST)
        if feature is not None and feature in gpu.not_supported:
            _raise(_real.NVML_ERROR_NOT_SUPPORTED)
        return gpu, t

    def overheat(self, gpu: _sc.Gpu, t: float) -> _sc.Fault | None:
        for f in self.by_gpu.get(gpu.index, ()):
            if f.kind == "overheat" and f.active(t):
                return f
        return None

    def val(self, gpu: _sc.Gpu, name: str, t: float) -> float:
        return gpu.values[name].at(t)

    def ecc(self, gpu: _sc.Gpu, kind: str, t: float) -> int:
        return sum(
            f.count
            for f in self.by_gpu.get(gpu.index, ())
            if f.kind == "ecc" and f.ecc_type == kind and f.at <= t
        )


_SIM: Simulator | None = None
calls: collections.Counter = collections.Counter()


def load(path: str | Path, clock: Callable[[], float] | None = None) -> Simulator:
    """Load a scenario file (raises :class:`~.scenario.ScenarioError`); the clock starts now."""
    return load_scenario(_sc.load(path), clock)


def load_scenario(scen: _sc.Scenario, clock: Callable[[], float] | None = None) -> Simulator:
    global _SIM, calls
    _SIM = Simulator(scen, clock)
    calls = _SIM.calls
    return _SIM


def set_clock(clock: Callable[[], float]) -> None:
    _sim().clock = clock


def reset_calls() -> None:
    _sim().calls.clear()


def simulator() -> Simulator:
    return _sim()


def _sim() -> Simulator:
    if _SIM is None:
        # Like a missing libnvidia-ml.so: nothing to talk to.
        _raise(_real.NVML_ERROR_LIBRARY_NOT_FOUND)
    return _SIM


# --- init / system ----------------------------------------------------------------------------


def nvmlInitWithFlags(flags: int) -> None:
    sim = _sim()
    code = sim.init_error(sim.now())
    sim.calls[("nvmlInit", -1)] += 1
    if code is not None:
        _raise(code)
    with sim.lock:
        sim.refcount += 1


def nvmlInit() -> None:
    nvmlInitWithFlags(0)


def nvmlShutdown() -> None:
    sim = _sim()
    with sim.lock:
        if sim.refcount <= 0:
            _raise(_real.NVML_ERROR_UNINITIALIZED)
        sim.refcount -= 1


def nvmlSystemGetDriverVersion() -> str:
    sim = _sim()
    sim.session()
    return sim.scenario.driver_version


def nvmlSystemGetNVMLVersion() -> str:
    sim = _sim()
    sim.session()
    return sim.scenario.nvml_version


def nvmlSystemGetCudaDriverVersion() -> int:
    sim = _sim()
    sim.session()
    return sim.scenario.cuda_driver_version


def nvmlDeviceGetCount() -> int:
    sim = _sim()
    sim.session()
    return len(sim.devices)


def nvmlDeviceGetHandleByIndex(index: int):
    sim = _sim()
    sim.session()
    if not 0 <= index < len(sim.devices):
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    dev = sim.devices[index]
    sim.device(dev, "nvmlDeviceGetHandleByIndex")
    return dev


# --- static facts -----------------------------------------------------------------------------


def nvmlDeviceGetName(handle) -> str:
    gpu, _ = _sim().device(handle, "nvmlDeviceGetName")
    return gpu.name


def nvmlDeviceGetUUID(handle) -> str:
    if isinstance(handle, SimMigDevice):
        _sim().device(handle, "nvmlDeviceGetUUID")
        return handle.inst.uuid
    gpu, _ = _sim().device(handle, "nvmlDeviceGetUUID")
    return gpu.uuid


def nvmlDeviceGetPciInfo(handle):
    gpu, _ = _sim().device(handle, "nvmlDeviceGetPciInfo")
    info = nvmlPciInfo_t()
    domain, bus, rest = gpu.pci_bus_id.split(":")
    dev, _fn = rest.split(".")
    info.busId = gpu.pci_bus_id.encode()
    info.busIdLegacy = gpu.pci_bus_id[4:].encode()
    info.domain, info.bus, info.device = int(domain, 16), int(bus, 16), int(dev, 16)
    info.pciDeviceId = 0x233010DE
    return info


nvmlDeviceGetPciInfo_v3 = nvmlDeviceGetPciInfo


def nvmlDeviceGetMinorNumber(handle) -> int:
    gpu, _ = _sim().device(handle, "nvmlDeviceGetMinorNumber")
    return gpu.minor


# --- readings ---------------------------------------------------------------------------------


def nvmlDeviceGetUtilizationRates(handle):
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetUtilizationRates", "utilization")
    return c_nvmlUtilization_t(
        gpu=round(sim.val(gpu, "utilization", t) * 100),
        memory=round(sim.val(gpu, "memory_utilization", t) * 100),
    )


def nvmlDeviceGetMemoryInfo(handle, version=None):
    sim = _sim()
    if isinstance(handle, SimMigDevice):
        gpu, t = sim.device(handle, "nvmlDeviceGetMemoryInfo")
        inst = handle.inst
        used = int(min(inst.memory_used.at(t), inst.memory_total))
        return c_nvmlMemory_t(total=int(inst.memory_total), free=int(inst.memory_total) - used, used=used)
    gpu, t = sim.device(handle, "nvmlDeviceGetMemoryInfo", "memory_v2" if version else None)
    total = int(gpu.memory_total)
    reserved = int(sim.val(gpu, "memory_reserved", t))
    used = int(min(sim.val(gpu, "memory_used", t), total - reserved))
    free = total - reserved - used
    if version:
        return c_nvmlMemory_v2_t(version=version, total=total, reserved=reserved, free=free, used=used)
    return c_nvmlMemory_t(total=total, free=free, used=used + reserved)


def nvmlDeviceGetTemperature(handle, sensor: int) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetTemperature", "temperature")
    if sensor != _real.NVML_TEMPERATURE_GPU:
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    hot = sim.overheat(gpu, t)
    return round(hot.temperature if hot else sim.val(gpu, "temperature", t))


def nvmlDeviceGetFieldValues(handle, fieldIds):
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetFieldValues")
    values = (c_nvmlFieldValue_t * len(fieldIds))()
    for i, fid in enumerate(fieldIds):
        v = values[i]
        v.fieldId = fid
        v.timestamp = int(t * 1e6)
        if fid == _real.NVML_FI_DEV_MEMORY_TEMP and "memory_temperature" not in gpu.not_supported:
            v.nvmlReturn = _real.NVML_SUCCESS
            v.valueType = _real.NVML_VALUE_TYPE_UNSIGNED_INT
            hot = sim.overheat(gpu, t)
            v.value.uiVal = round(sim.val(gpu, "memory_temperature", t) + (10 if hot else 0))
        else:
            v.nvmlReturn = _real.NVML_ERROR_NOT_SUPPORTED
    return values


def nvmlDeviceGetPowerUsage(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetPowerUsage", "power")
    return round(sim.val(gpu, "power", t) * 1000)


def nvmlDeviceGetTotalEnergyConsumption(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetTotalEnergyConsumption", "energy")
    joules = sim.val(gpu, "energy_start", 0) + gpu.values["power"].integral(t)
    return round(joules * 1000)


def nvmlDeviceGetEnforcedPowerLimit(handle) -> int:
    gpu, _ = _sim().device(handle, "nvmlDeviceGetEnforcedPowerLimit", "power_limit")
    return round(gpu.power_limit * 1000)


def nvmlDeviceGetClockInfo(handle, type: int) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetClockInfo", "clocks")
    if type in (_real.NVML_CLOCK_SM, _real.NVML_CLOCK_GRAPHICS):
        mhz = sim.val(gpu, "sm_clock", t)
        return round(mhz * 0.6 if sim.overheat(gpu, t) else mhz)
    if type == _real.NVML_CLOCK_MEM:
        return round(sim.val(gpu, "memory_clock", t))
    _raise(_real.NVML_ERROR_NOT_SUPPORTED)


def nvmlDeviceGetCurrentClocksEventReasons(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetCurrentClocksEventReasons", "clock_event_reasons")
    mask = int(sim.val(gpu, "clock_event_reasons", t))
    if sim.overheat(gpu, t):
        mask |= _real.nvmlClocksEventReasonSwThermalSlowdown | _real.nvmlClocksEventReasonHwThermalSlowdown
    return mask


nvmlDeviceGetCurrentClocksThrottleReasons = nvmlDeviceGetCurrentClocksEventReasons


def nvmlDeviceGetPerformanceState(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetPerformanceState", "performance_state")
    return round(sim.val(gpu, "performance_state", t))


def nvmlDeviceGetFanSpeed(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetFanSpeed", "fan_speed")
    return round(sim.val(gpu, "fan_speed", t) * 100)


def nvmlDeviceGetTotalEccErrors(handle, errorType: int, counterType: int) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetTotalEccErrors", "ecc")
    kind = "corrected" if errorType == _real.NVML_MEMORY_ERROR_TYPE_CORRECTED else "uncorrected"
    return sim.ecc(gpu, kind, t)


def nvmlDeviceGetRetiredPages(device, sourceFilter: int) -> list[int]:
    sim = _sim()
    gpu, t = sim.device(device, "nvmlDeviceGetRetiredPages", "retired_pages")
    key = (
        "retired_pages_single_bit"
        if sourceFilter == _real.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS
        else "retired_pages_double_bit"
    )
    return [0x1000 * (i + 1) for i in range(int(sim.val(gpu, key, t)))]


def nvmlDeviceGetRetiredPagesPendingStatus(device) -> int:
    sim = _sim()
    gpu, t = sim.device(device, "nvmlDeviceGetRetiredPagesPendingStatus", "retired_pages")
    return int(sim.val(gpu, "retired_pages_pending", t))


def nvmlDeviceGetRemappedRows(device):
    sim = _sim()
    gpu, t = sim.device(device, "nvmlDeviceGetRemappedRows", "remapped_rows")
    return tuple(
        int(sim.val(gpu, f"remapped_rows_{k}", t))
        for k in ("correctable", "uncorrectable", "pending", "failed")
    )


def nvmlDeviceGetPcieReplayCounter(handle) -> int:
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetPcieReplayCounter", "pcie_replays")
    return int(sim.val(gpu, "pcie_replays", t))


def nvmlDeviceGetPcieThroughput(device, counter: int) -> int:
    sim = _sim()
    gpu, t = sim.device(device, "nvmlDeviceGetPcieThroughput", "pcie_throughput")
    key = "pcie_tx" if counter == _real.NVML_PCIE_UTIL_TX_BYTES else "pcie_rx"
    return round(sim.val(gpu, key, t) / 1024)  # NVML answers KB/s


def nvmlDeviceGetNvLinkState(device, link: int) -> int:
    gpu, _ = _sim().device(device, "nvmlDeviceGetNvLinkState", "nvlink")
    if gpu.nvlinks == 0:
        _raise(_real.NVML_ERROR_NOT_SUPPORTED)
    if not 0 <= link < gpu.nvlinks:
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    return _real.NVML_FEATURE_ENABLED


def nvmlDeviceGetNvLinkErrorCounter(device, link: int, counter: int) -> int:
    gpu, _ = _sim().device(device, "nvmlDeviceGetNvLinkErrorCounter", "nvlink")
    if not 0 <= link < gpu.nvlinks:
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    return 0


def nvmlDeviceGetEncoderUtilization(handle):
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetEncoderUtilization", "encoder")
    return [round(sim.val(gpu, "encoder_utilization", t) * 100), 167000]


def nvmlDeviceGetDecoderUtilization(handle):
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetDecoderUtilization", "decoder")
    return [round(sim.val(gpu, "decoder_utilization", t) * 100), 167000]


# --- MIG --------------------------------------------------------------------------------------


def nvmlDeviceGetMigMode(device):
    gpu, _ = _sim().device(device, "nvmlDeviceGetMigMode", "mig")
    mode = _real.NVML_DEVICE_MIG_ENABLE if gpu.mig else _real.NVML_DEVICE_MIG_DISABLE
    return [mode, mode]


def nvmlDeviceGetMaxMigDeviceCount(device) -> int:
    gpu, _ = _sim().device(device, "nvmlDeviceGetMaxMigDeviceCount", "mig")
    return 7 if gpu.mig else 0


def nvmlDeviceGetMigDeviceHandleByIndex(device, index: int):
    gpu, _ = _sim().device(device, "nvmlDeviceGetMigDeviceHandleByIndex", "mig")
    if not 0 <= index < len(gpu.mig):
        _raise(_real.NVML_ERROR_NOT_FOUND)
    return SimMigDevice(device, gpu.mig[index])


def nvmlDeviceGetGpuInstanceId(device) -> int:
    _sim().device(device, "nvmlDeviceGetGpuInstanceId", "mig")
    if not isinstance(device, SimMigDevice):
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    return device.inst.gpu_instance_id


def nvmlDeviceGetComputeInstanceId(device) -> int:
    _sim().device(device, "nvmlDeviceGetComputeInstanceId", "mig")
    if not isinstance(device, SimMigDevice):
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    return device.inst.compute_instance_id


# --- processes --------------------------------------------------------------------------------


def nvmlDeviceGetComputeRunningProcesses(handle):
    sim = _sim()
    gpu, t = sim.device(handle, "nvmlDeviceGetComputeRunningProcesses", "processes")
    out = []
    for p in sim.scenario.processes:
        if p.gpu == gpu.index and p.active(t):
            gi = p.gpu_instance_id if p.gpu_instance_id is not None else 0xFFFFFFFF
            out.append(
                nvmlFriendlyObject(
                    {
                        "pid": p.pid,
                        "usedGpuMemory": int(p.memory_used),
                        "gpuInstanceId": gi,
                        "computeInstanceId": 0xFFFFFFFF,
                    }
                )
            )
    return out


nvmlDeviceGetComputeRunningProcesses_v3 = nvmlDeviceGetComputeRunningProcesses


# --- events -----------------------------------------------------------------------------------


def nvmlEventSetCreate():
    sim = _sim()
    t = sim.session()
    with sim.lock:
        first = sim.event_sets_created == 0
        sim.event_sets_created += 1
    # The first event set sees the scenario from its start ("times relative to exporter start");
    # one created later (after an NVML re-init) sees only events from then on, as with a driver.
    return SimEventSet(0.0 if first else t)


def nvmlDeviceRegisterEvents(handle, eventTypes: int, eventSet) -> None:
    sim = _sim()
    gpu, _ = sim.device(handle, "nvmlDeviceRegisterEvents", "events")
    if not eventTypes & _real.nvmlEventTypeXidCriticalError:
        _raise(_real.NVML_ERROR_NOT_SUPPORTED)
    eventSet.devices.add(gpu.index)


def nvmlEventSetWait_v2(eventSet, timeoutms: int):
    sim = _sim()
    deadline = time.monotonic() + timeoutms / 1000.0
    while True:
        t = sim.session()
        if eventSet.freed:
            _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
        wait = None
        with sim.lock:
            events = sim.events
            while eventSet.cursor < len(events):
                at, gi, xid, count = events[eventSet.cursor]
                if at < eventSet.since or gi not in eventSet.devices or eventSet.used >= count:
                    eventSet.cursor += 1
                    eventSet.used = 0
                    continue
                if at <= t:
                    eventSet.used += 1
                    return SimEventData(sim.devices[gi], _real.nvmlEventTypeXidCriticalError, xid)
                wait = at - t
                break
        left = deadline - time.monotonic()
        if left <= 0:
            _raise(_real.NVML_ERROR_TIMEOUT)
        time.sleep(min(left, wait if wait is not None else left, 0.05))


def nvmlEventSetWait(eventSet, timeoutms: int):
    return nvmlEventSetWait_v2(eventSet, timeoutms)


def nvmlEventSetFree(eventSet) -> None:
    eventSet.freed = True


# --- GPM --------------------------------------------------------------------------------------


def nvmlGpmQueryDeviceSupport(device):
    gpu, _ = _sim().device(device, "nvmlGpmQueryDeviceSupport")
    support = c_nvmlGpmSupport_t()
    support.version = _real.NVML_GPM_SUPPORT_VERSION
    support.isSupportedDevice = 0 if "gpm" in gpu.not_supported else 1
    return support


def nvmlGpmSampleAlloc():
    _sim().session()
    return SimGpmSample()


def nvmlGpmSampleFree(gpmSample) -> None:
    return None


def nvmlGpmSampleGet(device, gpmSample):
    gpu, t = _sim().device(device, "nvmlGpmSampleGet", "gpm")
    gpmSample.t = t
    gpmSample.gpu = gpu
    return gpmSample


_GPM_VALUES = {
    _real.NVML_GPM_METRIC_SM_OCCUPANCY: "sm_occupancy",
    _real.NVML_GPM_METRIC_ANY_TENSOR_UTIL: "tensor_activity",
    _real.NVML_GPM_METRIC_DRAM_BW_UTIL: "dram_bandwidth",
    _real.NVML_GPM_METRIC_SM_UTIL: "sm_activity",
}


def nvmlGpmMetricsGet(metricsGet):
    sim = _sim()
    s1, s2 = metricsGet.sample1, metricsGet.sample2
    if s1 is None or s2 is None or s1.gpu is None or s2.gpu is None or s1.gpu is not s2.gpu:
        _raise(_real.NVML_ERROR_INVALID_ARGUMENT)
    if metricsGet.version != _real.NVML_GPM_METRICS_GET_VERSION:
        _raise(_real.NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
    sim.device(SimDevice(s2.gpu), "nvmlGpmMetricsGet", "gpm")
    mid = (s1.t + s2.t) / 2
    for i in range(metricsGet.numMetrics):
        m = metricsGet.metrics[i]
        key = _GPM_VALUES.get(m.metricId)
        if key is None:
            m.nvmlReturn = _real.NVML_ERROR_NOT_SUPPORTED
            m.value = 0.0
        else:
            m.nvmlReturn = _real.NVML_SUCCESS
            m.value = s2.gpu.values[key].at(mid) * 100.0
    return metricsGet
