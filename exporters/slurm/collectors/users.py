"""users: pending/running jobs, CPUs and GPUs per user and per account (shared squeue; opt-in,
because the label sets grow with the number of users and accounts)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from .base import COLLECTORS

STATES = ("pending", "running")


@COLLECTORS.register(
    "users",
    default=False,
    help="Jobs, CPUs and GPUs per user and account (squeue; high cardinality)",
    needs=("squeue",),
)
class UsersCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        jobs = cmds.squeue(cycle)
        by_user: dict[tuple[str, str], list[int]] = {}
        by_acct: dict[tuple[str, str], list[int]] = {}
        for _jid, _part, state, user, account, cpus, gpus, _e, _s, _end, _r, n in jobs:
            if state not in STATES:
                continue
            for table, who in ((by_user, user or "unknown"), (by_acct, account or "unknown")):
                v = table.get((who, state))
                if v is None:
                    v = table[(who, state)] = [0, 0, 0]
                v[0] += n
                v[1] += cpus * n
                v[2] += gpus * n
        out = []
        for prefix, table in (("user", by_user), ("account", by_acct)):
            fj = family(f"gpuwatch_slurm_{prefix}_jobs")
            fc = family(f"gpuwatch_slurm_{prefix}_cpus")
            fg = family(f"gpuwatch_slurm_{prefix}_gpus")
            for k in sorted(table):
                n, c, g = table[k]
                fj.add_metric(list(k), n)
                fc.add_metric(list(k), c)
                fg.add_metric(list(k), g)
            out += [fj, fc, fg]
        return out
