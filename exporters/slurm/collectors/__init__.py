"""The exporter's collectors, one per module, registered by name in :data:`COLLECTORS`.

Importing this package only records the classes (no commands run). Each collector has
``collect(cycle) -> list[Metric]``; ``cycle`` (:class:`~gpuwatch.exporters.slurm.cycle.Cycle`)
runs each Slurm command at most once per collection cycle and shares the parsed result, so
collectors that read the same command cost slurmctld nothing extra.
"""

from ...common.collector import CollectorSet

COLLECTORS = CollectorSet("gpuwatch_slurm")

from . import fairshare, jobs, licenses, nodes, partitions, reservations, scheduler, users  # noqa: E402,F401  (registers them)

__all__ = ["COLLECTORS"]
