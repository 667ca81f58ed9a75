"""NVML faults on the simulated backend, against the real gpuwatch-gpu-exporter process.

Each test runs the exporter CLI with a short scenario (times are seconds since exporter start),
scrapes it continuously in the background as Prometheus would, and checks that the fault shows
in the metrics, that every scrape during it succeeded quickly, that the exporter recovers by
itself, and that it leaves no extra threads behind.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from gpuwatch.localstack.stack import gpu_exporter_argv
from gpuwatch.testing.metrics import Scraper, parse_metrics, scrape, value, wait_metrics
from gpuwatch.testing.procs import exporter_process, free_port, thread_count, wait_http

pytestmark = pytest.mark.load

GPUS = """\
description: fault test
driver_version: "550.54.15"
defaults:
  name: NVIDIA H100 80GB HBM3
  memory_total: 81559MiB
  power_limit: 700
  values:
    utilization: 0.5
    temperature: 60
    power: 400
    memory_used: 10GiB
gpus:
{gpus}
faults:
{faults}
"""


def scenario(tmp_path, ngpus: int, faults: list[str]) -> Path:
    gpus = "\n".join(
        f'  - {{uuid: GPU-f0000000-0000-4000-8000-{i:012d}, pci_bus_id: "00000000:{0x18 + i:02X}:00.0", minor: {i}}}'
        for i in range(ngpus)
    )
    p = tmp_path / "scenario.yaml"
    p.write_text(GPUS.format(gpus=gpus, faults="\n".join(f"  - {f}" for f in faults)))
    return p


def start(tmp_path, path: Path, *extra: str):
    port = free_port()
    argv = gpu_exporter_argv(
        port,
        path,
        "--collect.interval=0.25s",
        "--collect.max-age=2s",
        "--nvml.init-retry-min=0.2s",
        "--nvml.init-retry-max=0.5s",
        *extra,
    )
    return port, exporter_process(argv)


def assert_scrapes_unaffected(scraper: Scraper) -> None:
    log = scraper.log
    assert log.failures == [], log.failures[:5]
    assert log.ok >= 10, log.ok
    assert log.max_latency < 1.5, (
        f"slowest scrape {log.max_latency:.2f} s"
    )  # generous for a loaded CI machine


@contextlib.contextmanager
def faulty_exporter(tmp_path, ngpus: int, faults: list[str], scrape_every: float = 0.2):
    """The exporter on a scenario with ``faults``, answering, scraped in the background every
    ``scrape_every`` s: yields (exporter, port); on exit every scrape must have been quick."""
    port, ctx = start(tmp_path, scenario(tmp_path, ngpus, faults))
    with ctx as exp:
        wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
        with Scraper(port, interval=scrape_every) as scraper:
            yield exp, port
    assert_scrapes_unaffected(scraper)


def gpu_up(gpu: str, up: int):
    return lambda m: value(m, "gpuwatch_gpu_up", gpu=gpu) == up


def test_gpu_lost_mid_run_then_back(tmp_path):
    lost = "{kind: lost, gpu: 1, at: 3, until: 7, error: GpuIsLost}"
    with faulty_exporter(tmp_path, 2, [lost]) as (exp, port):
        wait_metrics(port, gpu_up("1", 1), 10, "both GPUs up")
        threads_before = thread_count(exp.pid)
        m = wait_metrics(port, gpu_up("1", 0), 10, "GPU 1 reported down")
        # the other GPU and NVML itself are unaffected; the error is counted
        assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
        assert value(m, "gpuwatch_nvml_up") == 1
        assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="0") == 60
        m = wait_metrics(port, gpu_up("1", 1), 15, "GPU 1 back by itself")
        assert (value(m, "gpuwatch_nvml_errors_total", error="GpuIsLost") or 0) >= 1
        assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="1") == 60
        time.sleep(1)
        assert thread_count(exp.pid) <= threads_before, "threads leaked over the fault"
        exp.check_alive()


def test_nvml_init_failing_then_recovering(tmp_path):
    failing = "{kind: nvml_init_failure, at: 0, until: 4, error: DriverNotLoaded}"
    with faulty_exporter(tmp_path, 2, [failing]) as (exp, port):
        # serves from the first moment, with nvml_up 0, while init keeps failing
        status, body = scrape(port)
        m = parse_metrics(body)
        assert status == 200 and value(m, "gpuwatch_nvml_up") == 0, body.decode()[:2000]
        assert value(m, "gpuwatch_gpu_up", gpu="0") in (None, 0)
        wait_metrics(
            port,
            lambda m: (value(m, "gpuwatch_nvml_errors_total", error="DriverNotLoaded") or 0) >= 2,
            5,
            "retries counted",
        )
        m = wait_metrics(
            port,
            lambda m: value(m, "gpuwatch_nvml_up") == 1 and value(m, "gpuwatch_gpu_up", gpu="1") == 1,
            15,
            "NVML initialised after the failure ended",
        )
        assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
        exp.check_alive()
        assert "nvml init failed" in exp.log()
        # one log line per kind of failure, not one per retry
        assert exp.log().count("nvml init failed;") == 1, exp.log()


def test_xid_storm_of_10000_events_counted_exactly(tmp_path):
    storm = [
        "{kind: xid, gpu: 0, at: 3, xid: 13, count: 10000}",
        "{kind: xid, gpu: 0, at: 3.5, xid: 31, count: 7}",
    ]
    with faulty_exporter(tmp_path, 2, storm, scrape_every=0.1) as (exp, port):
        m = wait_metrics(
            port,
            lambda m: value(m, "gpuwatch_gpu_xid_events_total", gpu="1") is not None,
            10,
            "per-GPU XID totals exist",
        )
        # the per-GPU total exists from start-up at 0 (so rate() sees the first event)
        assert value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 0
        wait_metrics(
            port,
            lambda m: value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 10007,
            30,
            "all 10,007 events counted",
        )
        time.sleep(2)  # nothing more arrives: no double counting
        m = parse_metrics(scrape(port)[1])
        assert value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 10007
        assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="13") == 10000
        assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="31") == 7
        assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 0
        assert value(m, "gpuwatch_gpu_up", gpu="0") == 1 and value(m, "gpuwatch_gpu_up", gpu="1") == 1
        exp.check_alive()
