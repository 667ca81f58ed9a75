"""gpuwatch-jobstats against a real Prometheus holding a week of GPU history.

A synthetic cluster (16 nodes x 8 GPUs, 60 s scrapes, 7 days) runs 1,000 Slurm jobs (1, 2, 4 or 8
GPUs each, 30 min to 8 h, a fifth of them idle). The history is written as OpenMetrics, one file
per 2-hour window, turned into blocks with ``promtool tsdb create-blocks-from openmetrics`` and
served by the Debian ``prometheus`` on 127.0.0.1. Then:

- the ``--all`` summary (what ``gpuwatch-jobstats --all`` runs: scrape-interval probe + one
  combined query) over ranges holding ~100, ~300 and all 1,000 jobs, timed (best of 3) with the
  number of HTTP requests made; goal: under 5 s for 1,000 jobs over 7 days;
- the single-job report of a few jobs (time and requests).

``BENCH_QUICK=1``: 4 nodes, 2 days, 150 jobs.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from gpuwatch.jobstats.cli import _summary_interval
from gpuwatch.jobstats.job import job_report
from gpuwatch.jobstats.prom import Connection, Prometheus
from gpuwatch.jobstats.summary import summary
from gpuwatch.localstack.backfill import WINDOW, backfilled_prometheus, create_blocks
from gpuwatch.localstack.promstack import find_binary

INTERVAL = 60
GPUS_PER_NODE = 8
PRICE_PER_GPU_HOUR = 2.5  # each node's pod at $20/h for its 8 GPUs
GIB = 2**30


def plan_jobs(nodes: int, days: float, n_jobs: int, t0: int, rng: random.Random) -> list[dict]:
    """Jobs spread evenly over [t0, t0 + days]: a random start, node and GPU count, placed on GPUs
    free for the whole job (retried elsewhere when the node is busy)."""
    end = t0 + int(days * 86400)
    busy: dict[tuple[int, int], list[tuple[int, int]]] = {}
    jobs: list[dict] = []
    max_dur = int(8 * 3600 * min(1.0, days / 7)) + 1800
    tries = 0
    while len(jobs) < n_jobs and tries < n_jobs * 50:
        tries += 1
        node = rng.randrange(nodes)
        want = rng.choice([1, 1, 1, 2, 2, 4, 8])
        start = rng.randrange(t0, end - 1800)
        start -= start % INTERVAL
        stop = min(end, start + rng.randrange(1800, max_dur))
        stop -= stop % INTERVAL
        free = [
            g
            for g in range(GPUS_PER_NODE)
            if all(stop + INTERVAL < a or start > b + INTERVAL for a, b in busy.get((node, g), []))
        ]
        if len(free) < want:
            continue
        gpus = free[:want]
        for g in gpus:
            busy.setdefault((node, g), []).append((start, stop))
        idle = rng.random() < 0.2
        jobs.append(
            {
                "job_id": str(100000 + len(jobs)),
                "user": f"user{rng.randrange(40):02d}",
                "node": node,
                "gpus": gpus,
                "start": start,
                "end": stop,
                "util": 0.0 if idle else rng.uniform(0.3, 0.98),
            }
        )
    return jobs


def write_history(folder: Path, nodes: int, days: float, jobs: list[dict], t0: int) -> tuple[list[Path], int]:
    """One OpenMetrics file per 2-hour window; returns the files and the sample count."""
    folder.mkdir(parents=True, exist_ok=True)
    end = t0 + int(days * 86400)
    by_gpu: dict[tuple[int, int], list[dict]] = {}
    for j in jobs:
        for g in j["gpus"]:
            by_gpu.setdefault((j["node"], g), []).append(j)
    energy = {key: 1.0e9 for key in ((n, g) for n in range(nodes) for g in range(GPUS_PER_NODE))}
    files, samples = [], 0
    w = t0 - t0 % WINDOW
    while w <= end:
        times = range(max(t0, w), min(end, w + WINDOW - INTERVAL) + 1, INTERVAL)
        fam: dict[str, list[str]] = {
            k: []
            for k in (
                "gpuwatch_gpu_info",
                "gpuwatch_gpu_utilization_ratio",
                "gpuwatch_gpu_energy_joules_total",
                "gpuwatch_gpu_power_watts",
                "gpuwatch_gpu_job_info",
            )
        }
        for n in range(nodes):
            for g in range(GPUS_PER_NODE):
                base = (
                    f'gpu="{g}",hourly_cost_usd="{PRICE_PER_GPU_HOUR * GPUS_PER_NODE:.2f}",instance="10.1.0.{n}:9400",'
                    f'job="gpuwatch-gpu",node="gpu-{n:02d}",pod="pod{n:02d}",uuid="GPU-{n:04d}{g:04d}-0000-4000-8000-000000000000"'
                )
                mine = by_gpu.get((n, g), [])
                info, util, en, pw, ji = [], [], [], [], []
                for t in times:
                    job = next((j for j in mine if j["start"] <= t <= j["end"]), None)
                    u = job["util"] if job else 0.0
                    info.append(f'gpuwatch_gpu_info{{{base},name="NVIDIA H100 80GB HBM3"}} 1 {t}\n')
                    util.append(f"gpuwatch_gpu_utilization_ratio{{{base}}} {u:.3f} {t}\n")
                    en.append(f"gpuwatch_gpu_energy_joules_total{{{base}}} {energy[(n, g)]:.1f} {t}\n")
                    pw.append(f"gpuwatch_gpu_power_watts{{{base}}} {60 + 400 * u:.1f} {t}\n")
                    energy[(n, g)] += (60 + 400 * u) * INTERVAL
                    if job:
                        ji.append(
                            f'gpuwatch_gpu_job_info{{{base},job_id="{job["job_id"]}",user="{job["user"]}"}} 1 {t}\n'
                        )
                fam["gpuwatch_gpu_info"] += info
                fam["gpuwatch_gpu_utilization_ratio"] += util
                fam["gpuwatch_gpu_energy_joules_total"] += en
                fam["gpuwatch_gpu_power_watts"] += pw
                # OpenMetrics: a series' samples together: sort job_info lines by series
                fam["gpuwatch_gpu_job_info"] += sorted(ji, key=lambda line: line.split("}")[0])
        path = folder / f"w{w}.om"
        with open(path, "w") as fh:
            for name, lines in fam.items():
                fh.write(f"# TYPE {name} unknown\n")
                fh.writelines(lines)
                samples += len(lines)
            fh.write("# EOF\n")
        files.append(path)
        w += WINDOW
    return files, samples


def summaries(prom, jobs, t0, end, days, source, fracs=(0.1, 0.3, 1.0), docs=None) -> list[dict]:
    """Time the --all summary over ranges holding a growing share of the jobs."""
    rows = []
    docs = docs if docs is not None else []
    for frac in fracs:
        start = end - frac * (end - t0) if frac < 1 else end - days * 86400 - 3600
        expect = sum(1 for j in jobs if j["end"] >= start)

        def one(start=start):
            client = Prometheus(Connection(url=prom.url, timeout=300))
            interval = _summary_interval(client, end)
            doc = summary(client, user=None, start=start, end=end, interval=interval, source=source)
            return client.requests, doc

        secs, (requests, doc) = best_of(1 if source == "raw" else 3, one)
        docs.append(doc)
        rows.append(
            {
                "source": doc["source"],
                "jobs": len(doc["jobs"]),
                "jobs_expected": expect,
                "range_hours": round((end - start) / 3600, 1),
                "summary_s": round(secs, 3),
                "http_requests": requests,
                "users": len(doc["users"]),
            }
        )
    return rows


def accuracy(doc: dict, jobs: list[dict], start: float, end: float) -> dict:
    """Largest error per figure against the planned truth, over the jobs wholly inside the range."""
    got = {r["job_id"]: r for r in doc["jobs"]}
    errs: dict[str, list[float]] = {
        "gpu_hours": [],
        "idle_gpu_hours": [],
        "utilization_mean": [],
        "cost_usd": [],
    }
    for j in jobs:
        if j["start"] < start or j["end"] > end or j["job_id"] not in got:
            continue
        r = got[j["job_id"]]
        hours = len(j["gpus"]) * (j["end"] - j["start"]) / 3600
        truth = {
            "gpu_hours": hours,
            "idle_gpu_hours": hours if j["util"] == 0 else 0.0,
            "utilization_mean": round(j["util"], 3),
            "cost_usd": hours * PRICE_PER_GPU_HOUR,
        }
        for k, v in truth.items():
            errs[k].append(abs((r[k] or 0.0) - v))
    out: dict = {"source": doc["source"], "jobs_checked": len(errs["gpu_hours"])}
    for k, v in errs.items():
        out[f"max_err_{k}"] = round(max(v, default=0.0), 4)
    return out


def rules_groups() -> list[dict]:
    """The default pack's compiled job recording rules (rules/pack/jobs.yml via `make generate`)."""
    compiled = Path(__file__).resolve().parent.parent / "compose/generated/prometheus/rules/jobs.yml"
    return yaml.safe_load(compiled.read_text())["groups"]


def best_of(n: int, fn):
    best, out = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(quick: bool = False) -> dict:
    nodes, days, n_jobs = (4, 2.0, 150) if quick else (16, 7.0, 1000)
    promtool = find_binary(("promtool",), "prometheus")
    rng = random.Random(12)
    now = time.time()
    t0 = int(now - days * 86400 - 3 * 3600)
    t0 -= t0 % INTERVAL
    jobs = plan_jobs(nodes, days, n_jobs, t0, rng)
    work = Path(tempfile.mkdtemp(prefix="jobstats-bench-"))
    keep = os.environ.get("JOBSTATS_BENCH_KEEP") == "1"  # leave Prometheus running (prints its URL)
    prom = None
    try:
        t = time.perf_counter()
        files, samples = write_history(work / "om", nodes, days, jobs, t0)
        t_write = time.perf_counter() - t
        t = time.perf_counter()
        create_blocks(files, work / "prom" / "data", promtool)
        t_blocks = time.perf_counter() - t
        prom = backfilled_prometheus(work / "prom", None, promtool, scrape_interval=f"{INTERVAL}s")
        t = time.perf_counter()
        prom.start_and_wait(120)
        t_start = time.perf_counter() - t
        data_end = t0 + int(days * 86400)
        end = data_end + 60
        # The pack's recording rules over the history, as Prometheus would have recorded them live:
        # promtool evaluates them against this Prometheus, then it restarts to load the blocks.
        raw_docs: list[dict] = []
        raw_rows = summaries(prom, jobs, t0, end, days, "raw", fracs=(0.1,), docs=raw_docs)
        rules_file = work / "jobs-rules.yml"
        rules_file.write_text(
            yaml.safe_dump({"groups": [dict(g, interval=f"{INTERVAL}s") for g in rules_groups()]})
        )
        t = time.perf_counter()
        proc = subprocess.run(
            [
                promtool,
                "tsdb",
                "create-blocks-from",
                "rules",
                "--quiet",
                f"--url={prom.url}",
                f"--start={t0}",
                f"--end={data_end}",
                f"--output-dir={work / 'rules-blocks'}",
                str(rules_file),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"promtool create-blocks-from rules: {proc.stderr[-800:]}")
        t_rules = time.perf_counter() - t
        prom.stop()
        for block in (work / "rules-blocks").iterdir():
            shutil.move(str(block), str(prom.data_dir / block.name))
        prom.start_and_wait(120)
        rules_docs: list[dict] = []
        rows = raw_rows + summaries(prom, jobs, t0, end, days, "rules", docs=rules_docs)
        short = end - 0.1 * (end - t0)
        agreement = [
            accuracy(raw_docs[0], jobs, short, end),
            accuracy(rules_docs[0], jobs, short, end),
            accuracy(rules_docs[-1], jobs, t0, end),
        ]
        singles = []
        for j in sorted(jobs, key=lambda j: -len(j["gpus"]) * (j["end"] - j["start"]))[:3]:
            client = Prometheus(Connection(url=prom.url, timeout=120))
            secs, rep = best_of(
                3,
                lambda j=j, client=client: job_report(
                    client, j["job_id"], since=30 * 86400, end=end, now=end
                ),
            )
            singles.append(
                {
                    "job_id": j["job_id"],
                    "gpus": len(j["gpus"]),
                    "hours": round((j["end"] - j["start"]) / 3600, 1),
                    "report_s": round(secs, 3),
                    "http_requests_per_report": client.requests // 3,
                    "gpu_hours_reported": round(rep["gpu_hours"], 2),
                }
            )
        return {
            "title": "gpuwatch-jobstats against real Prometheus (backfilled week)",
            "summary": (
                f"{nodes} nodes x {GPUS_PER_NODE} GPUs, {INTERVAL} s scrapes, {days:g} days, {len(jobs)} jobs; "
                f"{samples:,} samples backfilled (write {t_write:.1f} s, promtool {t_blocks:.1f} s, "
                f"Prometheus ready {t_start:.1f} s, recording rules backfilled by promtool {t_rules:.1f} s). Goal: --all summary for 1,000 jobs over 7 days < 5 s."
            ),
            "summary_by_jobs": rows,
            "accuracy": agreement,
            "single_job": singles,
            "notes": [
                "summary_s: best of 3 (raw: 1 run), what `gpuwatch-jobstats --all` does: scrape-interval probe, "
                "the combined query, and (rules) the rule group's interval from /api/v1/rules.",
                "source raw: subqueries over the raw series (no recording rules); source rules: the pack's recording rules.",
                "accuracy: largest per-job error against the planned values, jobs wholly inside the range "
                "(rules over backfilled history run on for up to the 5-minute lookback after a job ends: "
                "backfill has no staleness markers).",
                f"host: {os.cpu_count()} CPUs; Prometheus {prom.argv[0]}",
            ],
        }
    finally:
        if keep and prom is not None:
            print(f"kept: {prom.url} pid {prom.pid} end {end} dir {work}", file=sys.stderr)
        else:
            if prom is not None:
                prom.stop()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=os.environ.get("BENCH_QUICK") == "1" or "--quick" in sys.argv), indent=2))
