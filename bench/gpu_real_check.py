#!/usr/bin/env python3
"""Check gpuwatch-gpu-exporter against the real GPUs of this machine (needs a driver).

Prepared for a session that has a GPU machine; it is not part of ``make test`` or ``make bench``.
It runs the real command without a scenario on a free loopback port, waits for
``gpuwatch_nvml_up 1``, checks that every core metric is present for every GPU with a sane value,
and compares one full in-process read of all GPUs (default collectors) with
``nvidia-smi --query-gpu=<same fields>`` for the same fields. Prints JSON; exit 1 on a failed check.

    python bench/gpu_real_check.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request

from gpuwatch.localstack.stack import gpu_exporter_argv
from gpuwatch.testing import free_port, parse_metrics
from gpuwatch.testing.procs import stop_process

CORE = {
    # metric: (low, high) sane range per GPU
    "gpuwatch_gpu_up": (1, 1),
    "gpuwatch_gpu_info": (1, 1),
    "gpuwatch_gpu_utilization_ratio": (0, 1),
    "gpuwatch_gpu_memory_used_bytes": (0, 2**41),
    "gpuwatch_gpu_memory_free_bytes": (0, 2**41),
    "gpuwatch_gpu_temperature_celsius": (5, 110),
    "gpuwatch_gpu_power_watts": (1, 2000),
    "gpuwatch_gpu_energy_joules_total": (0, 1e15),
    "gpuwatch_gpu_xid_events_total": (0, 1e9),
    "gpuwatch_gpu_ecc_errors_total": (0, 1e12),
}
SMI_FIELDS = "index,uuid,name,pci.bus_id,utilization.gpu,memory.used,memory.free,temperature.gpu,power.draw,clocks.sm,clocks.mem,pstate,ecc.errors.corrected.aggregate.total"


def scrape(port: int) -> dict:
    """{series name: [(labels, value), ...]} of one scrape."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        samples = parse_metrics(r.read())
    out: dict = {}
    for (name, labels), v in samples.items():
        out.setdefault(name, []).append((dict(labels), v))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    result: dict = {"checks": [], "ok": True}

    def check(name: str, ok: bool, detail: str = "") -> None:
        result["checks"].append({"check": name, "ok": ok, "detail": detail})
        result["ok"] &= ok

    port = free_port()
    proc = subprocess.Popen(
        gpu_exporter_argv(port, None, "--log.level=warn"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        m: dict = {}
        while time.monotonic() < deadline:
            try:
                m = scrape(port)
                if m.get("gpuwatch_nvml_up", [({}, 0)])[0][1] == 1 and m.get("gpuwatch_gpu_up"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        check("nvml_up", m.get("gpuwatch_nvml_up", [({}, 0)])[0][1] == 1)
        gpus = sorted({lb["gpu"] for lb, _ in m.get("gpuwatch_gpu_info", [])})
        result["gpus"] = len(gpus)
        for name, (lo, hi) in CORE.items():
            for g in gpus:
                vals = [v for lb, v in m.get(name, []) if lb.get("gpu") == g]
                check(f"{name}{{gpu={g}}}", bool(vals) and all(lo <= v <= hi for v in vals), str(vals))
        result["scrape_bytes"] = sum(len(v) for v in m.values())
        lat = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            scrape(port)
            lat.append((time.perf_counter() - t0) * 1000)
        result["scrape_p50_ms"] = statistics.median(lat)
        with open(f"/proc/{proc.pid}/status") as f:
            result["rss_mb"] = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    finally:
        stop_process(proc)

    # one full read of every GPU in-process, beside nvidia-smi for the same fields
    from gpuwatch.exporters.gpu import nvml
    from gpuwatch.exporters.gpu.collectors.base import Options
    from gpuwatch.exporters.gpu.exporter import GpuExporter

    exp = GpuExporter(
        lambda: nvml.load_module(None),
        ["utilization", "memory", "thermal", "power", "clocks", "ecc"],
        Options(),
        threaded=False,
    )
    exp.collect_once()
    times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        exp.collect_once()
        times.append((time.perf_counter() - t0) * 1000)
    exp.stop()
    result["exporter_read_all_gpus_ms_p50"] = statistics.median(times)
    smi = shutil.which("nvidia-smi")
    if smi:
        st = []
        for _ in range(min(args.rounds, 10)):
            t0 = time.perf_counter()
            subprocess.run(
                [smi, f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader,nounits"],
                check=True,
                capture_output=True,
            )
            st.append((time.perf_counter() - t0) * 1000)
        result["nvidia_smi_query_ms_p50"] = statistics.median(st)
        result["ratio_smi_over_exporter"] = result["nvidia_smi_query_ms_p50"] / max(
            result["exporter_read_all_gpus_ms_p50"], 1e-6
        )
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
