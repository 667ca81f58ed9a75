"""The Slurm exporter's collector registry and what collectors declare they need."""

from __future__ import annotations

from collections.abc import Iterable

from ...common.collector import Collector, CollectorSet
from ..cycle import Cycle

COLLECTORS: CollectorSet[Collector[Cycle]] = CollectorSet("gpuwatch_slurm")


def commands_for(collectors: Iterable[str]) -> set[str]:
    """The distinct Slurm commands one cycle of ``collectors`` runs at most (their declared needs)."""
    return COLLECTORS.needs(collectors)
