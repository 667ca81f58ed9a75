"""The exporter's collectors, one per module, registered by name in :data:`COLLECTORS`.

Importing this package only records the classes (no commands run). Each collector declares the
Slurm commands it runs (``needs``) and has ``collect(cycle) -> list[MetricFamily]``; ``cycle``
(:class:`~gpuwatch.exporters.slurm.cycle.Cycle`) runs each Slurm command at most once per
collection cycle and shares the parsed result, so collectors that read the same command cost
slurmctld nothing extra.
"""

from . import fairshare, jobs, licenses, nodes, partitions, reservations, scheduler, users  # noqa: F401  (registration)
from .base import COLLECTORS, commands_for

__all__ = ["COLLECTORS", "commands_for"]
