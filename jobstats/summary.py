"""Per-job and per-user summary over a time range, from one combined query.

Every figure is aggregated by Prometheus, per job, in a single request whatever the number of
jobs or GPUs (plus one for the targets' GPU counts). The time join of "which job held the GPU"
with "how busy was the GPU" is a subquery stepped at the scrape interval I over the range::

    fresh   = (time() - timestamp(gpuwatch_gpu_job_info{...})) < I
    samples = count_over_time(fresh[RANGE:I])                     per job and GPU (and price)
    idle    = count_over_time((fresh * on(instance, uuid) group_left()
                               (max by (instance, uuid) (gpuwatch_gpu_utilization_ratio) < 0.05))[RANGE:I])
    util    = sum_over_time((fresh * 0 + on(instance, uuid) group_left()
                             max by (instance, uuid) (gpuwatch_gpu_utilization_ratio))[RANGE:I])
    energy  = sum_over_time((fresh * 0 + on(instance, uuid) group_left()
                             max by (instance, uuid) (rate(gpuwatch_gpu_energy_joules_total[3I])))[RANGE:I]) * I

``fresh`` keeps a job's GPU only at steps within one interval of one of its own samples, so a
series that ends without a staleness marker (backfilled history, a restart) is not stretched by
the 5-minute lookback. A GPU's time is (samples - 1) x I, the same first-to-last-sample span the
single-job report uses, to within one scrape interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .prom import Prometheus
from .promql import JOB_INFO, combined, quote, split
from .timespec import promql_duration

IDLE_RATIO = 0.05  # a GPU-hour is idle when utilisation is under this


@dataclass
class _Job:
    job_id: str
    user: str
    gpus: dict[tuple[str, str], dict[float, float]] = field(
        default_factory=dict
    )  # (inst, uuid) -> {price: n}
    idle: float = 0.0
    util_sum: float = 0.0
    util_count: float = 0.0
    energy: float | None = None


def summary_query(user: str | None, rng: float, interval: float) -> str:
    sel = 'job_id!=""' + (f", user={quote(user)}" if user is not None else "")
    i = promql_duration(interval)
    r = f"[{promql_duration(rng)}:{i}]"
    fresh = f"((time() - timestamp({JOB_INFO}{{{sel}}})) < {interval:g})"
    util = "max by (instance, uuid) (gpuwatch_gpu_utilization_ratio)"
    power = (
        f"max by (instance, uuid) (rate(gpuwatch_gpu_energy_joules_total[{promql_duration(3 * interval)}]))"
    )
    by_job = "by (job_id, user)"
    parts = [
        (
            "samples",
            f"sum by (job_id, user, instance, uuid, hourly_cost_usd) (count_over_time({fresh}{r}))",
        ),
        (
            "idle",
            f"sum {by_job} (count_over_time(({fresh} * on (instance, uuid) group_left () "
            f"({util} < {IDLE_RATIO:g})){r}))",
        ),
        (
            "util_sum",
            f"sum {by_job} (sum_over_time(({fresh} * 0 + on (instance, uuid) group_left () {util}){r}))",
        ),
        (
            "util_count",
            f"sum {by_job} (count_over_time(({fresh} * 0 + on (instance, uuid) group_left () {util}){r}))",
        ),
        (
            "energy",
            f"sum {by_job} (sum_over_time(({fresh} * 0 + on (instance, uuid) group_left () {power}){r}))",
        ),
        (
            "target_gpus",
            f"count by (instance) (count by (instance, uuid) (last_over_time(gpuwatch_gpu_info[{promql_duration(rng)}])))",
        ),
    ]
    return combined(parts)


def summary(
    prom: Prometheus, *, user: str | None, start: float, end: float, interval: float
) -> dict[str, list[dict[str, Any]]]:
    """``{"jobs": [...], "users": [...]}``, each sorted by idle GPU-hours (most first)."""
    parts = split(prom.query(summary_query(user, end - start, interval), end))
    target_gpus = {lb.get("instance", ""): v for lb, v in parts.get("target_gpus", [])}
    jobs: dict[tuple[str, str], _Job] = {}

    def job(lb: dict[str, str]) -> _Job:
        key = (lb.get("job_id", ""), lb.get("user", ""))
        j = jobs.get(key)
        if j is None:
            j = jobs[key] = _Job(*key)
        return j

    for lb, v in parts.get("samples", []):
        j = job(lb)
        try:
            price = float(lb.get("hourly_cost_usd", "nan"))
        except ValueError:
            price = float("nan")
        prices = j.gpus.setdefault((lb.get("instance", ""), lb.get("uuid", "")), {})
        prices[price] = prices.get(price, 0.0) + v
    for lb, v in parts.get("idle", []):
        job(lb).idle += v
    for lb, v in parts.get("util_sum", []):
        job(lb).util_sum += v
    for lb, v in parts.get("util_count", []):
        job(lb).util_count += v
    for lb, v in parts.get("energy", []):
        job(lb).energy = (job(lb).energy or 0.0) + v * interval

    rows = []
    for j in jobs.values():
        if not j.gpus:
            continue
        gpu_seconds = 0.0
        cost: float | None = 0.0
        samples = 0.0
        for (instance, _uuid), prices in j.gpus.items():
            n = sum(prices.values())
            samples += n
            secs = max(0.0, n - 1) * interval
            gpu_seconds += secs
            if cost is not None:
                if any(p != p for p in prices):  # NaN: no (or a bad) hourly_cost_usd label
                    cost = None
                else:
                    mean_price = sum(p * c for p, c in prices.items()) / n
                    cost += secs / 3600.0 * mean_price / (target_gpus.get(instance) or 1.0)
        gpu_hours = gpu_seconds / 3600.0
        rows.append(
            {
                "job_id": j.job_id,
                "user": j.user,
                "gpus": len(j.gpus),
                "gpu_hours": gpu_hours,
                "idle_gpu_hours": gpu_hours * min(1.0, j.idle / samples) if samples else 0.0,
                "utilization_mean": j.util_sum / j.util_count if j.util_count else None,
                "energy_joules": j.energy,
                "cost_usd": cost,
            }
        )
    rows.sort(key=lambda r: (-r["idle_gpu_hours"], -r["gpu_hours"], _job_sort(r["job_id"])))
    return {"jobs": rows, "users": by_user(rows, jobs)}


def _job_sort(job_id: str) -> tuple:
    head = job_id.split("_", 1)[0]
    return (int(head) if head.isdigit() else 1 << 62, job_id)


def by_user(rows: list[dict[str, Any]], jobs: dict[tuple[str, str], _Job]) -> list[dict[str, Any]]:
    users: dict[str, dict[str, Any]] = {}
    util: dict[str, list[float]] = {}
    for r in rows:
        u = users.setdefault(
            r["user"],
            {
                "user": r["user"],
                "jobs": 0,
                "gpus": 0,
                "gpu_hours": 0.0,
                "idle_gpu_hours": 0.0,
                "utilization_mean": None,
                "energy_joules": None,
                "cost_usd": 0.0,
            },
        )
        u["jobs"] += 1
        u["gpus"] += r["gpus"]
        u["gpu_hours"] += r["gpu_hours"]
        u["idle_gpu_hours"] += r["idle_gpu_hours"]
        if r["energy_joules"] is not None:
            u["energy_joules"] = (u["energy_joules"] or 0.0) + r["energy_joules"]
        u["cost_usd"] = (
            None if u["cost_usd"] is None or r["cost_usd"] is None else u["cost_usd"] + r["cost_usd"]
        )
        j = jobs[(r["job_id"], r["user"])]
        acc = util.setdefault(r["user"], [0.0, 0.0])
        acc[0] += j.util_sum
        acc[1] += j.util_count
    for name, (s, n) in util.items():
        users[name]["utilization_mean"] = s / n if n else None
    out = list(users.values())
    out.sort(key=lambda u: (-u["idle_gpu_hours"], -u["gpu_hours"], u["user"]))
    return out
