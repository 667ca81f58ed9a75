"""Load: 50 concurrent scrapers for 30 s against each exporter.

For every target the exporter runs as its own process on loopback; after a warm-up at the same
concurrency (so thread stacks and malloc arenas exist before the baseline) its resident memory
is read, the load runs, and memory and thread count are read again. Reported: requests, errors
(by kind), p50/p99/max latency, requests/s, RSS growth, threads left over.

Targets:
- ``http-layer``: ``gpuwatch.testing.trivial_exporter`` (fixed 8-GPU-sized payload), plain HTTP,
  then HTTPS with basic auth (certificates made on the fly), then prometheus_client's ``start_http_server``
  with the same payload, side by side;
- ``slurm-exporter``: gpuwatch-slurm-exporter against a real SlurmLab with queued jobs;
- ``gpu-exporter``: gpuwatch-gpu-exporter on the simulated NVML backend with 8 GPUs.

``python bench/load.py [--quick] [--seconds N] [--clients N] [--only NAME]``; ``run(quick)`` is
what ``bench/run_all.py`` calls. Goal: no errors, RSS growth under 5 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from gpuwatch.localstack.stack import gpu_exporter_argv, slurm_exporter_argv
from gpuwatch.testing.loadgen import GPU_SCENARIO, RSS_GOAL_KIB, measure
from gpuwatch.testing.procs import (
    exporter_process,
    free_port,
    trivial_exporter_argv,
    wait_http,
)
from gpuwatch.testing.tls import PASSWORD, USER, make_tls_and_auth

# --- targets -------------------------------------------------------------------------------------


def http_layer(clients: int, seconds: float, warmup: float) -> dict:
    out = {}
    script = trivial_exporter_argv()
    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-") as tmp:
        cfg, cafile = make_tls_and_auth(Path(tmp))
        variants = [
            ("gpuwatch http", script, "http", None, None),
            (
                "gpuwatch https+basic auth",
                script + ["--web.config.file", str(cfg)],
                "https",
                (USER, PASSWORD),
                cafile,
            ),
            ("prometheus_client start_http_server", script + ["--prometheus-client"], "http", None, None),
        ]
        for name, argv, scheme, auth, ca in variants:
            with exporter_process(argv, ready_line="listening") as exp:
                url = f"{scheme}://127.0.0.1:{exp.port}/metrics"
                wait_http(url, auth=auth, cafile=ca, exporter=exp)
                out[name] = measure(exp.pid, url, clients, seconds, warmup, auth=auth, cafile=ca)
    return out


def slurm_exporter(clients: int, seconds: float, warmup: float) -> dict:
    from gpuwatch.localstack.slurm import SlurmLab

    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-slurm-") as tmp, SlurmLab(tmp) as lab:
        for i in range(20):
            lab.sbatch(["-p", "gpu", "--gres=gpu:1", "--wrap", "sleep 600", "-J", f"load{i}"])
        port = free_port()
        # collections keep running under the load (every 2 s instead of the default 30 s)
        argv = slurm_exporter_argv(port, "--slurm.poll-interval=2", "--log.level=warn")
        with exporter_process(argv, env=lab.env) as exp:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, exporter=exp)
            return {
                "slurm exporter (real SlurmLab, 20 jobs, polling every 2 s)": measure(
                    exp.pid, url, clients, seconds, warmup
                )
            }


def gpu_exporter(clients: int, seconds: float, warmup: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-gpu-") as tmp:
        scenario = Path(tmp) / "scenario.yml"
        scenario.write_text(GPU_SCENARIO)
        port = free_port()
        argv = gpu_exporter_argv(port, scenario, "--log.level=warn")
        with exporter_process(argv) as exp:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, exporter=exp)
            return {"gpu exporter (simulated, 8 GPUs)": measure(exp.pid, url, clients, seconds, warmup)}


TARGETS = {"http-layer": http_layer, "slurm-exporter": slurm_exporter, "gpu-exporter": gpu_exporter}


def run(
    quick: bool = False, clients: int = 50, seconds: float | None = None, only: str | None = None
) -> dict:
    seconds = seconds if seconds is not None else (5.0 if quick else 30.0)
    warmup = 1.0 if quick else 5.0
    results = {
        "title": f"Load: {clients} concurrent scrapers for {seconds:.0f} s per exporter",
        "summary": (
            "Half the scrapers keep their connection alive, half reconnect for every scrape; they run "
            "in several processes. RSS growth is measured after a warm-up at the same concurrency. "
            "Goal: no errors, RSS growth under 5 MB. prometheus_client's own server serves the same "
            "payload as the HTTP-layer stand-in, for comparison."
        ),
        "clients": clients,
        "seconds": seconds,
        "rss_goal_kib": RSS_GOAL_KIB,
        "targets": {},
    }
    for name, fn in TARGETS.items():
        if only and name != only:
            continue
        try:
            results["targets"][name] = fn(clients, seconds, warmup)
        except Exception as exc:  # noqa: BLE001 (one broken target must not hide the others' numbers)
            results["targets"][name] = {"failed": f"{type(exc).__name__}: {exc}"}
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--only", choices=list(TARGETS))
    args = ap.parse_args()
    res = run(args.quick, args.clients, args.seconds, args.only)
    print(json.dumps(res, indent=2))
    bad = [
        f"{t}/{v}"
        for t, group in res["targets"].items()
        for v, r in group.items()
        if isinstance(r, dict) and not r.get("ok", True)
    ]
    return 1 if bad or any("failed" in g for g in res["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
