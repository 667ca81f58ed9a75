"""reservations: reservations, their size and time window (scontrol show reservation -o; opt-in)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from .base import COLLECTORS


@COLLECTORS.register(
    "reservations",
    default=False,
    help="Reservations, nodes, cores, start/end (scontrol)",
    needs=("reservations",),
)
class ReservationsCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        resv = cmds.reservations(cycle)
        info = family("gpuwatch_slurm_reservation_info")
        nodes = family("gpuwatch_slurm_reservation_nodes")
        cores = family("gpuwatch_slurm_reservation_cores")
        start = family("gpuwatch_slurm_reservation_start_timestamp_seconds")
        end = family("gpuwatch_slurm_reservation_end_timestamp_seconds")
        for r in sorted(resv, key=lambda x: x.name):
            info.add_metric([r.name, r.state, r.partition, r.flags], 1)
            nodes.add_metric([r.name], r.node_count)
            cores.add_metric([r.name], r.core_count)
            if r.start is not None:
                start.add_metric([r.name], r.start)
            if r.end is not None:
                end.add_metric([r.name], r.end)
        return [info, nodes, cores, start, end]
