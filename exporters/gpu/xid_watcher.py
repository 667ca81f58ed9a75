"""XID events: a background thread waiting on an NVML event set (critical XID errors).

Each event is counted once per GPU (by UUID, so counts survive NVML re-inits) and XID code.
XID 79 (GPU has fallen off the bus) also marks the GPU down until a later read succeeds.
Counting takes a lock for a few dict operations; scrapes copy the counters under the same
lock, so an event storm slows nothing but this thread. Log lines are rate-limited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..common.log import kv
from .nvml import Device, error_name, handle_key

log = logging.getLogger("gpuwatch.gpu.xid")

XID_FALLEN_OFF_BUS = 79


class XidCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.totals: dict[str, int] = {}
        self.by_code: dict[str, dict[int, int]] = {}
        self.version = 0

    def ensure(self, uuid: str) -> None:
        with self._lock:
            if uuid not in self.totals:
                self.totals[uuid] = 0
                self.by_code[uuid] = {}
                self.version += 1

    def add(self, uuid: str, xid: int) -> None:
        with self._lock:
            self.totals[uuid] = self.totals.get(uuid, 0) + 1
            codes = self.by_code.setdefault(uuid, {})
            codes[xid] = codes.get(xid, 0) + 1
            self.version += 1

    def snapshot(self) -> tuple[dict[str, int], dict[str, dict[int, int]]]:
        with self._lock:
            return dict(self.totals), {u: dict(c) for u, c in self.by_code.items()}


class _RateLimit:
    def __init__(self, per_second: int = 5):
        self.per_second = per_second
        self.window = 0.0
        self.used = 0
        self.suppressed = 0

    def allow(self, now: float) -> bool:
        if now - self.window >= 1.0:
            if self.suppressed:
                kv(log, logging.WARNING, "xid log lines suppressed (event storm)", suppressed=self.suppressed)
            self.window, self.used, self.suppressed = now, 0, 0
        if self.used < self.per_second:
            self.used += 1
            return True
        self.suppressed += 1
        return False


class XidWatcher:
    """Registers the session's devices for XID events and counts what ``nvmlEventSetWait`` returns."""

    WAIT_MS = 500

    def __init__(
        self,
        nv,
        devices: list[Device],
        counters: XidCounters,
        on_change: Callable[[], None] = lambda: None,
        on_nvml_down: Callable[[str], None] = lambda e: None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.nv = nv
        self.clock = clock
        self.devices = devices
        self.counters = counters
        self.on_change = on_change
        self.on_nvml_down = on_nvml_down
        self.event_set = None
        self.registered: dict = {}  # handle key -> Device
        self.unsupported: set[int] = set()
        self.stop_flag = threading.Event()
        self.thread: threading.Thread | None = None
        self.events_seen = 0
        self._limit = _RateLimit()
        self._last_register = 0.0
        self._register_lock = threading.Lock()
        from .nvml import Codes

        self.codes = Codes(nv)

    def open(self) -> None:
        self.event_set = self.nv.nvmlEventSetCreate()
        self.register_missing()

    def register_missing(self) -> None:
        """Register devices not registered yet (called by the XID thread and by GPU readers)."""
        with self._register_lock:
            self._register_missing()

    def _register_missing(self) -> None:
        nv = self.nv
        self._last_register = time.monotonic()
        if self.event_set is None:
            return
        for dev in self.devices:
            if dev.handle is None or dev.index in self.unsupported:
                continue
            key = handle_key(dev.handle)
            if key in self.registered:
                continue
            try:
                nv.nvmlDeviceRegisterEvents(dev.handle, nv.nvmlEventTypeXidCriticalError, self.event_set)
            except nv.NVMLError as exc:
                code = getattr(exc, "value", None)
                if code in self.codes.not_supported:
                    self.unsupported.add(dev.index)
                    kv(log, logging.INFO, "xid events not supported", gpu=dev.index, uuid=dev.uuid)
                elif code in self.codes.nvml_down:
                    raise
                else:  # lost for now; try again later
                    kv(
                        log,
                        logging.DEBUG,
                        "cannot register for xid events yet",
                        gpu=dev.index,
                        error=error_name(exc),
                    )
                continue
            self.registered[key] = dev

    def run_once(self, timeout_ms: int | None = None) -> bool:
        """Wait for one event; True when one was counted. Raises the NVML error when NVML is down."""
        nv = self.nv
        try:
            data = nv.nvmlEventSetWait(self.event_set, self.WAIT_MS if timeout_ms is None else timeout_ms)
        except nv.NVMLError as exc:
            code = getattr(exc, "value", None)
            if code == self.codes.timeout:
                return False
            raise
        if not data.eventType & nv.nvmlEventTypeXidCriticalError:
            return False
        dev = self.registered.get(handle_key(data.device))
        if dev is None:
            return False
        xid = int(data.eventData)
        self.counters.add(dev.uuid, xid)
        self.events_seen += 1
        if xid == XID_FALLEN_OFF_BUS:
            dev.lost_at = self.clock()  # the exporter's clock, as snapshot times are
        if self._limit.allow(time.monotonic()):
            kv(log, logging.WARNING, "xid error", gpu=dev.index, uuid=dev.uuid, xid=xid)
        self.on_change()
        return True

    def _loop(self) -> None:
        try:
            self._loop_inner()
        finally:
            self._free()

    def _loop_inner(self) -> None:
        nv = self.nv
        while not self.stop_flag.is_set():
            try:
                self.run_once()
                if self.unregistered() and time.monotonic() - self._last_register > 5:
                    self.register_missing()
            except nv.NVMLError as exc:
                code = getattr(exc, "value", None)
                if code in self.codes.nvml_down:
                    if not self.stop_flag.is_set():
                        self.on_nvml_down(error_name(exc))
                    return
                kv(log, logging.WARNING, "waiting for xid events failed", error=error_name(exc))
                self.stop_flag.wait(1.0)
            except Exception:
                log.exception("xid thread error")
                self.stop_flag.wait(1.0)

    def unregistered(self) -> bool:
        return any(
            d.handle is not None
            and d.index not in self.unsupported
            and handle_key(d.handle) not in self.registered
            for d in self.devices
        )

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="xid-events", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Ask the thread to end (it frees the event set after its current wait, <= 0.5 s)."""
        self.stop_flag.set()
        if self.thread is None:
            self._free()

    def _free(self) -> None:
        es, self.event_set = self.event_set, None
        if es is not None:
            try:
                self.nv.nvmlEventSetFree(es)
            except Exception:  # noqa: BLE001 - NVML may already be gone
                pass
