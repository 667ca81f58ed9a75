"""One collection cycle: runs each Slurm command at most once and shares its parsed output.

Commands (and the slurmctld RPCs they cost, measured with ``sdiag -r`` / ``sdiag``):

============  =====================================================  =============================
name          command                                                RPCs
============  =====================================================  =============================
sinfo         ``sinfo --all --Node -h --Format ...``                  NODE_INFO + PARTITION_INFO
squeue        ``squeue --all --states=all -h --Format ...``           JOB_INFO + PARTITION_INFO
sdiag         ``sdiag``                                               STATS_INFO
sshare        ``sshare -a -P``                                        SHARE_INFO (fairshare, opt-in)
licenses      ``scontrol show licenses -o``                           LICENSE_INFO (opt-in)
reservations  ``scontrol show reservation -o``                        RESERVATION_INFO (opt-in)
============  =====================================================  =============================

Default collectors (nodes, partitions, jobs, scheduler) therefore cost 5 RPCs per cycle: nodes
and partitions share sinfo, jobs (and the opt-in users collector) share squeue.

Once a command finds slurmctld unreachable (timeout, connection refused), the cycle's remaining
commands are not run: their collectors fail at once instead of each waiting out the timeout
against a controller that is not answering.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .runner import CommandError, Runner


class Cycle:
    def __init__(self, runner: Runner, now: float | None = None):
        self.runner = runner
        self.now = time.time() if now is None else now
        self._cache: dict[str, tuple[Any, BaseException | None]] = {}
        self.unreachable: CommandError | None = None
        self.answered = 0  # commands that got an answer from slurmctld
        self.durations: dict[str, float] = {}
        self.bad_lines: dict[str, int] = {}
        self.running: str | None = None  # the command being run now (named in the staleness log line)
        self.used: set[str] = set()  # commands the collector running now asked for (the exporter resets it)
        # commands the collector running now declared (its ``needs``); None: not checked (tests)
        self.declared: frozenset[str] | None = None

    def fetch(self, name: str, argv: list[str], parse: Callable[[str], Any]) -> Any:
        """Run ``argv`` once per cycle (by ``name``) and return ``parse(stdout)``; errors are cached too."""
        if self.declared is not None and name not in self.declared:
            # the staleness bound counts declared commands: an undeclared one would make it wrong
            raise RuntimeError(
                f"command {name} not among the collector's declared needs {sorted(self.declared)}"
            )
        self.used.add(name)
        if name in self._cache:
            value, err = self._cache[name]
            if err is not None:
                raise err
            return value
        if self.unreachable is not None:
            err = CommandError(
                name,
                f"not run: slurmctld did not answer {self.unreachable.command} in this cycle",
                unreachable=True,
                kind="skipped",
            )
            self._cache[name] = (None, err)
            raise err
        self.running = name
        try:
            res = self.runner.run(argv)
        except CommandError as exc:
            if exc.unreachable:
                self.unreachable = exc
            self._cache[name] = (None, exc)
            raise
        finally:
            self.running = None
        self.answered += 1
        self.durations[name] = res.duration
        try:
            value = parse(res.stdout)
        except Exception as exc:  # ParseError, or a parser bug on odd input: same treatment
            self._cache[name] = (None, exc)
            raise
        self._cache[name] = (value, None)
        return value

    def cached(self, name: str) -> Any | None:
        """The parsed result of ``name`` if it already ran successfully in this cycle (never runs it)."""
        value, err = self._cache.get(name, (None, None))
        return value if err is None else None

    def partial_commands(self) -> list[str]:
        """Commands used by the collector running now whose output had unparseable lines."""
        return sorted(c for c in self.used if self.bad_lines.get(c))

    def note_bad_lines(self, command: str, n: int) -> None:
        if n:
            self.bad_lines[command] = self.bad_lines.get(command, 0) + n


# --- the commands, defined once -----------------------------------------------------------------


def sinfo(cycle: Cycle):
    from .parsers.sinfo import parse_sinfo, sinfo_argv

    res = cycle.fetch("sinfo", sinfo_argv(), parse_sinfo)
    if "sinfo" not in cycle.bad_lines and res.bad_lines:
        cycle.note_bad_lines("sinfo", res.bad_lines)
    return res


def squeue(cycle: Cycle):
    from .parsers.squeue import parse_squeue, squeue_argv

    jobs, bad = cycle.fetch("squeue", squeue_argv(), parse_squeue)
    if "squeue" not in cycle.bad_lines and bad:
        cycle.note_bad_lines("squeue", bad)
    return jobs


def sdiag(cycle: Cycle):
    from .parsers.sdiag import parse_sdiag

    return cycle.fetch("sdiag", ["sdiag"], parse_sdiag)


def sshare(cycle: Cycle):
    from .parsers.sshare import parse_sshare

    return cycle.fetch("sshare", ["sshare", "-a", "-P"], parse_sshare)


def licenses(cycle: Cycle):
    from .parsers.scontrol import parse_licenses

    return cycle.fetch("licenses", ["scontrol", "show", "licenses", "-o"], parse_licenses)


def reservations(cycle: Cycle):
    from .parsers.scontrol import parse_reservations

    return cycle.fetch("reservations", ["scontrol", "show", "reservation", "-o"], parse_reservations)
