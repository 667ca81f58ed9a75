"""nodes: per-node state, flags, CPUs, GPUs, memory and drain reason (from the shared sinfo)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from ..parsers.states import BASE_STATES
from .base import COLLECTORS

MIB = 1024 * 1024
# Flags under which a node's free GPUs cannot be used by new jobs
UNUSABLE_FLAGS = frozenset(
    {
        "drain",
        "fail",
        "not_responding",
        "maint",
        "powered_down",
        "powering_down",
        "invalid",
        "reboot_issued",
        "power_down",
    }
)


def gpu_split(node) -> tuple[int, int, int]:
    """(allocated, idle, other) GPUs; other = free GPUs on a node that cannot take jobs."""
    total = node.gpus_total
    used = min(node.gpus_used, total) if total else node.gpus_used
    free = max(total - used, 0)
    unusable = node.state.base in ("down", "future", "unknown", "error") or bool(
        node.state.flags & UNUSABLE_FLAGS
    )
    return (used, 0, free) if unusable else (used, free, 0)


@COLLECTORS.register(
    "nodes",
    default=True,
    help="Node states, flags, CPUs, GPUs, memory, drain reasons (sinfo)",
    needs=("sinfo",),
)
class NodesCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        data = cmds.sinfo(cycle)
        state = family("gpuwatch_slurm_node_state")
        flag = family("gpuwatch_slurm_node_flag")
        count = family("gpuwatch_slurm_nodes")
        cpus = family("gpuwatch_slurm_node_cpus")
        gpus = family("gpuwatch_slurm_node_gpus")
        mem = family("gpuwatch_slurm_node_memory_bytes")
        mem_alloc = family("gpuwatch_slurm_node_memory_allocated_bytes")
        mem_free = family("gpuwatch_slurm_node_memory_free_bytes")
        info = family("gpuwatch_slurm_node_info")
        reason = family("gpuwatch_slurm_node_reason_info")
        reason_ts = family("gpuwatch_slurm_node_reason_timestamp_seconds")
        per_state = {s: 0 for s in BASE_STATES}
        for name in sorted(data.nodes):
            n = data.nodes[name]
            st = n.state
            per_state[st.base] = per_state.get(st.base, 0) + 1
            state.add_metric([name, st.base], 1)
            for f in sorted(st.flags):
                flag.add_metric([name, f], 1)
            if n.cpus_total is not None:
                cpus.add_metric([name, "allocated"], n.cpus_alloc or 0)
                cpus.add_metric([name, "idle"], n.cpus_idle or 0)
                cpus.add_metric([name, "other"], n.cpus_other or 0)
            a, i, o = gpu_split(n)
            gpus.add_metric([name, "allocated"], a)
            gpus.add_metric([name, "idle"], i)
            gpus.add_metric([name, "other"], o)
            if n.memory_mb is not None:
                mem.add_metric([name], n.memory_mb * MIB)
            if n.alloc_mem_mb is not None:
                mem_alloc.add_metric([name], n.alloc_mem_mb * MIB)
            if n.free_mem_mb is not None:
                mem_free.add_metric([name], n.free_mem_mb * MIB)
            info.add_metric([name, ",".join(n.partitions), n.gres], 1)
            if n.reason:
                reason.add_metric([name, n.reason[:200]], 1)
                if n.reason_time is not None:
                    reason_ts.add_metric([name], n.reason_time)
        for s in sorted(per_state):
            count.add_metric([s], per_state[s])
        return [state, flag, count, cpus, gpus, mem, mem_alloc, mem_free, info, reason, reason_ts]
