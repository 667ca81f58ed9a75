"""The GPU exporter's engine: NVML session, per-GPU readers, XID thread, snapshot, rendering.

Background snapshot, not read-on-scrape: one reader thread per GPU reads it every
``interval`` seconds into that GPU's snapshot; a scrape only joins the latest snapshots (and
re-renders only when something changed). A GPU whose latest read started more than
``max_age`` seconds ago (its reader is stuck in NVML) is reported ``gpuwatch_gpu_up 0`` with
only its info and counters, so a scrape never waits on NVML and data are never older than
``max_age`` (5 s by default).

``threaded=False`` gives the same behaviour driven by :meth:`GpuExporter.collect_once`, for tests.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..common.collector import CollectorRunner
from ..common.exposition import DECLARED, render_text, sample_lines
from ..common.log import kv
from ..common.metric import Families
from .collectors import COLLECTORS, GpuCollector, GpuRead, NodeCycle, Options, View
from .metrics import DEFS
from .nvml import Backoff, Device, ErrorCounter, GpuDown, NvmlDown, Session, error_name
from .xid_watcher import XidCounters, XidWatcher

log = logging.getLogger("gpuwatch.gpu")


def _no_errors(name: str, exc: Exception) -> None:
    pass


@dataclass
class GpuSnapshot:
    ok: bool
    started: float
    finished: float
    error: str = ""
    text: dict[str, str] = field(default_factory=dict)  # metric name -> formatted sample lines
    extras: dict[str, Any] = field(default_factory=dict)
    stats: CollectorRunner = field(default_factory=lambda: CollectorRunner(_no_errors))
    generation: int = 0


class GpuExporter:
    def __init__(
        self,
        load_nvml: Callable[[], ModuleType],
        collectors: list[str] | None = None,
        options: Options | None = None,
        *,
        interval: float = 2.0,
        max_age: float = 5.0,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
        threaded: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.load_nvml = load_nvml
        self.options = options or Options()
        names = COLLECTORS.enabled_from(collectors)
        specs = COLLECTORS.specs
        self.collectors: list[GpuCollector] = [specs[n].factory(self.options) for n in names]
        stage = {
            s: [c for c in self.collectors if s in specs[c.name].needs] for s in ("gpu", "node", "render")
        }
        self.gpu_collectors, self.node_collectors, self.render_collectors = (
            stage["gpu"],
            stage["node"],
            stage["render"],
        )
        self.xid_enabled = "xid" in names
        self.interval, self.max_age = interval, max_age
        self.threaded = threaded
        self.clock = clock
        self.backoff = Backoff(retry_min, retry_max, clock)
        self.errors = ErrorCounter()
        self.xid = XidCounters()
        self.lock = threading.RLock()
        self.nv: ModuleType | None = None
        self.session: Session | None = None
        self.known: dict[int, Device] = {}
        self.devices: list[Device] = []
        self.snapshots: dict[int, GpuSnapshot] = {}
        self.node_stats = CollectorRunner(_no_errors)
        self.nvml_up = False
        self.init_at = 0.0
        self.driver_version = ""  # kept while NVML is down so the info series does not change
        self.generation = 0
        self.collections = 0
        self.version = 0
        self.watcher: XidWatcher | None = None
        self._last_init_error = ""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._manager: threading.Thread | None = None
        self._cache_key: tuple[int, int, tuple[bool | None, ...]] | None = None
        self._cache_body = b""

    # --- NVML lifecycle ---------------------------------------------------------------------

    def _try_init(self) -> None:
        if not self.backoff.ready():
            return
        try:
            if self.nv is None:
                self.nv = self.load_nvml()
            session = Session(self.nv, self.known, self.errors)
            gen = self.generation + 1
            try:
                session.open(gen)
            except BaseException:
                session.close()
                raise
        except ImportError as exc:
            self._init_failed("ModuleNotFound", f"python module pynvml not importable: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - NVMLError of whichever module, or odd failures
            nvml_error = self.nv is not None and isinstance(exc, self.nv.NVMLError)
            name = error_name(exc) if nvml_error else type(exc).__name__
            self._init_failed(name, str(exc) if not nvml_error else name)
            return
        with self.lock:
            self.generation = gen
            self.session = session
            self.devices = session.devices
            self.nvml_up = True
            self.init_at = self.clock()
            self.driver_version = session.driver_version or self.driver_version
            self.version += 1
            for c in self.collectors:
                for dev in self.devices:
                    c.reset(dev)
            for dev in self.devices:
                if dev.uuid:
                    self.xid.ensure(dev.uuid)
        self.backoff.succeeded()
        self._last_init_error = ""
        kv(
            log,
            logging.INFO,
            "nvml initialised",
            driver_version=session.driver_version,
            gpus=len(self.devices),
            simulated=bool(getattr(self.nv, "SIMULATED", False)),
        )
        if self.threaded:
            self._threads = [t for t in self._threads if t.is_alive()]
            for dev in self.devices:
                t = threading.Thread(
                    target=self._reader_loop, args=(dev, gen), name=f"gpu{dev.index}", daemon=True
                )
                t.start()
                self._threads.append(t)
        if self.xid_enabled:
            self._start_watcher(session, gen)

    def _init_failed(self, name: str, detail: str) -> None:
        self.errors.add(name)
        delay = self.backoff.failed()
        with self.lock:
            self.version += 1
        if detail != self._last_init_error:  # one line per new kind of failure, not one per retry
            kv(
                log,
                logging.ERROR,
                "nvml init failed; serving gpuwatch_nvml_up 0 and retrying",
                error=detail,
                retry_in=f"{delay:g}s",
            )
            self._last_init_error = detail
        else:
            kv(log, logging.DEBUG, "nvml init failed again", error=detail, retry_in=f"{delay:g}s")

    def _start_watcher(self, session: Session, gen: int) -> None:
        def down(err: str) -> None:
            self._nvml_failed(gen, err)

        watcher = XidWatcher(
            session.nv, session.devices, self.xid, on_change=self._bump, on_nvml_down=down, clock=self.clock
        )
        try:
            watcher.open()
        except Exception as exc:  # noqa: BLE001 - without events the readers still report
            kv(log, logging.WARNING, "xid events unavailable", error=error_name(exc))
            watcher.stop()
            return
        self.watcher = watcher
        self._bump()
        if self.threaded:
            watcher.start()

    def _nvml_failed(self, gen: int, err: str) -> None:
        with self.lock:
            if gen != self.generation or not self.nvml_up:
                return
            self.nvml_up = False
            self.generation += 1  # readers of the old session stop
            session, self.session = self.session, None
            watcher, self.watcher = self.watcher, None
            self.version += 1
        kv(log, logging.ERROR, "nvml stopped answering; re-initialising with backoff", error=err)
        if watcher is not None:
            watcher.stop()
        if session is not None:
            session.close()
        self.backoff.failed()

    def _bump(self) -> None:
        with self.lock:
            self.version += 1

    # --- reading ----------------------------------------------------------------------------

    def read_gpu(self, dev: Device, gen: int) -> None:
        started = self.clock()
        snap = GpuSnapshot(ok=False, started=started, finished=started, generation=gen)
        families = Families(DEFS)
        session = self.session
        try:
            if dev.handle is None:
                if session is None or not session.discover(dev):
                    raise GpuDown("NoHandle")
                if dev.uuid:
                    self.xid.ensure(dev.uuid)
                if self.watcher is not None:
                    self.watcher.register_missing()

            def on_error(name: str, exc: Exception) -> None:
                kv(
                    log,
                    logging.ERROR,
                    "collector failed",
                    collector=name,
                    gpu=dev.index,
                    error=f"{type(exc).__name__}: {exc}",
                )
                log.debug("collector traceback", exc_info=exc)

            snap.stats = CollectorRunner(on_error, passthrough=(GpuDown, NvmlDown))
            read = GpuRead(dev, snap.extras)
            for c in self.gpu_collectors:
                for fam in snap.stats.run(c.name, functools.partial(c.collect, read)):
                    families.family(fam.name).rows.extend(fam.rows)
            snap.ok = True
        except GpuDown as exc:
            snap.error = exc.error
            if dev.handle is not None:
                kv(log, logging.DEBUG, "gpu read failed", gpu=dev.index, uuid=dev.uuid, error=exc.error)
        except NvmlDown as exc:
            snap.error = exc.error
            self._nvml_failed(gen, exc.error)
        except Exception as exc:
            if self.nv is not None and isinstance(exc, self.nv.NVMLError):
                snap.error = error_name(exc)
                self._nvml_failed(gen, snap.error)
            else:
                raise
        if snap.ok:  # formatted here, in the reader, so that a scrape only joins text
            snap.text = {f.name: sample_lines(f.definition, f.rows, DECLARED) for f in families}
        snap.finished = self.clock()
        with self.lock:
            if gen != self.generation:
                return
            prev = self.snapshots.get(dev.index)
            if prev is not None and prev.ok != snap.ok:
                kv(
                    log,
                    logging.WARNING if not snap.ok else logging.INFO,
                    "gpu down" if not snap.ok else "gpu up again",
                    gpu=dev.index,
                    uuid=dev.uuid,
                    error=snap.error or None,
                )
            self.snapshots[dev.index] = snap
            self.version += 1

    def _reader_loop(self, dev: Device, gen: int) -> None:
        while not self._stop.is_set() and gen == self.generation:
            t0 = time.monotonic()
            try:
                self.read_gpu(dev, gen)
            except Exception:
                log.exception("gpu reader failed")
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def _node_cycle(self) -> None:
        def on_error(name: str, exc: Exception) -> None:
            kv(log, logging.ERROR, "collector failed", collector=name, error=f"{type(exc).__name__}: {exc}")

        stats = CollectorRunner(on_error)
        source = NodeCycle(self.options)
        for c in self.node_collectors:
            stats.run(c.name, functools.partial(c.collect, source))
        self.node_stats = stats

    def collect_once(self) -> None:
        """One cycle: init if needed, node collectors, and (unthreaded) every GPU."""
        if not self.nvml_up:
            self._try_init()
        if self.nvml_up:
            self._node_cycle()
            if not self.threaded:
                gen = self.generation
                for dev in list(self.devices):
                    if gen != self.generation:
                        break
                    self.read_gpu(dev, gen)
        with self.lock:
            self.collections += 1
            self.version += 1

    def _manager_loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.collect_once()
            except Exception:
                log.exception("collection cycle failed")
            wait = self.interval - (time.monotonic() - t0)
            if not self.nvml_up:
                wait = min(wait, max(0.05, self.backoff.next_at - self.clock()))
            self._stop.wait(max(0.05, wait))

    def start(self) -> None:
        """Start the manager thread (init, retries, node collectors) and, after init, readers."""
        t = threading.Thread(target=self._manager_loop, name="gpu-manager", daemon=True)
        t.start()
        self._manager = t
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            self.generation += 1
            watcher, self.watcher = self.watcher, None
            session, self.session = self.session, None
            self.nvml_up = False
        if watcher is not None:
            watcher.stop()
            if watcher.thread is not None:
                watcher.thread.join(timeout=2)
        deadline = time.monotonic() + 2  # a reader stuck in NVML is a daemon thread: do not wait for it long
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        if session is not None:
            session.close()

    def ready(self) -> bool:
        """Ready once the first collection cycle has run (NVML up or not)."""
        return self.collections > 0

    check_interval = 5.0

    def check(self) -> bool:
        """The CLI's watchdog: restarts the manager thread should it have died (it catches every
        error of a cycle, so only a bug in the loop itself can end it). True when ready."""
        manager = self._manager
        if manager is not None and not manager.is_alive() and not self._stop.is_set():
            kv(log, logging.ERROR, "collection thread died, restarting it")
            self.start()
        return self.ready()

    # --- rendering --------------------------------------------------------------------------

    def _gpu_up(self, dev: Device, snap: GpuSnapshot | None, now: float) -> bool | None:
        """True/False, or None while a GPU's first read after NVML init is still under way."""
        fresh = snap is not None and snap.generation == self.generation
        enumerated = any(d is dev for d in self.devices)
        if self.nvml_up and enumerated and not fresh and now - self.init_at < self.max_age:
            return None
        if snap is None or not fresh or not snap.ok or not self.nvml_up:
            return False
        if now - snap.started > self.max_age:
            return False
        return not (dev.lost_at is not None and snap.started <= dev.lost_at)

    def render(self) -> bytes:
        now = self.clock()
        with self.lock:
            devices = list(self.known[i] for i in sorted(self.known))
            snapshots = dict(self.snapshots)
            up = tuple(self._gpu_up(d, snapshots.get(d.index), now) for d in devices)
            key = (self.version, self.xid.version, up)
            if key == self._cache_key:
                return self._cache_body
        body = self._render(devices, snapshots, up)
        with self.lock:
            self._cache_key, self._cache_body = key, body
        return body

    def _render(self, devices: list[Device], snapshots: dict[int, GpuSnapshot], up: tuple) -> bytes:
        node = Families(DEFS)  # series not pre-formatted by a GPU reader
        node.add("gpuwatch_nvml_up", (), 1.0 if self.nvml_up else 0.0)
        if self.options.hourly_cost_usd is not None:
            node.add("gpuwatch_node_hourly_cost_usd", (), self.options.hourly_cost_usd)
        driver = self.driver_version
        fragments: dict[str, list[str]] = {}
        live = []

        def on_error(name: str, exc: Exception) -> None:
            kv(log, logging.DEBUG, "collector failed at render", collector=name, error=str(exc))

        stats = CollectorRunner(on_error)
        for dev, is_up in zip(devices, up):
            if not dev.uuid:
                if is_up is not None:
                    node.add("gpuwatch_gpu_up", dev.labels, 0.0)
                continue
            minor = "" if dev.minor is None else str(dev.minor)
            node.add("gpuwatch_gpu_info", dev.labels + (dev.name, dev.pci_bus_id, minor, driver), 1.0)
            if is_up is not None:  # None: first read after init still under way
                node.add("gpuwatch_gpu_up", dev.labels, 1.0 if is_up else 0.0)
            snap = snapshots.get(dev.index)
            if snap is not None and snap.generation == self.generation:
                node.add(
                    "gpuwatch_gpu_read_duration_seconds", dev.labels, round(snap.finished - snap.started, 6)
                )
                stats.merge(snap.stats)
                if is_up:
                    for name, text in snap.text.items():
                        fragments.setdefault(name, []).append(text)
                    live.append(dev)
        unwatched: frozenset[int] = frozenset()
        if self.xid_enabled and self.nvml_up:
            watcher = self.watcher
            present = {d.index for d in self.devices if d.uuid}
            unwatched = frozenset(present if watcher is None else present & set(watcher.unsupported))
        view = View(
            devices=[d for d in devices if d.uuid],
            extras={d.index: snapshots[d.index].extras for d in live},
            xid=self.xid,
            xid_unwatched=unwatched,
        )
        for c in self.render_collectors:
            for fam in stats.run(c.name, functools.partial(c.collect, view)):
                node.family(fam.name).rows.extend(fam.rows)
        stats.merge(self.node_stats)
        stats.add_to(node, "gpuwatch_gpu")
        node.add("gpuwatch_gpu_collections_total", (), float(self.collections))
        for name, n in sorted(self.errors.snapshot().items()):
            node.add("gpuwatch_nvml_errors_total", (name,), float(n))
        for name, frags in fragments.items():
            node.family(name).text.extend(frags)
        return render_text(node, DECLARED)
