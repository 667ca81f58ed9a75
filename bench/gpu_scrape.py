#!/usr/bin/env python3
"""Scrape cost of gpuwatch-gpu-exporter on simulated GPUs: latency p50/p99 and resident memory.

Runs the real command (``python -m gpuwatch.exporters.gpu``) on a scenario with 1..8 GPUs and
scrapes it over HTTP on loopback with one keep-alive connection:

* ``fresh``: one scrape per collection cycle, so every scrape renders a new snapshot (what
  Prometheus sees at any scrape interval longer than ``--collect.interval``);
* ``cached``: back-to-back scrapes of an unchanged snapshot (many scrapers, or a fast interval);
* ``read``: what read-on-scrape would have cost: one full read of every GPU through the same
  collectors (in-process, simulated NVML: a lower bound, real NVML calls are slower);
* ``rss``: the exporter's resident memory (VmRSS) after the run, and its peak (VmHWM).

Goal (issue 3): with 8 GPUs, p50 < 5 ms and < 40 MB resident.
Standalone: ``python bench/gpu_scrape.py [--quick]``; ``run(quick) -> dict`` for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gpuwatch.localstack.stack import gpu_exporter_argv
from gpuwatch.testing.procs import free_port, stop_process

GOAL_P50_MS = 5.0
GOAL_RSS_MB = 40.0


def scenario(n: int) -> str:
    lines = [
        "defaults:",
        "  name: NVIDIA H100 80GB HBM3",
        "  nvlinks: 18",
        "  values: {utilization: {base: 0.8, amplitude: 0.1, period: 30}, memory_used: 40GiB, temperature: {base: 60, amplitude: 4, period: 20},"
        " power: {base: 500, amplitude: 50, period: 10}}",
        "gpus:",
    ]
    for i in range(n):
        lines.append(f"  - {{uuid: GPU-be0c0000-0000-4000-8000-{i:012x}, minor: {i}}}")
    lines.append("processes:")
    for i in range(n):
        lines.append(f"  - {{gpu: {i}, pid: {4_000_000 + i}, memory_used: 30GiB}}")
    lines.append("faults:")
    lines.append("  - {kind: xid, gpu: 0, at: 1, xid: 13, count: 3}")
    return "\n".join(lines) + "\n"


def _rss(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _scrape(conn: http.client.HTTPConnection) -> tuple[float, int]:
    t0 = time.perf_counter()
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise RuntimeError(f"scrape failed: {r.status}")
    return dt, len(body)


def measure(n: int, fresh: int, cached: int, interval: float = 0.1) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"bench-{n}.yaml"
        path.write_text(scenario(n))
        port = free_port()
        proc = subprocess.Popen(
            gpu_exporter_argv(
                port, path, f"--collect.interval={interval}s", f"--gpu.proc-root={tmp}", "--log.level=warn"
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    _, size = _scrape(conn)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"exporter did not start: {proc.stderr.read().decode() if proc.poll() is not None else 'timeout'}"
                        ) from None
                    time.sleep(0.05)
            time.sleep(1.5)  # every GPU read a few times, XID events counted
            fresh_lat = []
            for _ in range(fresh):
                time.sleep(interval * 1.2)  # a new snapshot is waiting: this scrape renders it
                dt, size = _scrape(conn)
                fresh_lat.append(dt)
            cached_lat = [_scrape(conn)[0] for _ in range(cached)]
            rss, hwm = _rss(proc.pid)
            conn.close()
        finally:
            stop_process(proc)
    return {
        "gpus": n,
        "series_bytes": size,
        "fresh_p50_ms": statistics.median(fresh_lat) * 1000,
        "fresh_p99_ms": _pct(fresh_lat, 99) * 1000,
        "cached_p50_ms": statistics.median(cached_lat) * 1000,
        "cached_p99_ms": _pct(cached_lat, 99) * 1000,
        "rss_mb": rss,
        "rss_peak_mb": hwm,
    }


def read_cycle_ms(n: int, rounds: int) -> float:
    """One full read of n GPUs through every default collector (what read-on-scrape would cost)."""
    from gpuwatch.exporters.gpu.collectors.base import Options
    from gpuwatch.exporters.gpu.exporter import GpuExporter
    from gpuwatch.exporters.gpu.sim import pynvml as sim

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(scenario(n))
        sim.load(path)
        exp = GpuExporter(lambda: sim, None, Options(proc_root=tmp), threaded=False)
        exp.collect_once()
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            exp.collect_once()
            exp.render()
            times.append(time.perf_counter() - t0)
        exp.stop()
    return statistics.median(times) * 1000


def run(quick: bool = False) -> dict:
    sizes = (1, 8) if quick else (1, 2, 4, 8)
    fresh, cached = (30, 100) if quick else (150, 500)
    rows = []
    for n in sizes:
        row = measure(n, fresh, cached)
        row["read_on_scrape_ms"] = read_cycle_ms(n, 5 if quick else 20)
        rows.append(row)
    eight = rows[-1]
    one = rows[0]
    return {
        "benchmark": "gpu_scrape",
        "rows": rows,
        "p50_ms_8gpu": eight["fresh_p50_ms"],
        "p99_ms_8gpu": eight["fresh_p99_ms"],
        "rss_mb_8gpu": eight["rss_mb"],
        "goal_p50_met": eight["fresh_p50_ms"] < GOAL_P50_MS,
        "goal_rss_met": eight["rss_mb"] < GOAL_RSS_MB,
        "growth_p50_8_over_1": eight["fresh_p50_ms"] / one["fresh_p50_ms"],
        "snapshot_vs_read_on_scrape_8gpu": eight["read_on_scrape_ms"] / eight["fresh_p50_ms"],
    }


def report(res: dict) -> str:
    out = ["gpuwatch-gpu-exporter scrape cost (simulated GPUs, loopback HTTP, keep-alive)", ""]
    out.append(
        f"{'GPUs':>4} {'body KB':>8} {'fresh p50':>10} {'fresh p99':>10} {'cached p50':>11} {'cached p99':>11} {'read-on-scrape':>15} {'RSS MB':>7} {'peak MB':>8}"
    )
    for r in res["rows"]:
        out.append(
            f"{r['gpus']:>4} {r['series_bytes'] / 1024:>8.1f} {r['fresh_p50_ms']:>8.2f}ms {r['fresh_p99_ms']:>8.2f}ms "
            f"{r['cached_p50_ms']:>9.2f}ms {r['cached_p99_ms']:>9.2f}ms {r['read_on_scrape_ms']:>13.2f}ms {r['rss_mb']:>7.1f} {r['rss_peak_mb']:>8.1f}"
        )
    out.append("")
    out.append(
        f"8 GPUs: p50 {res['p50_ms_8gpu']:.2f} ms (goal < {GOAL_P50_MS} ms: {'met' if res['goal_p50_met'] else 'MISSED'}), "
        f"RSS {res['rss_mb_8gpu']:.1f} MB (goal < {GOAL_RSS_MB} MB: {'met' if res['goal_rss_met'] else 'MISSED'})"
    )
    out.append(
        f"p50 growth 8 GPUs / 1 GPU: x{res['growth_p50_8_over_1']:.2f}; "
        f"read-on-scrape / snapshot scrape at 8 GPUs: x{res['snapshot_vs_read_on_scrape_8gpu']:.2f}"
    )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes and requests")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    res = run(args.quick)
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
