"""Long fault runs: what the exporters do when Slurm or NVML misbehave for a while.

Slurm (a real SlurmLab, the real gpuwatch-slurm-exporter polling every 2 s with a 5 s command
timeout, programs reached through a folder of wrapper scripts):
slurmctld stopped (SIGSTOP) for a minute, slurmctld killed and restarted, munged stopped, a Slurm
program missing, squeue output truncated mid-line.
GPU (gpuwatch-gpu-exporter on the simulated backend): a GPU lost for 30 s, NVML init failing
for 20 s, an XID storm of 100,000 events.

Per fault: seconds until the fault shows in the metrics, seconds from the fault's end until the
exporter is healthy again by itself, the scrapes made every 0.2 s meanwhile (failures, p99 and
max latency), threads and resident memory before and after, Slurm clients left running.
``run(quick=True)`` shortens every fault (SIGSTOP 10 s, storm 10,000 events).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from gpuwatch.localstack.stack import gpu_exporter_argv
from gpuwatch.testing.faults import slurm_exporter_under_faults_argv, wrap, wrapper_dir
from gpuwatch.testing.metrics import Scraper, parse_metrics, scrape, value
from gpuwatch.testing.procs import (
    children_of,
    exporter_process,
    free_port,
    rss_kib,
    thread_count,
    wait_http,
    zombies_of,
)

POLL, TIMEOUT = 2.0, 5.0
COLLECTORS = ("jobs", "nodes", "partitions", "scheduler")


def _wait(port, pred, timeout) -> float | None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            status, body = scrape(port)
            if status == 200 and pred(parse_metrics(body)):
                return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.2)
    return None


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000 if xs else float("nan")


def fault_run(name, exp, port, healthy, shows, inject, restore, duration, recovered=None) -> dict:
    """Inject a fault for ``duration`` s while scraping; measure detection and recovery.

    ``healthy`` must hold before the fault, ``recovered`` (default: ``healthy``) after it."""
    recovered = recovered or healthy
    if _wait(port, healthy, 60) is None:
        raise RuntimeError(f"{name}: exporter not healthy before the fault")
    time.sleep(1)
    threads0, rss0 = thread_count(exp.pid), rss_kib(exp.pid)
    peak_children = 0
    with Scraper(port, interval=0.2, timeout=5) as scraper:
        t_inject = time.monotonic()
        inject()
        detect = None
        try:
            while time.monotonic() - t_inject < duration:
                peak_children = max(peak_children, len(children_of(exp.pid)))
                if detect is None:
                    status, body = scrape(port)
                    if status == 200 and shows(parse_metrics(body)):
                        detect = time.monotonic() - t_inject
                time.sleep(0.2)
        finally:
            restore()
        recover = _wait(port, recovered, 120)
        time.sleep(1)
    lingering = [c for c in children_of(exp.pid) if c[2] > TIMEOUT + 1]
    log = scraper.log
    exp.check_alive()
    return {
        "fault": name,
        "fault_s": duration,
        "shown_after_s": round(detect, 1) if detect is not None else "never",
        "recovered_after_s": round(recover, 1) if recover is not None else "never",
        "scrapes": log.ok + len(log.failures),
        "scrape_failures": len(log.failures),
        "scrape_p99_ms": round(_pct(log.latencies, 99), 1),
        "scrape_max_ms": round(log.max_latency * 1000, 1),
        "threads_before": threads0,
        "threads_after": thread_count(exp.pid),
        "rss_growth_kib": rss_kib(exp.pid) - rss0,
        "peak_slurm_clients": peak_children,
        "lingering_clients_or_zombies": len(lingering) + len(zombies_of(exp.pid)),
    }


# --- Slurm -------------------------------------------------------------------------------------


def slurm_faults(quick: bool) -> list[dict]:
    from gpuwatch.localstack.slurm import SlurmLab

    stop_s = 10 if quick else 60
    other_s = 15 if quick else 30
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpuwatch-faults-") as tmp, SlurmLab(Path(tmp) / "lab") as lab:
        for i in range(3):
            lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", f"fault{i}", "--wrap", "sleep 3600"])
        bins = wrapper_dir(Path(tmp) / "bin")
        port = free_port()
        argv = slurm_exporter_under_faults_argv(port, bins, POLL, TIMEOUT, "--log.level=warn")

        def healthy(m):
            return value(m, "gpuwatch_slurm_up") == 1 and all(
                value(m, "gpuwatch_slurm_collector_success", collector=c) == 1 for c in COLLECTORS
            )

        def up0(m):
            return value(m, "gpuwatch_slurm_up") == 0

        with exporter_process(argv, env=lab.env) as exp:
            wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
            rows.append(
                fault_run(
                    "slurmctld SIGSTOP",
                    exp,
                    port,
                    healthy,
                    up0,
                    lambda: os.kill(lab.slurmctld_pid, signal.SIGSTOP),
                    lambda: os.kill(lab.slurmctld_pid, signal.SIGCONT),
                    stop_s,
                )
            )
            rows.append(
                fault_run(
                    "slurmctld SIGKILL, restarted",
                    exp,
                    port,
                    healthy,
                    up0,
                    lambda: os.kill(lab.slurmctld_pid, signal.SIGKILL),
                    lab.restart_slurmctld,
                    other_s,
                )
            )
            rows.append(
                fault_run(
                    "munged stopped",
                    exp,
                    port,
                    healthy,
                    up0,
                    lambda: lab._stop_proc("munged"),
                    lab._start_munged,
                    other_s,
                )
            )
            rows.append(
                fault_run(
                    "sdiag missing",
                    exp,
                    port,
                    healthy,
                    lambda m: value(m, "gpuwatch_slurm_collector_success", collector="scheduler") == 0,
                    lambda: (bins / "sdiag").unlink(),
                    lambda: wrap(bins, "sdiag"),
                    other_s,
                )
            )
            rows.append(
                fault_run(
                    "squeue output cut mid-line",
                    exp,
                    port,
                    healthy,
                    lambda m: (
                        (value(m, "gpuwatch_slurm_bad_lines_total", command="squeue") or 0) > 0
                        or value(m, "gpuwatch_slurm_collector_success", collector="jobs") == 0
                    ),
                    lambda: wrap(
                        bins,
                        "squeue",
                        'out=$(REAL "$@"); n=$(printf %s "$out" | head -n 1 | wc -c); '
                        'printf %s "$out" | head -c $((n + n / 2))\n',
                    ),
                    lambda: wrap(bins, "squeue"),
                    other_s,
                )
            )
    return rows


# --- GPU ---------------------------------------------------------------------------------------

GPU_SCENARIO = """\
description: fault bench
driver_version: "550.54.15"
defaults:
  name: NVIDIA H100 80GB HBM3
  memory_total: 81559MiB
  power_limit: 700
  values: {{utilization: 0.5, temperature: 60, power: 400, memory_used: 10GiB}}
gpus:
{gpus}
faults:
{faults}
"""


def _gpu_exporter(tmp: Path, faults: list[str], ngpus: int = 8):
    gpus = "\n".join(
        f'  - {{uuid: GPU-fb000000-0000-4000-8000-{i:012d}, pci_bus_id: "00000000:{0x18 + i:02X}:00.0", minor: {i}}}'
        for i in range(ngpus)
    )
    path = tmp / f"scenario-{len(list(tmp.iterdir()))}.yaml"
    path.write_text(GPU_SCENARIO.format(gpus=gpus, faults="\n".join(f"  - {f}" for f in faults)))
    port = free_port()
    argv = gpu_exporter_argv(
        port,
        path,
        *("--collect.interval=1s", "--collect.max-age=5s", "--log.level=warn"),
        *("--nvml.init-retry-min=0.5s", "--nvml.init-retry-max=4s"),
    )
    return port, exporter_process(argv)


def gpu_faults(quick: bool) -> list[dict]:
    lost_s = 10 if quick else 30
    init_s = 8 if quick else 20
    storm = 10_000 if quick else 100_000
    rows = []
    with tempfile.TemporaryDirectory(prefix="gpuwatch-gpufaults-") as tmpd:
        tmp = Path(tmpd)
        start_at = 8.0  # scenario time of the fault: after start-up and the healthy check

        def all_up(m):
            return value(m, "gpuwatch_nvml_up") == 1 and all(
                value(m, "gpuwatch_gpu_up", gpu=str(i)) == 1 for i in range(8)
            )

        # GPU 3 lost: the "inject" is the scenario's clock; we wait for it
        port, ctx = _gpu_exporter(
            tmp, [f"{{kind: lost, gpu: 3, at: {start_at}, until: {start_at + lost_s}}}"]
        )
        with ctx as exp:
            wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
            t0 = time.monotonic()
            row = fault_run(
                "GPU lost (1 of 8)",
                exp,
                port,
                all_up,
                lambda m: value(m, "gpuwatch_gpu_up", gpu="3") == 0,
                lambda: time.sleep(max(0.0, start_at - (time.monotonic() - t0))),
                lambda: None,
                lost_s,
            )
            rows.append(row)
        port, ctx = _gpu_exporter(tmp, [f"{{kind: nvml_init_failure, at: 0, until: {init_s}}}"])
        with ctx as exp:
            wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
            t0 = time.monotonic()
            m = parse_metrics(scrape(port)[1])
            shown = value(m, "gpuwatch_nvml_up") == 0
            recover = _wait(port, all_up, init_s + 60)
            rows.append(
                {
                    "fault": "NVML init failing",
                    "fault_s": init_s,
                    "shown_after_s": 0.0 if shown else "never",
                    "recovered_after_s": round(max(0.0, (time.monotonic() - t0) - init_s), 1)
                    if recover is not None
                    else "never",
                    "threads_after": thread_count(exp.pid),
                    "nvml_init_errors": value(
                        parse_metrics(scrape(port)[1]), "gpuwatch_nvml_errors_total", error="DriverNotLoaded"
                    ),
                }
            )
        port, ctx = _gpu_exporter(tmp, [f"{{kind: xid, gpu: 0, at: {start_at}, xid: 13, count: {storm}}}"])
        with ctx as exp:
            wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
            t0 = time.monotonic()
            row = fault_run(
                f"XID storm ({storm:,} events)",
                exp,
                port,
                all_up,
                lambda m: (value(m, "gpuwatch_gpu_xid_events_total", gpu="0") or 0) > 0,
                lambda: time.sleep(max(0.0, start_at - (time.monotonic() - t0))),
                lambda: None,
                0.5,
                recovered=lambda m: all_up(m) and value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == storm,
            )
            m = parse_metrics(scrape(port)[1])
            row["shown_after_s"] = "-"  # the storm is one burst: what matters is when all are counted
            if isinstance(row["recovered_after_s"], float):
                row["recovered_after_s"] = (
                    f"all counted {row['recovered_after_s'] + 0.5:.1f} s after the burst"
                )
            row["events_counted"] = value(m, "gpuwatch_gpu_xid_events_total", gpu="0")
            row["exact"] = (
                row["events_counted"] == storm
                and value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="13") == storm
            )
            rows.append(row)
    return rows


def run(quick: bool = False) -> dict:
    out = {
        "title": "Faults: the exporters under Slurm and NVML failures",
        "summary": (
            "Every fault runs while a scraper polls /metrics every 0.2 s. 'shown after' counts from the "
            "fault's start, 'recovered after' from its end (no restart of the exporter). Slurm exporter: "
            f"poll interval {POLL:g} s, command timeout {TIMEOUT:g} s."
        ),
    }
    try:
        out["slurm exporter"] = slurm_faults(quick)
    except ImportError as exc:
        out["slurm exporter"] = [{"fault": "all", "skipped": f"not available: {exc}"}]
    out["gpu exporter"] = gpu_faults(quick)
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=os.environ.get("BENCH_QUICK") == "1" or "--quick" in sys.argv), indent=2))
