"""XID events: counted once per GPU and code, totals from 0, XID 79 marks the GPU down, storms."""

from __future__ import annotations

import threading
import time

from gpuwatch.exporters.gpu.collectors.base import Options
from gpuwatch.exporters.gpu.exporter import GpuExporter
from gpuwatch.exporters.gpu.sim import pynvml as sim

from .helpers import parse_metrics, series, value

GPUS = """
gpus:
  - {uuid: GPU-aaaaaaaa-0000-4000-8000-000000000000}
  - {uuid: GPU-bbbbbbbb-0000-4000-8000-000000000000}
  - {uuid: GPU-cccccccc-0000-4000-8000-000000000000}
faults:
"""


def drain(exp) -> int:
    n = 0
    while exp.watcher.run_once(timeout_ms=0):
        n += 1
    return n


def test_xid_totals_exist_from_start_at_zero(make_exporter, clock):
    exp = make_exporter(GPUS + "  - {kind: xid, gpu: 0, at: 50, xid: 13}\n")
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert {dict(k)["gpu"]: v for k, v in series(m, "gpuwatch_gpu_xid_events_total").items()} == {
        "0": 0,
        "1": 0,
        "2": 0,
    }
    assert not series(m, "gpuwatch_gpu_xid_errors_total")


def test_each_event_counted_once_per_gpu_and_code(make_exporter, clock):
    exp = make_exporter(
        GPUS
        + """\
  - {kind: xid, gpu: 0, at: 1, xid: 13}
  - {kind: xid, gpu: 0, at: 2, xid: 13}
  - {kind: xid, gpu: 0, at: 2, xid: 31, count: 3}
  - {kind: xid, gpu: 2, at: 3, xid: 48}
  - {kind: xid, gpu: 1, at: 100, xid: 13}
"""
    )
    exp.collect_once()
    clock.t = 5
    assert drain(exp) == 6
    assert drain(exp) == 0  # nothing counted twice
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="13") == 2
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="31") == 3
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="2", xid="48") == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 5
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 0
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="2") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1  # XID 13 is not fatal to the GPU


def test_xid_79_marks_gpu_down_until_it_answers_again(make_exporter, clock):
    exp = make_exporter(GPUS + "  - {kind: xid, gpu: 1, at: 10, until: 30, xid: 79}\n")
    clock.t = 9
    exp.collect_once()
    clock.t = 10
    assert drain(exp) == 1
    m = parse_metrics(exp.render())  # before any new read: the event alone marks it down
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 0
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="1", xid="79") == 1
    clock.t = 20
    exp.collect_once()  # the GPU is lost: GpuIsLost on every read
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 0
    assert value(m, "gpuwatch_gpu_info", gpu="1") == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 1
    clock.t = 31
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 1  # counters never go back


def test_counts_survive_nvml_reinit(make_exporter, clock):
    exp = make_exporter(
        GPUS
        + """\
  - {kind: xid, gpu: 0, at: 1, xid: 13}
  - {kind: nvml_init_failure, at: 5, until: 6}
  - {kind: xid, gpu: 0, at: 20, xid: 13}
""",
        retry_min=1,
        retry_max=1,
    )
    exp.collect_once()
    clock.t = 2
    drain(exp)
    clock.t = 5.5
    exp.collect_once()
    assert value(parse_metrics(exp.render()), "gpuwatch_nvml_up") == 0
    clock.t = 7
    exp.collect_once()
    clock.t = 21
    drain(exp)
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_nvml_up") == 1
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="13") == 2


def test_event_storm_never_blocks_scrapes(tmp_path):
    n = 30_000
    path = tmp_path / "storm.yaml"
    path.write_text(GPUS + f"  - {{kind: xid, gpu: 2, at: 0.3, xid: 94, count: {n}}}\n")
    sim.load(path)
    exp = GpuExporter(lambda: sim, None, Options(proc_root=str(tmp_path)), interval=0.2, max_age=1.0)
    exp.start()
    try:
        lat = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            m = parse_metrics(exp.render())
            lat.append(time.perf_counter() - t0)
            got = value(m, "gpuwatch_gpu_xid_events_total", gpu="2")
            if got == n:
                break
            time.sleep(0.01)
        assert got == n, f"counted {got} of {n} events"
        assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="2", xid="94") == n
        assert value(m, "gpuwatch_gpu_up", gpu="2") == 1
        lat.sort()
        assert len(lat) >= 5, "storm ended before scrapes could overlap it"
        assert lat[-1] < 0.5, f"slowest scrape during the storm: {lat[-1]:.3f}s"
    finally:
        exp.stop()
    assert not any(t.name == "xid-events" and t.is_alive() for t in threading.enumerate())


def test_gpu_without_xid_events_fails_the_xid_collector(make_exporter, clock):
    """A GPU NVML cannot watch for XID events keeps its (zero) counters, but the xid collector
    reports failure: a permanent 0 must not read as "no XID errors" while nothing is watched."""
    exp = make_exporter("""
gpus:
  - {uuid: GPU-aaaaaaaa-0000-4000-8000-000000000000}
  - {uuid: GPU-bbbbbbbb-0000-4000-8000-000000000000, not_supported: [events]}
""")
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert 1 in exp.watcher.unsupported
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 0  # still there, from start-up
    assert value(m, "gpuwatch_gpu_collector_success", collector="xid") == 0
    assert value(m, "gpuwatch_gpu_collector_success", collector="utilization") == 1  # the rest is fine
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1


def test_xid_collector_succeeds_when_every_gpu_is_watched(make_exporter, clock):
    exp = make_exporter(GPUS)
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_collector_success", collector="xid") == 1
