"""partitions: state, default flag, MaxTime, and node/CPU/GPU totals per partition (shared sinfo)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from ..parsers.states import BASE_STATES
from .base import COLLECTORS
from .nodes import gpu_split

PARTITION_STATES = ("up", "down", "drain", "inact")


@COLLECTORS.register(
    "partitions",
    default=True,
    help="Partition state, limits and node/CPU/GPU totals (sinfo)",
    needs=("sinfo",),
)
class PartitionsCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        data = cmds.sinfo(cycle)
        info = family("gpuwatch_slurm_partition_info")
        pstate = family("gpuwatch_slurm_partition_state")
        maxtime = family("gpuwatch_slurm_partition_max_time_seconds")
        pnodes = family("gpuwatch_slurm_partition_nodes")
        pcpus = family("gpuwatch_slurm_partition_cpus")
        pgpus = family("gpuwatch_slurm_partition_gpus")
        for pname in sorted(data.partitions):
            p = data.partitions[pname]
            info.add_metric([pname, "true" if p.default else "false"], 1)
            states = list(PARTITION_STATES)
            if p.state not in states:
                states.append(p.state)
            for s in states:
                pstate.add_metric([pname, s], 1 if s == p.state else 0)
            if p.max_time is not None:
                maxtime.add_metric([pname], p.max_time)
            per_state = {s: 0 for s in BASE_STATES}
            c = {"allocated": 0, "idle": 0, "other": 0}
            g = {"allocated": 0, "idle": 0, "other": 0}
            for nname in p.nodes:
                n = data.nodes[nname]
                per_state[n.state.base] = per_state.get(n.state.base, 0) + 1
                c["allocated"] += n.cpus_alloc or 0
                c["idle"] += n.cpus_idle or 0
                c["other"] += n.cpus_other or 0
                a, i, o = gpu_split(n)
                g["allocated"] += a
                g["idle"] += i
                g["other"] += o
            for s in sorted(per_state):
                pnodes.add_metric([pname, s], per_state[s])
            for s in ("allocated", "idle", "other"):
                pcpus.add_metric([pname, s], c[s])
                pgpus.add_metric([pname, s], g[s])
        return [info, pstate, maxtime, pnodes, pcpus, pgpus]
