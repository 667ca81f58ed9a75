"""scheduler: slurmctld's own statistics from sdiag (threads, queues, main and backfill scheduler
cycles, RPC counts and time by message type and by user)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from .base import COLLECTORS

US = 1e-6

_GAUGES = (
    ("gpuwatch_slurm_scheduler_threads", "general/server thread count", 1),
    ("gpuwatch_slurm_scheduler_agent_queue_size", "general/agent queue size", 1),
    ("gpuwatch_slurm_scheduler_agents", "general/agent count", 1),
    ("gpuwatch_slurm_scheduler_agent_threads", "general/agent thread count", 1),
    ("gpuwatch_slurm_scheduler_dbd_agent_queue_size", "general/dbd agent queue size", 1),
    ("gpuwatch_slurm_scheduler_cycle_last_seconds", "main/last cycle", US),
    ("gpuwatch_slurm_scheduler_cycle_max_seconds", "main/max cycle", US),
    ("gpuwatch_slurm_scheduler_cycle_mean_seconds", "main/mean cycle", US),
    ("gpuwatch_slurm_scheduler_cycles_total", "main/total cycles", 1),
    ("gpuwatch_slurm_scheduler_cycle_mean_depth", "main/mean depth cycle", 1),
    ("gpuwatch_slurm_scheduler_queue_length", "main/last queue length", 1),
    ("gpuwatch_slurm_backfill_jobs_total", "backfill/total backfilled jobs (since last slurm start)", 1),
    ("gpuwatch_slurm_backfill_cycle_last_seconds", "backfill/last cycle", US),
    ("gpuwatch_slurm_backfill_cycle_max_seconds", "backfill/max cycle", US),
    ("gpuwatch_slurm_backfill_cycle_mean_seconds", "backfill/mean cycle", US),
    ("gpuwatch_slurm_backfill_cycles_total", "backfill/total cycles", 1),
    ("gpuwatch_slurm_backfill_last_depth", "backfill/last depth cycle", 1),
    ("gpuwatch_slurm_backfill_queue_length", "backfill/last queue length", 1),
    ("gpuwatch_slurm_backfill_last_cycle_timestamp_seconds", "backfill/last cycle when", 1),
    ("gpuwatch_slurm_scheduler_stats_reset_timestamp_seconds", "general/data since", 1),
)
_EVENTS = ("submitted", "started", "completed", "canceled", "failed")


@COLLECTORS.register(
    "scheduler",
    default=True,
    help="slurmctld scheduler, backfill and RPC statistics (sdiag)",
    needs=("sdiag",),
)
class SchedulerCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        s = cmds.sdiag(cycle)
        out = []
        for name, key, scale in _GAUGES:
            f = family(name)
            v = s.get(key)
            if v is not None:
                f.add_metric([], round(v * scale, 6) if scale != 1 else v)
            out.append(f)
        jobs = family("gpuwatch_slurm_scheduler_jobs_total")
        for ev in _EVENTS:
            v = s.get(f"general/jobs {ev}")
            if v is not None:
                jobs.add_metric([ev], v)
        out.append(jobs)
        rt, rd = family("gpuwatch_slurm_rpc_total"), family("gpuwatch_slurm_rpc_duration_seconds_total")
        for t in sorted(s.rpc_by_type):
            c, us = s.rpc_by_type[t]
            rt.add_metric([t], c)
            rd.add_metric([t], round(us * US, 6))
        ut, ud = (
            family("gpuwatch_slurm_rpc_user_total"),
            family("gpuwatch_slurm_rpc_user_duration_seconds_total"),
        )
        for u in sorted(s.rpc_by_user):
            c, us = s.rpc_by_user[u]
            ut.add_metric([u], c)
            ud.add_metric([u], round(us * US, 6))
        rp = family("gpuwatch_slurm_rpc_pending")
        for t in sorted(s.rpc_pending):
            rp.add_metric([t], s.rpc_pending[t])
        return out + [rt, rd, ut, ud, rp]
