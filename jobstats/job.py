"""One job's report: its GPUs, span, use, energy, XIDs, cost and notes.

How the numbers are read (each step a few HTTP requests, whatever the job's length):

1. ``/api/v1/series`` for ``gpuwatch_gpu_job_info{job_id="X"}`` within ``--since``: the job's GPUs
   (a GPU whose target's ``hourly_cost_usd`` changed shows as two series, one per price).
2. A range query of ``count_over_time(...[B])`` in buckets of B (an hour for 30 days): which
   buckets hold samples of each series.
3. The raw samples of the first and last bucket (a range-vector selector, ``...[B]``): the first
   and last sample of each series, to the millisecond. The span comes from the samples, never from
   query_range's lookback, so history without staleness markers (backfilled, or cut by a
   restart) gives the same answer.
4. One combined instant query per distinct GPU span, at the span's end over exactly the span:
   utilisation, SM/tensor activity, memory, power, energy (counter at the last sample minus at
   the first, ``increase()`` where the counter reset), XIDs (the same per code, a code first seen
   during the job counting from 0), ``gpuwatch_gpu_up``, the GPU model and the target's GPU count.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from . import slurm
from .errors import JobstatsError
from .prom import Prometheus
from .promql import JOB_INFO, NODE_PRICE, NODE_PRICE_BY, alternation, combined, quote, split
from .timespec import human_duration, promql_duration, rfc3339

IDLE_NOTE_RATIO = 0.10  # utilisation under this: a note
MEMORY_NOTE_RATIO = 0.10  # memory used under this share of the GPU's: a note
MAX_BUCKETS = 720

XID_MEANING = {
    "13": "graphics engine exception (often an application fault)",
    "31": "GPU memory page fault (often an application fault)",
    "43": "GPU stopped processing (application fault)",
    "45": "preemptive cleanup after an earlier error",
    "48": "double-bit ECC error",
    "63": "row remapping / page retirement pending",
    "64": "row remapping failed",
    "74": "NVLink error",
    "79": "GPU fell off the bus",
    "92": "high single-bit ECC error rate",
    "94": "contained ECC error",
    "95": "uncontained ECC error",
}


@dataclass
class Piece:
    """One series of gpuwatch_gpu_job_info: a GPU at one price."""

    labels: dict[str, str]
    first: float = math.inf
    last: float = -math.inf
    first_bucket: float = math.inf
    last_bucket: float = -math.inf


@dataclass
class Gpu:
    instance: str
    uuid: str
    node: str
    gpu: str
    pieces: list[Piece] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> float:
        return min(p.first for p in self.pieces)

    @property
    def end(self) -> float:
        return max(p.last for p in self.pieces)


def _gpu_key(labels: dict[str, str]) -> tuple[str, str]:
    return labels.get("instance", ""), labels.get("uuid", "")


def _sort_key(g: Gpu) -> tuple:
    return (g.node, int(g.gpu) if g.gpu.isdigit() else 1 << 30, g.gpu, g.uuid)


def find_pieces(prom: Prometheus, job_id: str, start: float, end: float) -> tuple[list[Piece], list[float]]:
    """The job's series with their first/last sample times, and the sample spacings seen."""
    sel = f"{JOB_INFO}{{job_id={quote(job_id)}}}"
    spacings: list[float] = []
    labelsets = prom.series(sel, start, end)
    if not labelsets:
        return [], spacings
    span = end - start
    bucket = max(3600.0, math.ceil(span / MAX_BUCKETS / 60) * 60)
    k = max(1, math.ceil(span / bucket))
    first_step = end - (k - 1) * bucket
    pieces: dict[tuple, Piece] = {}
    for item in prom.query_range(
        f"count_over_time({sel}[{promql_duration(bucket)}])", first_step, end, bucket
    ):
        labels = dict(item["metric"])
        times = [float(t) for t, v in item.get("values", []) if float(v) > 0]
        if not times:
            continue
        key = tuple(sorted(labels.items()))
        pieces[key] = Piece(labels, first_bucket=min(times), last_bucket=max(times))
    # Raw samples of the first and last bucket of each series (usually one or two requests).
    for t in sorted({p.first_bucket for p in pieces.values()} | {p.last_bucket for p in pieces.values()}):
        for item in prom.query(f"{sel}[{promql_duration(bucket)}]", t):
            key = tuple(sorted((k2, v) for k2, v in item["metric"].items() if k2 != "__name__"))
            piece = pieces.get(key)
            if piece is None:
                continue
            stamps = [float(ts) for ts, _ in item.get("values", [])]
            if stamps:
                piece.first = min(piece.first, min(stamps))
                piece.last = max(piece.last, max(stamps))
            stamps.sort()
            spacings.extend(b - a for a, b in zip(stamps, stamps[1:]) if b > a)
    return [p for p in pieces.values() if p.first <= p.last], spacings


def estimate_interval(prom: Prometheus, override: float | None, spacings: list[float]) -> float:
    """The scrape interval: ``--scrape-interval``, else the median spacing of the samples read,
    else the running config's, else 15 s."""
    if override:
        return override
    if spacings:
        return statistics.median(spacings)
    return prom.scrape_interval() or 15.0


def _stats_query(gpus: list[Gpu], job_sel: str, start: float, end: float, interval: float) -> str:
    rng = promql_duration(end - start + interval / 2)
    at_start = f"@ {start:.3f}"
    small = promql_duration(interval * 0.99)
    u = f"uuid=~{alternation(g.uuid for g in gpus)}"
    inst = f"instance=~{alternation(g.instance for g in gpus)}"
    by = "by (instance, uuid)"

    def s(metric: str) -> str:
        return f"{metric}{{{u}}}"

    parts = [
        ("util_sum", f"sum {by} (sum_over_time({s('gpuwatch_gpu_utilization_ratio')}[{rng}]))"),
        ("util_count", f"sum {by} (count_over_time({s('gpuwatch_gpu_utilization_ratio')}[{rng}]))"),
        ("util_max", f"max {by} (max_over_time({s('gpuwatch_gpu_utilization_ratio')}[{rng}]))"),
        ("sm_sum", f"sum {by} (sum_over_time({s('gpuwatch_gpu_sm_active_ratio')}[{rng}]))"),
        ("sm_count", f"sum {by} (count_over_time({s('gpuwatch_gpu_sm_active_ratio')}[{rng}]))"),
        ("tensor_sum", f"sum {by} (sum_over_time({s('gpuwatch_gpu_tensor_active_ratio')}[{rng}]))"),
        ("tensor_count", f"sum {by} (count_over_time({s('gpuwatch_gpu_tensor_active_ratio')}[{rng}]))"),
        ("mem_max", f"max {by} (max_over_time({s('gpuwatch_gpu_memory_used_bytes')}[{rng}]))"),
        ("mem_total", f"max {by} (max_over_time({s('gpuwatch_gpu_memory_total_bytes')}[{rng}]))"),
        ("power_sum", f"sum {by} (sum_over_time({s('gpuwatch_gpu_power_watts')}[{rng}]))"),
        ("power_count", f"sum {by} (count_over_time({s('gpuwatch_gpu_power_watts')}[{rng}]))"),
        ("energy_end", f"max {by} (last_over_time({s('gpuwatch_gpu_energy_joules_total')}[{rng}]))"),
        (
            "energy_start",
            f"max {by} (last_over_time({s('gpuwatch_gpu_energy_joules_total')}[{small}] {at_start}))",
        ),
        ("energy_resets", f"sum {by} (resets({s('gpuwatch_gpu_energy_joules_total')}[{rng}]))"),
        ("energy_increase", f"sum {by} (increase({s('gpuwatch_gpu_energy_joules_total')}[{rng}]))"),
        (
            "xid_end",
            f"max by (instance, uuid, xid) (last_over_time({s('gpuwatch_gpu_xid_errors_total')}[{rng}]))",
        ),
        (
            "xid_start",
            f"max by (instance, uuid, xid) "
            f"(last_over_time({s('gpuwatch_gpu_xid_errors_total')}[{small}] {at_start}))",
        ),
        ("up_count", f"sum {by} (count_over_time({s('gpuwatch_gpu_up')}[{rng}]))"),
        ("up_sum", f"sum {by} (sum_over_time({s('gpuwatch_gpu_up')}[{rng}]))"),
        ("job_count", f"sum {by} (count_over_time({job_sel[:-1]}, {u}}}[{rng}]))"),
        ("info", f"max by (instance, uuid, name) (last_over_time({s('gpuwatch_gpu_info')}[{rng}]))"),
        (
            "target_gpus",
            f"count by (instance) (count by (instance, uuid) "
            f"(last_over_time(gpuwatch_gpu_info{{{inst}}}[{rng}])))",
        ),
        ("node_price", f"{NODE_PRICE_BY} (avg_over_time({NODE_PRICE}{{{inst}}}[{rng}]))"),
    ]
    return combined(parts)


def _fill_stats(gpus: list[Gpu], parts: dict[str, list[tuple[dict[str, str], float]]]) -> None:
    by_key = {(g.instance, g.uuid): g for g in gpus}
    by_instance: dict[str, list[Gpu]] = {}
    for g in gpus:
        by_instance.setdefault(g.instance, []).append(g)
    for name, samples in parts.items():
        for labels, value in samples:
            if name == "target_gpus":
                for g in by_instance.get(labels.get("instance", ""), []):
                    g.stats["target_gpus"] = value
                continue
            if name == "node_price":  # {price label: the exporter's own price, mean over the span}
                for g in by_instance.get(labels.get("instance", ""), []):
                    g.stats.setdefault("node_price", {})[labels.get("hourly_cost_usd", "")] = value
                continue
            found = by_key.get(_gpu_key(labels))
            if found is None:
                continue
            g = found
            if name in ("xid_end", "xid_start"):
                g.stats.setdefault(name, {})[labels.get("xid", "?")] = value
            elif name == "info":
                g.stats["model"] = labels.get("name", "")
            else:
                g.stats[name] = value


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return num / den


def _gpu_report(g: Gpu, interval: float, running: bool) -> dict[str, Any]:
    st = g.stats
    duration = g.end - g.start
    # Cost: each piece (one price) runs from its first sample to the next piece's first sample
    # (the last piece to the GPU's last sample); each GPU-hour at the target's price / its GPUs.
    pieces = sorted(g.pieces, key=lambda p: p.first)
    total = 0.0
    priced = True
    n_target = st.get("target_gpus") or 1.0
    for i, p in enumerate(pieces):
        upto = pieces[i + 1].first if i + 1 < len(pieces) else g.end
        price = st.get("node_price", {}).get(p.labels.get("hourly_cost_usd", ""))
        if price is None:  # the exporter does not export its price: the target label's
            try:
                price = float(p.labels["hourly_cost_usd"])
            except (KeyError, ValueError):
                priced = False
                break
        total += (upto - p.first) / 3600.0 * price / n_target
    cost = total if priced else None
    util_mean = _ratio(st.get("util_sum"), st.get("util_count"))
    energy: float | None = None
    if "energy_end" in st:
        if st.get("energy_resets", 0) == 0 and "energy_start" in st:
            energy = max(0.0, st["energy_end"] - st["energy_start"])
        else:
            energy = st.get("energy_increase")
    xid_end: dict[str, float] = st.get("xid_end", {})
    xid_start: dict[str, float] = st.get("xid_start", {})
    xid_codes = {
        code: int(round(v - xid_start.get(code, 0.0)))
        for code, v in sorted(xid_end.items(), key=lambda kv: int(kv[0]) if kv[0].isdigit() else 1 << 30)
        if v - xid_start.get(code, 0.0) >= 0.5
    }
    down = (st.get("up_count") or 0) - (st.get("up_sum") or 0)
    job_samples = st.get("job_count") or 0
    missing = max(0.0, job_samples - (st.get("util_count") or 0))
    return {
        "node": g.node,
        "gpu": g.gpu,
        "uuid": g.uuid,
        "model": st.get("model", ""),
        "state": "running" if running else "finished",
        "start": rfc3339(g.start),
        "end": rfc3339(g.end),
        "duration_seconds": round(duration, 3),
        "gpu_hours": duration / 3600.0,
        "utilization_mean": util_mean,
        "utilization_max": st.get("util_max"),
        "sm_active_mean": _ratio(st.get("sm_sum"), st.get("sm_count")),
        "tensor_active_mean": _ratio(st.get("tensor_sum"), st.get("tensor_count")),
        "memory_used_max_bytes": st.get("mem_max"),
        "memory_total_bytes": st.get("mem_total"),
        "power_mean_watts": _ratio(st.get("power_sum"), st.get("power_count")),
        "energy_joules": energy,
        "cost_usd": cost,
        "xid_events": sum(xid_codes.values()),
        "xid_codes": xid_codes,
        "lost_seconds": round(max(down, missing) * interval, 3),
        "_start": g.start,
        "_end": g.end,
    }


def _sum(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def job_report(
    prom: Prometheus,
    job_id: str,
    *,
    since: float,
    end: float,
    now: float,
    interval: float | None = None,
) -> dict[str, Any]:
    """The report of ``job_id`` (JSON-ready dict, keys as in docs/jobstats.md)."""
    pieces, spacings = find_pieces(prom, job_id, end - since, end)
    if not pieces:
        raise no_such_job(prom, job_id, since, end)
    step = estimate_interval(prom, interval, spacings)
    gpus: dict[tuple[str, str], Gpu] = {}
    for p in pieces:
        key = _gpu_key(p.labels)
        g = gpus.get(key)
        if g is None:
            g = gpus[key] = Gpu(
                instance=key[0],
                uuid=key[1],
                node=p.labels.get("node") or key[0],
                gpu=p.labels.get("gpu", ""),
            )
        g.pieces.append(p)
    users = sorted({p.labels.get("user", "") for p in pieces} - {""})
    job_sel = f"{JOB_INFO}{{job_id={quote(job_id)}}}"
    spans: dict[tuple[float, float], list[Gpu]] = {}
    for g in gpus.values():
        spans.setdefault((g.start, g.end), []).append(g)
    for (s, e), members in sorted(spans.items()):
        parts = split(prom.query(_stats_query(members, job_sel, s, e, step), e))
        _fill_stats(members, parts)

    ordered = sorted(gpus.values(), key=_sort_key)
    job_start = min(g.start for g in ordered)
    job_end = max(g.end for g in ordered)
    # Running: its series is current at the range's end (now, unless --end says otherwise).
    fresh = 2 * step + 5
    running = end - job_end <= fresh
    rows = [_gpu_report(g, step, running and end - g.end <= fresh) for g in ordered]
    duration = job_end - job_start

    def weighted(key: str) -> float | None:
        pairs = [(r[key], r["duration_seconds"]) for r in rows if r[key] is not None]
        tot = sum(w for _, w in pairs)
        if not pairs:
            return None
        if tot == 0:
            return sum(v for v, _ in pairs) / len(pairs)
        return sum(v * w for v, w in pairs) / tot

    def maxof(key: str) -> float | None:
        vals = [r[key] for r in rows if r[key] is not None]
        return max(vals) if vals else None

    power_total = None
    if any(r["power_mean_watts"] is not None for r in rows):
        energy_like = sum((r["power_mean_watts"] or 0.0) * r["duration_seconds"] for r in rows)
        power_total = (
            energy_like / duration if duration > 0 else sum(r["power_mean_watts"] or 0.0 for r in rows)
        )
    costs = [r["cost_usd"] for r in rows]
    xid_codes: dict[str, int] = {}
    for r in rows:
        for code, n in r["xid_codes"].items():
            xid_codes[code] = xid_codes.get(code, 0) + n
    report: dict[str, Any] = {
        "job_id": job_id,
        "user": ",".join(users),
        "state": "running" if running else "finished",
        "start": rfc3339(job_start),
        "end": rfc3339(job_end),
        "duration_seconds": round(duration, 3),
        "gpu_hours": sum(r["gpu_hours"] for r in rows),
        "utilization_mean": weighted("utilization_mean"),
        "utilization_max": maxof("utilization_max"),
        "sm_active_mean": weighted("sm_active_mean"),
        "tensor_active_mean": weighted("tensor_active_mean"),
        "memory_used_max_bytes": maxof("memory_used_max_bytes"),
        "memory_total_bytes": maxof("memory_total_bytes"),
        "power_mean_watts": power_total,
        "energy_joules": _sum([r["energy_joules"] for r in rows]),
        "cost_usd": None if any(c is None for c in costs) else sum(c for c in costs if c is not None),
        "xid_events": sum(r["xid_events"] for r in rows),
        "xid_codes": dict(sorted(xid_codes.items())),
        "scrape_interval_seconds": step,
        "gpus": rows,
        "notes": [],
    }
    report["notes"] = notes(report, step)
    for r in rows:
        r.pop("_start")
        r.pop("_end")
    return report


def _gib(b: float | None) -> str:
    return "?" if b is None else f"{b / 2**30:.1f} GiB"


def _where(r: dict[str, Any]) -> str:
    return f"GPU {r['gpu']} on {r['node']}"


def notes(report: dict[str, Any], interval: float) -> list[str]:
    """Plain-language advice in the style of Princeton's jobstats."""
    out: list[str] = []
    rows = report["gpus"]
    never = [r for r in rows if r["utilization_max"] is not None and r["utilization_max"] == 0]
    if never and len(never) == len(rows):
        out.append(
            f"The job never used its GPU{'s' if len(rows) > 1 else ''} (utilisation 0 % throughout): "
            f"{report['gpu_hours']:.2f} GPU-hours were allocated for nothing. Please check that the code "
            "runs on the GPU (e.g. torch.cuda.is_available()) or request no GPUs."
        )
    elif never:
        out.append(
            "These GPUs were never used (utilisation 0 % throughout): "
            + ", ".join(_where(r) for r in never)
            + ". Request only as many GPUs as the code uses."
        )
    low = [
        r
        for r in rows
        if r not in never and r["utilization_mean"] is not None and r["utilization_mean"] < IDLE_NOTE_RATIO
    ]
    for r in low:
        out.append(
            f"{_where(r)} had a mean utilisation of {100 * r['utilization_mean']:.1f} %, under "
            f"{100 * IDLE_NOTE_RATIO:.0f} %. Look for data loading or CPU work that keeps it waiting, "
            "or run on fewer GPUs."
        )
    for r in rows:
        used, total = r["memory_used_max_bytes"], r["memory_total_bytes"]
        if used is not None and total and used / total < MEMORY_NOTE_RATIO and r not in never:
            out.append(
                f"{_where(r)} used at most {_gib(used)} of its {_gib(total)} of memory "
                f"({100 * used / total:.1f} %, under {100 * MEMORY_NOTE_RATIO:.0f} %): "
                "a GPU with less memory (or a MIG slice) would do."
            )
    for r in rows:
        if r["xid_events"]:
            codes = ", ".join(
                f"XID {c}"
                + (f" ({XID_MEANING[c]})" if c in XID_MEANING else "")
                + (f" x{n}" if n > 1 else "")
                for c, n in r["xid_codes"].items()
            )
            out.append(f"{_where(r)} reported {r['xid_events']} XID event(s) during the job: {codes}.")
    for r in rows:
        lost = r["lost_seconds"]
        if lost >= 2 * interval:
            out.append(
                f"{_where(r)} was lost or unreadable for about {human_duration(lost)} during the job "
                "(gpuwatch_gpu_up 0 / no readings while the job held it); its numbers cover only the "
                "time it answered. Ask an administrator to check the node."
            )
    if report["state"] == "running":
        out.append("The job is still running: these numbers cover it up to the end of the range.")
    return out


def no_such_job(prom: Prometheus, job_id: str, since: float, end: float) -> JobstatsError:
    """The error for a job with no ``gpuwatch_gpu_job_info`` series, saying which case it is."""
    window = human_window(since)
    if not prom.series("gpuwatch_gpu_info", end - since, end):
        return JobstatsError(
            f"Prometheus at {prom.url} has no gpuwatch GPU data (no gpuwatch_gpu_info series) in the "
            f"last {window}: does it scrape gpuwatch-gpu-exporter?"
        )
    sj = slurm.lookup(job_id)
    if sj is not None and not sj.gpus:
        return JobstatsError(
            f"job {job_id} (user {sj.user}, {sj.state}) has no GPUs in Slurm (TRES {sj.tres or 'none'}): "
            f"gpuwatch-jobstats reports GPU use; for CPU and memory see `seff {job_id}`"
        )
    if sj is not None and sj.state in ("PENDING", "CONFIGURING"):
        return JobstatsError(
            f"job {job_id} (user {sj.user}) has not started yet ({sj.state}): no GPU use to report"
        )
    if sj is not None:
        return JobstatsError(
            f"job {job_id} (user {sj.user}, {sj.state}, {sj.tres}) holds GPUs in Slurm, but Prometheus at "
            f"{prom.url} has no gpuwatch_gpu_job_info series of it in the last {window}: is "
            f"gpuwatch-gpu-exporter running on {sj.nodes or 'its nodes'} and scraped?"
        )
    return JobstatsError(
        f"job {job_id}: no GPU of this job in Prometheus at {prom.url} in the last {window} "
        "(no gpuwatch_gpu_job_info series): unknown job id, a job without GPUs, or older than --since"
    )


def human_window(seconds: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= n and seconds % n == 0:
            return f"{int(seconds // n)}{unit}"
    return f"{seconds:g}s"
