"""Collectors: the one interface, registration by name, and the runner that times them.

Each exporter owns one :class:`CollectorSet`. A collector module registers its class by name,
in the style of node_exporter, and declares what it needs from its exporter::

    COLLECTORS = CollectorSet("gpuwatch_slurm")

    @COLLECTORS.register("nodes", default=True, help="Node states, CPUs, GPUs and memory", needs=("sinfo",))
    class NodesCollector(Collector):
        def collect(self, source): ...

``needs`` is what the exporter must provide: for the Slurm exporter the commands the collector
runs (the staleness bound is derived from them, and a cycle refuses a command its collector did
not declare), for the GPU exporter the stages it runs in (per GPU read, node cycle, render).

Registration only records the class: no work happens at import or registration time. The
command line gets ``--collector.NAME`` / ``--no-collector.NAME`` for every entry.
:class:`CollectorRunner` runs collectors, times each and keeps the success/duration that become
``<namespace>_collector_success{collector}`` and ``<namespace>_collector_duration_seconds{collector}``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .metric import Families, MetricFamily

S = TypeVar("S")


class CollectorError(Exception):
    """A collector could not produce all its metrics (bad input, command failure, ...).

    ``families`` are those it could still build: exported, while the collector reports failure
    (e.g. XID counters at 0 for a GPU whose events cannot be watched)."""

    def __init__(self, message: str, families: Iterable[MetricFamily] = ()) -> None:
        super().__init__(message)
        self.families = list(families)


class Collector(Generic[S]):
    """One collector. ``collect(source)`` returns fresh families built from ``source``, which the
    exporter provides (a Slurm :class:`~gpuwatch.exporters.slurm.cycle.Cycle`, a GPU read, ...).
    It raises to report failure; families it returned before are still exported."""

    name = "?"  # set by CollectorSet.register

    def collect(self, source: S) -> Iterable[MetricFamily] | None:
        raise NotImplementedError

    def reset(self, key: Any) -> None:
        """Forget state kept for ``key`` (the GPU exporter: a device whose NVML handle was renewed)."""


C = TypeVar("C", bound=Collector[Any])


@dataclass(frozen=True)
class CollectorSpec(Generic[C]):
    name: str
    factory: type[C]
    default_enabled: bool
    help: str
    needs: frozenset[str] = frozenset()


class CollectorSet(Generic[C]):
    """The collectors of one exporter (all subclasses of ``C``), by name."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self._specs: dict[str, CollectorSpec[C]] = {}

    def register(
        self, name: str, *, default: bool = True, help: str = "", needs: Iterable[str] = ()
    ) -> Callable[[type[C]], type[C]]:
        def deco(cls: type[C]) -> type[C]:
            if name in self._specs:
                raise ValueError(f"collector {name!r} registered twice")
            cls.name = name
            self._specs[name] = CollectorSpec(name, cls, default, help, frozenset(needs))
            return cls

        return deco

    @property
    def specs(self) -> dict[str, CollectorSpec[C]]:
        return dict(sorted(self._specs.items()))

    def needs(self, names: Iterable[str]) -> set[str]:
        """Everything the collectors ``names`` declared they need, together."""
        out: set[str] = set()
        for n in names:
            out |= self._specs[n].needs
        return out

    def add_flags(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("collectors")
        for spec in self.specs.values():
            state = "enabled" if spec.default_enabled else "disabled"
            group.add_argument(
                f"--collector.{spec.name}",
                dest=f"collector_{spec.name}",
                action=argparse.BooleanOptionalAction,
                default=spec.default_enabled,
                help=f"{spec.help} (default: {state})",
            )

    def enabled(self, args: argparse.Namespace) -> list[str]:
        return [name for name in self.specs if getattr(args, f"collector_{name}")]

    def enabled_from(self, names: Iterable[str] | None = None) -> list[str]:
        """Names given explicitly (tests) or the defaults."""
        if names is None:
            return [n for n, s in self.specs.items() if s.default_enabled]
        unknown = sorted(set(names) - set(self._specs))
        if unknown:
            raise ValueError(f"unknown collector(s): {', '.join(unknown)}")
        return sorted(names)


class CollectorRunner:
    """Runs collectors, timing each; keeps per-collector success (all runs succeeded) and duration
    (summed over runs) until :meth:`add_to` writes them as the exporter's self-metrics.

    ``on_error(name, exc)`` is called for a failed run (logging, error counters); exceptions in
    ``passthrough`` are not the collector's failure (the GPU went away): the run counts as a
    success and the exception propagates to the exporter.
    """

    def __init__(
        self,
        on_error: Callable[[str, Exception], None],
        passthrough: tuple[type[BaseException], ...] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.on_error = on_error
        self.passthrough = passthrough
        self.clock = clock
        self.success: dict[str, bool] = {}
        self.seconds: dict[str, float] = {}

    def record(self, name: str, ok: bool, seconds: float) -> None:
        self.success[name] = self.success.get(name, True) and ok
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def merge(self, other: CollectorRunner) -> None:
        for name in other.success:
            self.record(name, other.success[name], other.seconds[name])

    def run(self, name: str, call: Callable[[], Iterable[MetricFamily] | None]) -> list[MetricFamily]:
        """``call()``'s families; on failure those a :class:`CollectorError` carries, else none."""
        t0 = self.clock()
        try:
            fams = list(call() or ())
        except self.passthrough:
            self.record(name, True, self.clock() - t0)
            raise
        except Exception as exc:  # noqa: BLE001 - a collector bug on odd input must not stop the exporter
            self.record(name, False, self.clock() - t0)
            self.on_error(name, exc)
            return exc.families if isinstance(exc, CollectorError) else []
        self.record(name, True, self.clock() - t0)
        return fams

    def add_to(self, out: Families, namespace: str, names: Iterable[str] | None = None) -> None:
        """``<namespace>_collector_success`` and ``_duration_seconds`` for ``names`` (default: every run)."""
        success = out.family(f"{namespace}_collector_success")
        duration = out.family(f"{namespace}_collector_duration_seconds")
        for name in sorted(self.success) if names is None else names:
            success.add_metric((name,), 1.0 if self.success[name] else 0.0)
            duration.add_metric((name,), round(self.seconds[name], 6))
