"""jobs: job counts, CPUs and GPUs per partition and state, pending reasons, the oldest job waiting
for resources, and finished-job counters (from the shared squeue).

Finished jobs are counted exactly once: squeue lists a finished job for MinJobAge seconds
(default 300); the collector remembers the keys (job id + end time, so a requeued job that
finishes again counts again) it saw finished in the previous cycle and counts only new ones.
Memory is bounded by what slurmctld itself lists. Jobs already finished when the exporter starts
are remembered, not counted (they may have been counted by the previous exporter process).
"""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from ..parsers.common import parse_timestamp
from ..parsers.reasons import WAITING_FOR_RESOURCES, normalize_reason
from ..parsers.squeue import FINISHED_STATES
from .base import COLLECTORS

END_STATES = ("completed", "failed", "node_fail", "out_of_memory", "timeout", "cancelled")
ZERO_STATES = ("pending", "running")


@COLLECTORS.register(
    "jobs",
    default=True,
    help="Jobs per partition/state, pending reasons, queue age, finished-job counters (squeue)",
    needs=("squeue",),
)
class JobsCollector(Collector[cmds.Cycle]):
    def __init__(self):
        self.finished: dict[tuple[str, str], int] = {}
        self.seen_finished: set[str] | None = None  # None until the first successful cycle
        self.partitions: set[str] = set()
        self._reason_cache: dict[str, str] = {}

    def _reason(self, text: str) -> str:
        r = self._reason_cache.get(text)
        if r is None:
            r = normalize_reason(text)
            if len(self._reason_cache) < 4096:
                self._reason_cache[text] = r
        return r

    def collect(self, cycle):
        jobs = cmds.squeue(cycle)
        now = cycle.now
        agg: dict[tuple[str, str], list[int]] = {}  # (partition, state) -> [jobs, cpus, gpus]
        pending: dict[tuple[str, str], int] = {}
        oldest: dict[str, float] = {}
        ts_cache: dict[str, float | None] = {}
        finished_now: set[str] = set()
        new_finished: list[tuple[str, str, int]] = []
        first = self.seen_finished is None
        seen = self.seen_finished or set()
        reason_of = self._reason
        for jid, part, st, _user, _acct, cpus, gpus, eligible, submit, end, reason_text, n in jobs:
            if st in FINISHED_STATES:
                key = f"{jid}@{end}"
                finished_now.add(key)
                if not first and key not in seen:
                    new_finished.append((part, st, n))
                continue
            k = (part, st)
            a = agg.get(k)
            if a is None:
                a = agg[k] = [0, 0, 0]
            a[0] += n
            a[1] += cpus * n
            a[2] += gpus * n
            if st == "pending":
                reason = reason_of(reason_text)
                pk = (part, reason)
                pending[pk] = pending.get(pk, 0) + n
                if reason in WAITING_FOR_RESOURCES:
                    raw = eligible if eligible[:1].isdigit() else submit
                    since = ts_cache.get(raw, -1.0)
                    if since == -1.0:
                        since = ts_cache[raw] = parse_timestamp(raw)
                    if since is not None and since <= now:
                        age = now - since
                        if age > oldest.get(part, -1.0):
                            oldest[part] = age
        self.seen_finished = finished_now
        for part, st, n in new_finished:
            self.finished[(part, st)] = self.finished.get((part, st), 0) + n
        # Partitions known to this exporter: from jobs, and from sinfo when it ran this cycle anyway.
        known = {p for p, _ in agg} | {p for p, _ in self.finished}
        sinfo = cycle.cached("sinfo")
        if sinfo is not None:
            known |= set(sinfo.partitions)
        self.partitions |= {p for p in known if "," not in p}
        fam_jobs = family("gpuwatch_slurm_jobs")
        fam_cpus = family("gpuwatch_slurm_job_cpus")
        fam_gpus = family("gpuwatch_slurm_job_gpus")
        for p in self.partitions:
            for s in ZERO_STATES:
                agg.setdefault((p, s), [0, 0, 0])
        for k in sorted(agg):
            n, c, g = agg[k]
            fam_jobs.add_metric(list(k), n)
            fam_cpus.add_metric(list(k), c)
            fam_gpus.add_metric(list(k), g)
        fam_pending = family("gpuwatch_slurm_jobs_pending")
        for k in sorted(pending):
            fam_pending.add_metric(list(k), pending[k])
        fam_oldest = family("gpuwatch_slurm_pending_job_oldest_age_seconds")
        for p in sorted(self.partitions | set(oldest)):
            fam_oldest.add_metric([p], round(oldest.get(p, 0.0), 3))
        fam_fin = family("gpuwatch_slurm_jobs_finished_total")
        for p in self.partitions:
            for s in END_STATES:
                self.finished.setdefault((p, s), 0)
        for k in sorted(self.finished):
            fam_fin.add_metric(list(k), self.finished[k])
        return [fam_jobs, fam_pending, fam_cpus, fam_gpus, fam_oldest, fam_fin]
