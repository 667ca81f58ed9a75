"""The exporter's collectors, one per module, registered by name in :data:`COLLECTORS`.

Importing this package only records the classes (no commands run). Each collector declares the
Slurm commands it runs (``needs``) and has ``collect(cycle) -> list[MetricFamily]``; ``cycle`` (:class:`~gpuwatch.exporters.slurm.cycle.Cycle`)
runs each Slurm command at most once per collection cycle and shares the parsed result, so
collectors that read the same command cost slurmctld nothing extra.
"""

from collections.abc import Iterable

from ...common.collector import CollectorSet

COLLECTORS = CollectorSet("gpuwatch_slurm")

from . import fairshare, jobs, licenses, nodes, partitions, reservations, scheduler, users  # noqa: E402,F401  (registers them)


def commands_for(collectors: Iterable[str]) -> set[str]:
    """The distinct Slurm commands one cycle of ``collectors`` runs at most (their declared needs)."""
    return COLLECTORS.needs(collectors)


__all__ = ["COLLECTORS", "commands_for"]
