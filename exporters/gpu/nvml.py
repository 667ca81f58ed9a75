"""NVML access: loading the module, init with backoff, devices, error classes, NotSupported memory.

The exporter talks to NVML only through the module returned by :func:`load_module`: the
``pynvml`` module of nvidia-ml-py, or the simulated backend when a scenario is given. Nothing
here imports ``pynvml`` at import time.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..common.log import kv

log = logging.getLogger("gpuwatch.gpu.nvml")


class GpuDown(Exception):
    """One GPU stopped answering (GpuIsLost, Unknown, Timeout, ...); the others are fine."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


class NvmlDown(Exception):
    """NVML as a whole stopped answering (driver unloaded, uninitialised, ...): re-init needed."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


def load_module(scenario: str | None = None, clock: Callable[[], float] | None = None) -> ModuleType:
    """The NVML module: the simulated one for a scenario file, else nvidia-ml-py's ``pynvml``.

    Raises ImportError when ``pynvml`` is not installed, and the scenario's ScenarioError for a
    bad scenario file.
    """
    if scenario:
        from .sim import pynvml as sim

        sim.load(scenario, clock)
        return sim
    return importlib.import_module("pynvml")


def error_name(exc: BaseException) -> str:
    name = type(exc).__name__
    if name.startswith("NVMLError_"):
        return name[len("NVMLError_") :]
    value = getattr(exc, "value", None)
    return f"code{value}" if isinstance(value, int) else name


def _s(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def handle_key(handle: Any) -> Any:
    """A hashable identity for an NVML device handle (ctypes pointer value, or the object)."""
    try:
        return ("ptr", ctypes.cast(handle, ctypes.c_void_p).value)
    except (TypeError, ctypes.ArgumentError):
        return ("obj", id(handle))


class Codes:
    """Error codes of the loaded module, grouped by what the exporter does about them."""

    def __init__(self, nv: Any):
        """``nv`` the loaded pynvml module; None gives NVML's documented codes."""

        def g(name: str, default: int) -> int:
            return getattr(nv, name, default)

        self.not_supported = {g("NVML_ERROR_NOT_SUPPORTED", 3), g("NVML_ERROR_FUNCTION_NOT_FOUND", 13)}
        self.version_mismatch = {g("NVML_ERROR_ARGUMENT_VERSION_MISMATCH", 25)}
        self.gpu_down = {
            g("NVML_ERROR_GPU_IS_LOST", 15),
            g("NVML_ERROR_UNKNOWN", 999),
            g("NVML_ERROR_TIMEOUT", 10),
            g("NVML_ERROR_RESET_REQUIRED", 16),
            g("NVML_ERROR_IRQ_ISSUE", 11),
            g("NVML_ERROR_GPU_NOT_FOUND", 28),
        }
        self.nvml_down = {
            g("NVML_ERROR_UNINITIALIZED", 1),
            g("NVML_ERROR_DRIVER_NOT_LOADED", 9),
            g("NVML_ERROR_LIB_RM_VERSION_MISMATCH", 18),
            g("NVML_ERROR_LIBRARY_NOT_FOUND", 12),
        }
        self.timeout = g("NVML_ERROR_TIMEOUT", 10)


# Exported at 0 from start-up, so that increase() sees the first error of these kinds.
COMMON_ERRORS = ("DriverNotLoaded", "GpuIsLost", "LibraryNotFound", "Timeout", "Uninitialized", "Unknown")


class ErrorCounter:
    """``gpuwatch_nvml_errors_total{error}``: thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counts: dict[str, int] = dict.fromkeys(COMMON_ERRORS, 0)

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


@dataclass
class Device:
    """One GPU as the exporter knows it; survives NVML re-inits (keyed by NVML index)."""

    index: int
    uuid: str = ""
    name: str = ""
    pci_bus_id: str = ""
    minor: int | None = None
    handle: Any = None
    nv: Any = None  # the pynvml module of the session (real or simulated), set by Session.open
    codes: Codes = field(default_factory=lambda: Codes(None))
    errors: ErrorCounter = field(default_factory=lambda: ErrorCounter())
    unsupported: set[Any] = field(default_factory=set)  # keys NVML answered NotSupported for
    nvlinks: list[int] | None = None  # NVLink links that exist (nvlink collector; found on first read)
    gpm_checked: bool = False  # GPM support confirmed (gpm collector)
    lost_at: float | None = None  # monotonic time of an XID 79 event
    generation: int = 0

    @property
    def labels(self) -> tuple[str, str]:
        return (str(self.index), self.uuid)

    def read(self, key: Any, fn: Callable, *args: Any) -> Any:
        """Call ``fn(handle, *args)``; None when not supported (remembered under ``key``)."""
        return self.read_on(self.handle, key, fn, *args)

    def read_on(self, handle: Any, key: Any, fn: Callable, *args: Any) -> Any:
        if key in self.unsupported:
            return None
        try:
            return fn(handle, *args)
        except self.nv.NVMLError as exc:
            return self.failed(key, exc)

    def failed(self, key: Any, exc: BaseException) -> None:
        """Classify an NVML error raised while reading ``key``: absent, GPU down or NVML down."""
        code = getattr(exc, "value", None)
        codes = self.codes
        if code in codes.not_supported:
            if key is not None:
                if key not in self.unsupported:
                    kv(log, logging.DEBUG, "not supported, not asking again", gpu=self.index, field=key)
                self.unsupported.add(key)
            return None
        name = error_name(exc)
        self.errors.add(name)
        if code in codes.gpu_down:
            raise GpuDown(name)
        if code in codes.nvml_down:
            raise NvmlDown(name)
        # NoPermission, InvalidArgument, NotFound, ...: this field is absent this time.
        kv(log, logging.DEBUG, "nvml error, field absent", gpu=self.index, field=key, error=name)
        return None


class Session:
    """NVML initialised, with its devices; :meth:`open` raises the NVML error when init fails."""

    def __init__(self, nv: ModuleType, devices_by_index: dict[int, Device], errors: ErrorCounter):
        self.nv = nv
        self.codes = Codes(nv)
        self.errors = errors
        self.driver_version = ""
        self.devices: list[Device] = []
        self._known = devices_by_index
        self.open_ok = False

    def open(self, generation: int) -> None:
        nv = self.nv
        nv.nvmlInit()
        self.open_ok = True
        try:
            self.driver_version = _s(nv.nvmlSystemGetDriverVersion())
        except nv.NVMLError as exc:
            if getattr(exc, "value", None) in self.codes.nvml_down:
                raise
            self.driver_version = ""
        count = nv.nvmlDeviceGetCount()
        devices = []
        for i in range(count):
            dev = self._known.get(i) or Device(i)
            self._known[i] = dev
            dev.nv, dev.codes, dev.errors, dev.generation = nv, self.codes, self.errors, generation
            dev.handle = None
            dev.unsupported = set()
            self.discover(dev)
            devices.append(dev)
        # A GPU that no longer enumerates stays known (info, gpu_up 0: it is missing), unless
        # it moved to another index (a GPU before it vanished and the indices shifted).
        present = {d.uuid for d in devices if d.uuid}
        for i in [i for i in self._known if i >= count]:
            gone = self._known[i]
            if gone.uuid in present or not gone.uuid:
                del self._known[i]
            else:
                gone.handle, gone.generation = None, generation
        self.devices = devices

    def discover(self, dev: Device) -> bool:
        """Get the handle and static facts of ``dev``; False (GPU down) when it does not answer."""
        nv = self.nv
        try:
            handle = nv.nvmlDeviceGetHandleByIndex(dev.index)
            uuid = _s(nv.nvmlDeviceGetUUID(handle))
            name = _s(nv.nvmlDeviceGetName(handle))
            bus = _s(nv.nvmlDeviceGetPciInfo(handle).busId)
        except nv.NVMLError as exc:
            code = getattr(exc, "value", None)
            self.errors.add(error_name(exc))
            if code in self.codes.nvml_down:
                raise
            kv(
                log,
                logging.WARNING,
                "gpu does not answer",
                gpu=dev.index,
                uuid=dev.uuid or "unknown",
                error=error_name(exc),
            )
            return False
        if dev.uuid and dev.uuid != uuid:
            kv(log, logging.WARNING, "gpu at this index changed", gpu=dev.index, old_uuid=dev.uuid, uuid=uuid)
            dev.lost_at = None
        dev.uuid, dev.name, dev.pci_bus_id, dev.handle = uuid, name, bus, handle
        try:
            dev.minor = int(nv.nvmlDeviceGetMinorNumber(handle))
        except nv.NVMLError as exc:  # not on every platform; join by bus id then
            if getattr(exc, "value", None) in self.codes.nvml_down:
                raise
            dev.minor = None
        return True

    def close(self) -> None:
        if not self.open_ok:
            return
        self.open_ok = False
        try:
            self.nv.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down a broken NVML must not fail the loop
            pass


class Backoff:
    """Exponential backoff for NVML init: min, 2*min, ... up to max; reset on success."""

    def __init__(self, minimum: float, maximum: float, clock: Callable[[], float] = time.monotonic):
        self.minimum, self.maximum, self.clock = minimum, maximum, clock
        self.delay = 0.0
        self.next_at = 0.0

    def ready(self) -> bool:
        return self.clock() >= self.next_at

    def failed(self) -> float:
        self.delay = self.minimum if self.delay == 0 else min(self.delay * 2, self.maximum)
        self.next_at = self.clock() + self.delay
        return self.delay

    def succeeded(self) -> None:
        self.delay = 0.0
        self.next_at = 0.0
