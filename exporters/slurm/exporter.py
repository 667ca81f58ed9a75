"""Background collection: one thread runs a cycle every ``--slurm.poll-interval`` seconds and
renders the text exposition once; every scrape is served that cached text. Any number of
scrapers (HA Prometheus pairs, humans with curl) costs slurmctld exactly one cycle per interval,
and a scrape answers at once even while slurmctld hangs.

Staleness guard: the cached text is served only while it is current. When the last completed cycle
is older than ``stale_after`` (cycles keep raising, or the poller thread hangs), or before the
first cycle completes, a scrape gets the *degraded* body instead: ``gpuwatch_slurm_up 0``, every
``gpuwatch_slurm_collector_success`` 0, and the exporter's self-metrics (counters,
``gpuwatch_slurm_last_collection_timestamp_seconds`` of the last completed cycle); the Slurm series
are left out so Prometheus marks them stale rather than repeating old values. One line is logged
when the data goes stale and one when a cycle completes again. A poller thread that died is
restarted (``gpuwatch_slurm_poller_restarts_total``). ``/-/ready`` answers 200 only while the data
is current.

Default bound: ``max(3 x poll_interval, poll_interval + 2 x N x timeout)``, N the number of distinct
Slurm commands the enabled collectors run (3 for the defaults). A cycle that finishes runs each
command at most once, each within ``timeout``, so a healthy poller completes a cycle at least every
``max(poll_interval, N x timeout)``; the bound tolerates one such cycle lost on top.
"""

from __future__ import annotations

import functools
import logging
import threading
import time

from ..common.collector import CollectorRunner
from ..common.exposition import render_text
from ..common.log import kv
from ..common.metric import Families, MetricFamily
from .collectors import COLLECTORS, commands_for
from .cycle import Cycle
from .metrics import BY_NAME, family
from .parsers.common import ParseError
from .runner import CommandError, Runner

log = logging.getLogger("gpuwatch.slurm")
ERROR_KINDS = ("timeout", "command", "parse", "internal")
# How long a scrape waits for the first cycle before answering with gpuwatch_slurm_up 0: well inside
# Prometheus' default 10 s scrape timeout, whatever --slurm.timeout is.
FIRST_CYCLE_WAIT = 2.0


def default_stale_after(poll_interval: float, timeout: float, collectors: list[str]) -> float:
    """``max(3 x poll_interval, poll_interval + 2 x N x timeout)`` (see the module docstring)."""
    n = max(len(commands_for(collectors)), 1)
    return max(3 * poll_interval, poll_interval + 2 * n * timeout)


class Exporter:
    def __init__(
        self,
        collectors: list[str],
        runner: Runner,
        poll_interval: float = 30.0,
        stale_after: float | None = None,
        first_wait: float = FIRST_CYCLE_WAIT,
    ):
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
        self.stale_after = stale_after or default_stale_after(poll_interval, runner.timeout, collectors)
        self.first_wait = first_wait
        self.cycle_failures = 0  # cycles that raised (no new data)
        self.poller_restarts = 0
        self._started = time.monotonic()
        self._last_ok: float | None = None  # monotonic time the last cycle completed
        self._last_ok_wall: float | None = None
        self._stale = False  # guarded by _lock: for one log line per transition
        self._cycle: Cycle | None = None  # the cycle running now (its command is named when stale)
        self._thread_lock = threading.Lock()
        self._last_restart = 0.0
        self._death: str | None = None
        self._last_cycle_error: str | None = None

    # ---------------------------------------------------------------- one cycle
    def collect_once(self, now: float | None = None) -> bytes:
        start = time.monotonic()
        cycle = Cycle(self.runner, now)
        self._cycle = cycle
        families: list[MetricFamily] = []
        logged: set[int] = set()  # one log line per failed command, not one per collector sharing it
        specs = COLLECTORS.specs

        def run_one(name: str) -> list[MetricFamily]:
            cycle.used = set()
            cycle.declared = specs[name].needs
            families.extend(self.collectors[name].collect(cycle) or ())
            partial = cycle.partial_commands()
            if partial:
                # Output cut mid-line (or otherwise mangled) with exit status 0: what parsed is still
                # exported, but the collector did not see everything, so it must not claim success.
                raise ParseError(
                    partial[0],
                    "; ".join(
                        f"{cycle.bad_lines[c]} unparseable line(s) skipped in {c} output" for c in partial
                    )
                    + " (partial data exported)",
                )
            if name in self._last_failure:
                kv(log, logging.INFO, "collector recovered", collector=name)
                del self._last_failure[name]
            return []

        def on_error(name: str, exc: Exception) -> None:
            self._collector_failed(name, exc, logged)

        timings = CollectorRunner(on_error, clock=time.monotonic)
        for name in self.names:
            timings.run(name, functools.partial(run_one, name))
        cycle.declared = None
        stats = Families(BY_NAME)
        timings.add_to(stats, "gpuwatch_slurm", self.names)
        success = stats.family("gpuwatch_slurm_collector_success")
        duration = stats.family("gpuwatch_slurm_collector_duration_seconds")
        self.cycles += 1
        for cmd, lines in cycle.bad_lines.items():
            self.bad_lines[cmd] = self.bad_lines.get(cmd, 0) + lines
            kv(log, logging.DEBUG, "skipped unparseable output lines", command=cmd, lines=lines)
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
        wall = round(time.time(), 3)
        ts = family("gpuwatch_slurm_last_collection_timestamp_seconds")
        ts.add_metric([], wall)
        body = render_text(
            [up, total, success, duration, errs, bad, cmd_d, ncmd, cd, ts, *self._health_families()]
            + families
        )
        done = time.monotonic()
        with self._lock:
            self._body = body
            was_stale, self._stale = self._stale, False
            last = self._last_ok
            self._last_ok, self._last_ok_wall = done, wall
        self._cycle = None
        self._ready.set()
        if was_stale:
            kv(log, logging.INFO, "collection recovered", stale_for=f"{done - (last or self._started):.1f}s")
        return body

    def _health_families(self) -> list[MetricFamily]:
        failures = family("gpuwatch_slurm_collection_failures_total")
        failures.add_metric([], self.cycle_failures)
        restarts = family("gpuwatch_slurm_poller_restarts_total")
        restarts.add_metric([], self.poller_restarts)
        stale = family("gpuwatch_slurm_stale_after_seconds")
        stale.add_metric([], self.stale_after)
        return [failures, restarts, stale]

    def _degraded_body(self) -> bytes:
        """Served before the first cycle completes and while the last one is older than stale_after:
        up 0, collectors not successful, self-metrics only (no stale Slurm series)."""
        up = family("gpuwatch_slurm_up")
        up.add_metric([], 0)
        total = family("gpuwatch_slurm_collections_total")
        total.add_metric([], self.cycles)
        success = family("gpuwatch_slurm_collector_success")
        for name in self.names:
            success.add_metric([name], 0)
        errs = family("gpuwatch_slurm_collector_errors_total")
        for (n, k), v in sorted(self.errors.copy().items()):
            errs.add_metric([n, k], v)
        bad = family("gpuwatch_slurm_bad_lines_total")
        for cmd, v in sorted(self.bad_lines.copy().items()):
            bad.add_metric([cmd], v)
        fams: list[MetricFamily] = [up, total, success, errs, bad]
        if self._last_ok_wall is not None:
            ts = family("gpuwatch_slurm_last_collection_timestamp_seconds")
            ts.add_metric([], self._last_ok_wall)
            fams.append(ts)
        return render_text(fams + self._health_families())

    def _collector_failed(self, name: str, exc: Exception, logged: set[int]) -> None:
        """Count a collector failure by kind and log it (once per cause, see :meth:`_fail`)."""
        if isinstance(exc, CommandError):
            kind = "timeout" if exc.kind == "timeout" else "command"
            if exc.kind not in ("skipped", "cancelled"):  # cancelled: shutting down
                self.errors[(name, kind)] += 1
                self._fail(name, str(exc), exc, logged)
            else:  # the cause was already logged for the collector whose command found slurmctld away
                self._fail(name, str(exc), exc, logged, quiet=True)
        elif isinstance(exc, ParseError):
            self.errors[(name, "parse")] += 1
            self._fail(name, str(exc), exc, logged)
        else:  # a parser/collector bug on odd output must not stop the exporter
            self.errors[(name, "internal")] += 1
            log.debug("collector %s failed", name, exc_info=exc)
            self._fail(name, f"{type(exc).__name__}: {exc}", exc, logged)

    def _fail(
        self, name: str, message: str, exc: BaseException, logged: set[int], quiet: bool = False
    ) -> None:
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
        """The last cycle's text while it is current; else the degraded body (see module docstring).
        Before the first cycle ends, waits for it at most ``first_wait`` seconds."""
        if not self._ready.is_set():
            self._ready.wait(timeout=self.first_wait)
        if self.check():
            with self._lock:
                if self._body is not None and not self._stale:
                    return self._body
        return self._degraded_body()

    @property
    def check_interval(self) -> float:
        """How often the CLI's watchdog calls :meth:`check` (a stale cache is noticed within a quarter
        of ``stale_after``)."""
        return max(0.5, min(5.0, self.stale_after / 4))

    def ready(self) -> bool:
        """True while the served data is current: the first cycle completed and it is not stale."""
        return self.check()

    def check(self, now: float | None = None) -> bool:
        """Watchdog, called on every scrape and periodically by the CLI: restarts a dead poller
        thread, logs the transition to stale once. Returns True when the cached data is current."""
        now = time.monotonic() if now is None else now
        self._watch_thread(now)
        with self._lock:
            last = self._last_ok
            age = now - (last if last is not None else self._started)
            if age <= self.stale_after:
                return last is not None
            newly = not self._stale
            self._stale = True
        if newly:
            cycle = self._cycle
            running = cycle.running if cycle is not None else None
            alive = self._thread is not None and self._thread.is_alive()
            kv(
                log,
                logging.WARNING,
                "collection stale: serving gpuwatch_slurm_up 0",
                last_cycle_age=f"{age:.1f}s" if last is not None else "never",
                stale_after=f"{self.stale_after:g}s",
                poller="running" if alive else "stopped",
                running=running or "-",
                last_error=self._last_cycle_error or "-",
            )
        return False

    def _watch_thread(self, now: float) -> None:
        t = self._thread
        if t is None or t.is_alive() or self._stop.is_set():
            return
        with self._thread_lock:
            if self._thread is not t or now - self._last_restart < min(self.poll_interval, 10.0):
                return
            self._last_restart = now
            self.poller_restarts += 1
            kv(
                log,
                logging.ERROR,
                "poller thread died, restarting it",
                err=self._death or "unknown",
                restarts=self.poller_restarts,
            )
            self._spawn()

    def start(self) -> None:
        with self._thread_lock:
            self._spawn()

    def _spawn(self) -> None:
        # started before it is published: the watchdog never sees a not-yet-started thread as dead
        t = threading.Thread(target=self._run, name="slurm-poller", daemon=True)
        t.start()
        self._thread = t

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # noqa: B036 - recorded; the watchdog (check) restarts the thread
            self._death = f"{type(exc).__name__}: {exc}"
            log.debug("poller thread died", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self.runner.cancel()  # a command hanging now is killed, not waited out
        if self._thread is not None:
            self._thread.join(timeout=self.runner.timeout * 6 + 5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self.collect_once()
                self._last_cycle_error = None
            except Exception as exc:  # keep polling whatever happens; one line while the error repeats
                self.cycle_failures += 1
                self._cycle = None
                msg = f"{type(exc).__name__}: {exc}"
                if msg != self._last_cycle_error:
                    kv(log, logging.ERROR, "collection cycle failed", err=msg)
                    log.debug("collection cycle failed", exc_info=True)
                else:
                    log.debug("collection cycle failed again: %s", msg)
                self._last_cycle_error = msg
            elapsed = time.monotonic() - t0
            self._stop.wait(max(self.poll_interval - elapsed, 0.05))
