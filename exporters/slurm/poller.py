"""Background collection: one thread runs a cycle every ``--slurm.poll-interval`` seconds and
renders the text exposition once; every scrape is served that cached text. Any number of
scrapers (HA Prometheus pairs, humans with curl) costs slurmctld exactly one cycle per interval,
and a scrape answers at once even while slurmctld hangs.
"""

from __future__ import annotations

import logging
import threading
import time

from ..common.log import kv
from ..common.render import render_families
from .render import render_text
from .collectors import COLLECTORS
from .cycle import Cycle
from .metrics import family
from .parsers.common import ParseError
from .runner import CommandError, Runner

log = logging.getLogger("gpuwatch.slurm")
ERROR_KINDS = ("timeout", "command", "parse", "internal")


class Exporter:
    def __init__(self, collectors: list[str], runner: Runner, poll_interval: float = 30.0):
        specs = COLLECTORS.specs
        self.names = sorted(collectors)
        self.collectors = {n: specs[n].factory() for n in self.names}
        self.runner = runner
        self.poll_interval = poll_interval
        self.cycles = 0
        self.errors = {(n, k): 0 for n in self.names for k in ERROR_KINDS}
        self.bad_lines: dict[str, int] = {}
        self._body: bytes | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_failure: dict[str, str] = {}

    # ---------------------------------------------------------------- one cycle
    def collect_once(self, now: float | None = None) -> bytes:
        start = time.monotonic()
        cycle = Cycle(self.runner, now)
        families = []
        logged: set[int] = set()  # one log line per failed command, not one per collector sharing it
        success = family("gpuwatch_slurm_collector_success")
        duration = family("gpuwatch_slurm_collector_duration_seconds")
        for name in self.names:
            t0 = time.monotonic()
            ok = 1
            try:
                families.extend(self.collectors[name].collect(cycle))
                if name in self._last_failure:
                    kv(log, logging.INFO, "collector recovered", collector=name)
                    del self._last_failure[name]
            except CommandError as exc:
                ok = 0
                kind = "timeout" if exc.kind in ("timeout",) else "command"
                if exc.kind != "skipped":
                    self.errors[(name, kind)] += 1
                    self._fail(name, str(exc), exc, logged)
                else:  # the cause was already logged for the collector whose command found slurmctld away
                    self._fail(name, str(exc), exc, logged, quiet=True)
            except ParseError as exc:
                ok = 0
                self.errors[(name, "parse")] += 1
                self._fail(name, str(exc), exc, logged)
            except Exception as exc:  # a parser/collector bug on odd output must not stop the exporter
                ok = 0
                self.errors[(name, "internal")] += 1
                log.debug("collector %s failed", name, exc_info=True)
                self._fail(name, f"{type(exc).__name__}: {exc}", exc, logged)
            success.add_metric([name], ok)
            duration.add_metric([name], round(time.monotonic() - t0, 6))
        self.cycles += 1
        for cmd, n in cycle.bad_lines.items():
            self.bad_lines[cmd] = self.bad_lines.get(cmd, 0) + n
            kv(log, logging.WARNING, "skipped unparseable output lines", command=cmd, lines=n)
        up = family("gpuwatch_slurm_up")
        # 0 only when slurmctld did not answer (timeout, connection refused) or nothing answered.
        up.add_metric([], 0 if (cycle.unreachable is not None or (cycle.answered == 0 and self.names)) else 1)
        total = family("gpuwatch_slurm_collections_total")
        total.add_metric([], self.cycles)
        errs = family("gpuwatch_slurm_collector_errors_total")
        for (n, k), v in sorted(self.errors.items()):
            errs.add_metric([n, k], v)
        bad = family("gpuwatch_slurm_bad_lines_total")
        for cmd in ("sinfo", "squeue"):
            self.bad_lines.setdefault(cmd, 0)
        for cmd, v in sorted(self.bad_lines.items()):
            bad.add_metric([cmd], v)
        cmd_d = family("gpuwatch_slurm_command_duration_seconds")
        for cmd, d in sorted(cycle.durations.items()):
            cmd_d.add_metric([cmd], round(d, 6))
        ncmd = family("gpuwatch_slurm_commands")
        ncmd.add_metric([], len(cycle.durations) + (1 if cycle.unreachable else 0))
        cd = family("gpuwatch_slurm_collection_duration_seconds")
        cd.add_metric([], round(time.monotonic() - start, 6))
        ts = family("gpuwatch_slurm_last_collection_timestamp_seconds")
        ts.add_metric([], round(time.time(), 3))
        body = render_text([up, total, success, duration, errs, bad, cmd_d, ncmd, cd, ts] + families)
        with self._lock:
            self._body = body
        self._ready.set()
        return body

    def _fail(self, name: str, message: str, exc: BaseException, logged: set[int], quiet: bool = False) -> None:
        """Log a collector failure once: not again for another collector sharing the failed command
        in this cycle, and at debug level while the same error repeats cycle after cycle."""
        if quiet or id(exc) in logged:  # reported once for this cycle already
            log.debug("collector %s failed: %s", name, message)
            return
        logged.add(id(exc))
        repeat = self._last_failure.get(name) == message
        self._last_failure[name] = message
        if repeat:
            log.debug("collector %s failed: %s", name, message)
            return
        kv(log, logging.WARNING, "collector failed", collector=name, err=message)

    # ---------------------------------------------------------------- serving
    def render(self) -> bytes:
        """The last cycle's text; before the first cycle ends, waits for it (bounded)."""
        if not self._ready.is_set():
            self._ready.wait(timeout=self.runner.timeout * 3 + 5)
        with self._lock:
            if self._body is not None:
                return self._body
        up = family("gpuwatch_slurm_up")
        up.add_metric([], 0)
        return render_families([up])

    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="slurm-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.runner.timeout * 6 + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.collect_once()
            except Exception:  # keep polling whatever happens
                log.exception("collection cycle failed")
            elapsed = time.monotonic() - t0
            self._stop.wait(max(self.poll_interval - elapsed, 0.05))
