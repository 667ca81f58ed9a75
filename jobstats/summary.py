"""Per-job and per-user summary over a time range: one combined request.

GPU time and cost come from the raw samples of ``gpuwatch_gpu_job_info`` (``count_over_time``
over the range, per job, GPU and price: (samples - 1) x scrape interval per GPU, the same
first-to-last-sample span as the single-job report, to within one interval). The price is the
exporter's ``gpuwatch_node_hourly_cost_usd`` (mean over the range, per target and price label)
where it is exported, else the target's ``hourly_cost_usd`` label.

Utilisation, idle time and energy need "which job held the GPU" joined with "how busy it was" at
each moment. Two sources:

- ``rules`` (used when present): the default pack's recording rules, evaluated by Prometheus as
  the data came in, one series per job and GPU::

      gpuwatch:job_gpu_utilization:ratio  job_info * on (instance, uuid) group_left () utilisation
      gpuwatch:job_gpu_idle:bool          gpuwatch:job_gpu_utilization:ratio < bool 0.05
      gpuwatch:job_gpu_power:watts        job_info * on (instance, uuid) group_left () power

  Summing those over the range is an instant query whose cost grows with the samples read,
  not with the number of steps times series, so a week of 1,000 jobs takes well under 5 s.
- ``raw`` (fallback: history from before the rules were loaded, or a Prometheus without them):
  the same join as a subquery stepped at S = max(scrape interval, range / 2000)::

      fresh = (time() - timestamp(gpuwatch_gpu_job_info{...})) < S

  ``fresh`` keeps a job's GPU only at steps within S of one of its own samples, so a series that
  ends without a staleness marker (backfilled history, a restart) is not stretched by the
  5-minute lookback. Prometheus 2.x evaluates a subquery step by step over every matched series,
  so this costs steps x series: seconds for a few hundred jobs, much more for a busy week.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .prom import Prometheus
from .promql import JOB_INFO, NODE_PRICE, NODE_PRICE_BY, combined, quote, split
from .timespec import promql_duration

IDLE_RATIO = 0.05  # a GPU-hour is idle when utilisation is under this
RULE_UTIL = "gpuwatch:job_gpu_utilization:ratio"
RULE_IDLE = "gpuwatch:job_gpu_idle:bool"
RULE_POWER = "gpuwatch:job_gpu_power:watts"
MAX_STEPS = 2000


@dataclass
class _Job:
    job_id: str
    user: str
    gpus: dict[tuple[str, str], dict[float, float]] = field(
        default_factory=dict
    )  # (inst, uuid) -> {price: n}
    idle: float = 0.0
    idle_count: float = 0.0
    util_sum: float = 0.0
    util_count: float = 0.0
    energy: float | None = None


def _selector(user: str | None) -> str:
    return 'job_id!=""' + (f", user={quote(user)}" if user is not None else "")


def _common_parts(user: str | None, rng: float) -> list[tuple[str, str]]:
    r = promql_duration(rng)
    return [
        (
            "samples",
            f"sum by (job_id, user, instance, uuid, hourly_cost_usd) "
            f"(count_over_time({JOB_INFO}{{{_selector(user)}}}[{r}]))",
        ),
        (
            "target_gpus",
            f"count by (instance) (count by (instance, uuid) (last_over_time(gpuwatch_gpu_info[{r}])))",
        ),
        ("node_price", f"{NODE_PRICE_BY} (avg_over_time({NODE_PRICE}[{r}]))"),
    ]


def rules_query(user: str | None, rng: float) -> str:
    """The summary from the recording rules (plus the raw job_info samples)."""
    sel, r = _selector(user), promql_duration(rng)
    by = "by (job_id, user)"
    return combined(
        [
            *_common_parts(user, rng),
            ("util_sum", f"sum {by} (sum_over_time({RULE_UTIL}{{{sel}}}[{r}]))"),
            ("util_count", f"sum {by} (count_over_time({RULE_UTIL}{{{sel}}}[{r}]))"),
            ("idle_sum", f"sum {by} (sum_over_time({RULE_IDLE}{{{sel}}}[{r}]))"),
            ("idle_count", f"sum {by} (count_over_time({RULE_IDLE}{{{sel}}}[{r}]))"),
            ("power_sum", f"sum {by} (sum_over_time({RULE_POWER}{{{sel}}}[{r}]))"),
        ]
    )


def raw_step(rng: float, interval: float) -> float:
    return max(interval, math.ceil(rng / MAX_STEPS / interval) * interval)


def raw_query(user: str | None, rng: float, step: float) -> str:
    """The summary as subqueries over the raw series, stepped at ``step``."""
    i = promql_duration(step)
    r = f"[{promql_duration(rng)}:{i}]"
    fresh = f"((time() - timestamp({JOB_INFO}{{{_selector(user)}}})) < {step:g})"

    def current(metric: str) -> str:  # readings of a lost GPU end at its last sample, too
        return f"max by (instance, uuid) ({metric} unless ((time() - timestamp({metric})) >= {step:g}))"

    util = current("gpuwatch_gpu_utilization_ratio")
    power = current("gpuwatch_gpu_power_watts")
    by = "by (job_id, user)"
    joined = f"({fresh} * 0 + on (instance, uuid) group_left () {util})"
    return combined(
        [
            *_common_parts(user, rng),
            ("util_sum", f"sum {by} (sum_over_time({joined}{r}))"),
            ("util_count", f"sum {by} (count_over_time({joined}{r}))"),
            ("idle_sum", f"sum {by} (count_over_time(({joined} < {IDLE_RATIO:g}){r}))"),
            ("idle_count", f"sum {by} (count_over_time({joined}{r}))"),
            (
                "power_sum",
                f"sum {by} (sum_over_time(({fresh} * 0 + on (instance, uuid) group_left () {power}){r}))",
            ),
        ]
    )


def rule_interval(prom: Prometheus, default: float) -> float:
    """Evaluation interval of the group recording RULE_UTIL (/api/v1/rules), else ``default``."""
    try:
        data = prom.call_get("rules", {"type": "record"})
    except Exception:  # noqa: BLE001 - any failure: fall back (the error would repeat below)
        return default
    for group in (data or {}).get("groups", []):
        if any(r.get("name") == RULE_UTIL for r in group.get("rules", [])):
            return float(group.get("interval") or default)
    return default


def summary(
    prom: Prometheus,
    *,
    user: str | None,
    start: float,
    end: float,
    interval: float,
    source: str = "auto",
    rules_interval: float | None = None,
) -> dict[str, Any]:
    """``{"jobs": [...], "users": [...]}``, each sorted by idle GPU-hours (most first).

    ``source``: ``rules``, ``raw`` or ``auto`` (rules when their series cover the range's jobs).
    """
    rng = end - start
    parts: dict[str, list[tuple[dict[str, str], float]]] = {}
    used = source
    if source in ("auto", "rules"):
        parts = split(prom.query(rules_query(user, rng), end))
        used = "rules"
        if source == "auto" and parts.get("samples") and not parts.get("util_count"):
            used = "raw"
    if used == "raw":
        step = raw_step(rng, interval)
        parts = split(prom.query(raw_query(user, rng, step), end))
        power_step = step
    else:
        power_step = interval
        if parts.get("power_sum"):
            power_step = rules_interval or rule_interval(prom, interval)
    doc = _rows(parts, interval, power_step)
    doc["source"] = used
    return doc


def _rows(
    parts: dict[str, list[tuple[dict[str, str], float]]], interval: float, power_step: float
) -> dict[str, Any]:
    target_gpus = {lb.get("instance", ""): v for lb, v in parts.get("target_gpus", [])}
    node_price = {
        (lb.get("instance", ""), lb.get("hourly_cost_usd", "")): v for lb, v in parts.get("node_price", [])
    }
    jobs: dict[tuple[str, str], _Job] = {}

    def job(lb: dict[str, str]) -> _Job:
        key = (lb.get("job_id", ""), lb.get("user", ""))
        j = jobs.get(key)
        if j is None:
            j = jobs[key] = _Job(*key)
        return j

    for lb, v in parts.get("samples", []):
        j = job(lb)
        price = node_price.get((lb.get("instance", ""), lb.get("hourly_cost_usd", "")), float("nan"))
        if price != price:  # the exporter does not export its price: the target label's
            try:
                price = float(lb.get("hourly_cost_usd", "nan"))
            except ValueError:
                price = float("nan")
        prices = j.gpus.setdefault((lb.get("instance", ""), lb.get("uuid", "")), {})
        prices[price] = prices.get(price, 0.0) + v
    for lb, v in parts.get("idle_sum", []):
        job(lb).idle += v
    for lb, v in parts.get("idle_count", []):
        job(lb).idle_count += v
    for lb, v in parts.get("util_sum", []):
        job(lb).util_sum += v
    for lb, v in parts.get("util_count", []):
        job(lb).util_count += v
    for lb, v in parts.get("power_sum", []):
        job(lb).energy = (job(lb).energy or 0.0) + v * power_step

    rows: list[dict[str, Any]] = []
    for j in jobs.values():
        if not j.gpus:
            continue
        gpu_seconds = 0.0
        cost: float | None = 0.0
        for (instance, _uuid), prices in j.gpus.items():
            n = sum(prices.values())
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
                "idle_gpu_hours": gpu_hours * min(1.0, j.idle / j.idle_count) if j.idle_count else 0.0,
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
