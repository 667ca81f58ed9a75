"""Every error class: per-GPU isolation, NotSupported, NVML init failures and recovery."""

from __future__ import annotations

import os
import sys
import time

import pytest

from gpuwatch.exporters.gpu.collectors.base import Options
from gpuwatch.exporters.gpu.exporter import GpuExporter
from gpuwatch.exporters.gpu.sim import pynvml as sim

from .helpers import parse_metrics, series, value

TWO_GPUS = """
gpus:
  - {uuid: GPU-aaaaaaaa-0000-4000-8000-000000000000, values: {temperature: 50, utilization: 0.5}}
  - {uuid: GPU-bbbbbbbb-0000-4000-8000-000000000000, values: {temperature: 60, utilization: 0.7}}
faults:
"""


def scrape(exp) -> dict:
    return parse_metrics(exp.render())


@pytest.mark.parametrize("error", ["GpuIsLost", "Unknown", "Timeout"])
def test_gpu_error_isolated_to_that_gpu(make_exporter, clock, error):
    exp = make_exporter(TWO_GPUS + f"  - {{kind: lost, gpu: 1, at: 10, until: 20, error: {error}}}\n")
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="1") == 60

    clock.t = 12
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_nvml_up") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 0
    assert value(m, "gpuwatch_gpu_info", gpu="1", uuid="GPU-bbbbbbbb-0000-4000-8000-000000000000") == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="1") == 0  # counters stay
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="1") is None  # no stale readings
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="0") == 50
    assert value(m, "gpuwatch_nvml_errors_total", error=error) >= 1
    assert all(v == 1 for v in series(m, "gpuwatch_gpu_collector_success").values()), (
        "a lost GPU is not a collector failure"
    )

    clock.t = 21
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="1") == 60


def test_gpu_lost_at_start_gets_info_later(make_exporter, clock):
    exp = make_exporter(TWO_GPUS + "  - {kind: lost, gpu: 0, at: 0, until: 5}\n")
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 0  # known by index, no UUID yet
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    clock.t = 6
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="0", uuid="GPU-aaaaaaaa-0000-4000-8000-000000000000") == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 0


NOT_SUPPORTED = """
gpus:
  - uuid: GPU-aaaaaaaa-0000-4000-8000-000000000000
    not_supported: [fan_speed, memory_temperature, ecc, power, energy, nvlink, mig, utilization, clocks]
"""


def test_not_supported_is_absent_and_not_asked_again(make_exporter, clock):
    exp = make_exporter(NOT_SUPPORTED)
    for _ in range(4):
        exp.collect_once()
        clock.advance(2)
    m = scrape(exp)
    for name in (
        "gpuwatch_gpu_fan_speed_ratio",
        "gpuwatch_gpu_memory_temperature_celsius",
        "gpuwatch_gpu_ecc_errors_total",
        "gpuwatch_gpu_power_watts",
        "gpuwatch_gpu_energy_joules_total",
        "gpuwatch_gpu_nvlink_active",
        "gpuwatch_gpu_mig_enabled",
        "gpuwatch_gpu_utilization_ratio",
        "gpuwatch_gpu_sm_clock_hertz",
    ):
        assert not series(m, name), f"{name} must be absent, not 0"
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="0") == 35  # supported fields still there
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
    calls = sim.simulator().calls
    for fn in (
        "nvmlDeviceGetFanSpeed",
        "nvmlDeviceGetTotalEccErrors",
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetNvLinkState",
        "nvmlDeviceGetMigMode",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetFieldValues",
    ):
        assert calls[(fn, 0)] == 1, f"{fn} asked {calls[(fn, 0)]} times in 4 cycles"
    assert calls[("nvmlDeviceGetTemperature", 0)] == 4
    assert value(m, "gpuwatch_nvml_errors_total", error="NotSupported") is None  # not an error


def test_not_supported_memory_remembered_again_after_reinit(make_exporter, clock):
    exp = make_exporter(NOT_SUPPORTED + "faults:\n  - {kind: nvml_init_failure, at: 3, until: 4}\n")
    exp.collect_once()
    clock.t = 3.5
    exp.collect_once()  # driver gone: NVML down
    assert value(scrape(exp), "gpuwatch_nvml_up") == 0
    clock.t = 10
    exp.collect_once()
    assert value(scrape(exp), "gpuwatch_nvml_up") == 1
    # asked once per NVML session: the driver may have changed
    assert sim.simulator().calls[("nvmlDeviceGetFanSpeed", 0)] == 2


@pytest.mark.parametrize("error", ["DriverNotLoaded", "LibraryNotFound", "Unknown"])
def test_init_failing_then_recovering_with_backoff(make_exporter, clock, error):
    exp = make_exporter(
        TWO_GPUS + f"  - {{kind: nvml_init_failure, at: 0, until: 20, error: {error}}}\n",
        retry_min=1,
        retry_max=8,
    )
    attempts = []
    while clock.t < 30:
        exp.collect_once()
        attempts.append(sim.simulator().calls[("nvmlInit", -1)])
        m = scrape(exp)
        if clock.t < 20:
            assert value(m, "gpuwatch_nvml_up") == 0
            assert not series(m, "gpuwatch_gpu_up")
        clock.advance(0.5)
    # backoff 1, 2, 4, 8, 8 s: attempts at t=0, 1, 3, 7, 15, 23 (recovered)
    assert sorted(set(attempts)) == [1, 2, 3, 4, 5, 6], attempts
    m = scrape(exp)
    assert value(m, "gpuwatch_nvml_up") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    assert value(m, "gpuwatch_nvml_errors_total", error=error) == 5


def test_driver_unloaded_while_running(make_exporter, clock):
    exp = make_exporter(
        TWO_GPUS + "  - {kind: nvml_init_failure, at: 10, until: 15}\n", retry_min=1, retry_max=2
    )
    exp.collect_once()
    clock.t = 11
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_nvml_up") == 0
    # GPUs seen before keep their info series and report down
    assert value(m, "gpuwatch_gpu_info", gpu="0", driver_version="550.54.15") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 0 and value(m, "gpuwatch_gpu_up", gpu="1") == 0
    assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="0") is None
    while clock.t < 18:
        clock.advance(0.5)
        exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_nvml_up") == 1
    assert (
        value(m, "gpuwatch_gpu_up", gpu="0") == 1
        and value(m, "gpuwatch_gpu_temperature_celsius", gpu="0") == 50
    )


def test_collector_bug_fails_only_that_collector(make_exporter, clock, monkeypatch):
    from gpuwatch.exporters.gpu.collectors import thermal

    def boom(self, read):
        raise ValueError("odd answer")

    monkeypatch.setattr(thermal.ThermalCollector, "collect", boom)
    exp = make_exporter(TWO_GPUS)
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_collector_success", collector="thermal") == 0
    assert value(m, "gpuwatch_gpu_collector_success", collector="power") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
    assert value(m, "gpuwatch_gpu_utilization_ratio", gpu="0") == 0.5


def test_hung_gpu_goes_stale_and_scrapes_stay_fast(tmp_path):
    """A GPU stuck inside an NVML call: reported down after --collect.max-age; scrapes never wait."""
    path = tmp_path / "hang.yaml"
    path.write_text(TWO_GPUS + "  - {kind: hang, gpu: 1, at: 0.5, until: 3, delay: 2.5}\n")
    sim.load(path)
    exp = GpuExporter(
        lambda: sim, ["thermal", "utilization"], Options(proc_root=str(tmp_path)), interval=0.1, max_age=0.6
    )
    exp.start()
    try:
        deadline = time.monotonic() + 5
        saw_down = False
        worst = 0.0
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            m = scrape(exp)
            worst = max(worst, time.perf_counter() - t0)
            if value(m, "gpuwatch_gpu_up", gpu="1") == 0:
                saw_down = True
                assert value(m, "gpuwatch_gpu_up", gpu="0") == 1
                assert value(m, "gpuwatch_gpu_temperature_celsius", gpu="1") is None
            elif saw_down and value(m, "gpuwatch_gpu_up", gpu="1") == 1:
                break
            time.sleep(0.05)
        assert saw_down, "hung GPU never reported down"
        assert value(m, "gpuwatch_gpu_up", gpu="1") == 1, "GPU did not come back after the hang"
        assert worst < 0.5, f"a scrape took {worst:.3f}s while a GPU was hung"
    finally:
        exp.stop()


def test_nvml_library_missing_serves_nvml_up_0(exporter_process):
    """The real nvidia-ml-py without libnvidia-ml.so (no driver on this machine)."""
    import ctypes.util

    if ctypes.util.find_library("nvidia-ml"):
        pytest.skip("this machine has libnvidia-ml: the real-driver path is covered by the device check")
    p = exporter_process(
        ["--nvml.init-retry-min", "100ms", "--nvml.init-retry-max", "200ms", "--collect.interval", "100ms"]
    )
    m = p.wait_for(lambda m: (value(m, "gpuwatch_nvml_errors_total", error="LibraryNotFound") or 0) >= 3)
    assert value(m, "gpuwatch_nvml_up") == 0
    assert not series(m, "gpuwatch_gpu_up")
    assert p.proc.poll() is None
    assert p.get("/-/ready")[0] == 200
    assert p.stop() == 0
    out = p.output()
    assert out.count("nvml init failed") == 1, out  # one line, not one per retry


def test_pynvml_module_missing(exporter_process, tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "pynvml.py").write_text("raise ImportError('nvidia-ml-py is not installed')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim)] + sys.path))
    p = exporter_process(
        ["--nvml.init-retry-min", "100ms", "--nvml.init-retry-max", "100ms", "--collect.interval", "100ms"],
        env=env,
    )
    m = p.wait_for(lambda m: (value(m, "gpuwatch_nvml_errors_total", error="ModuleNotFound") or 0) >= 2)
    assert value(m, "gpuwatch_nvml_up") == 0
    assert p.stop() == 0


def test_another_pynvml_first_on_the_path_is_used(exporter_process, tmp_path):
    """The exporter imports whatever ``pynvml`` comes first: here a stand-in over the simulator."""
    shim = tmp_path / "shim"
    shim.mkdir()
    scen = tmp_path / "s.yaml"
    scen.write_text(TWO_GPUS)
    (shim / "pynvml.py").write_text(
        "import os, sys\n"
        "sys.path.remove(os.path.dirname(os.path.abspath(__file__)))\n"
        "del sys.modules['pynvml']\n"
        "import pynvml  # nvidia-ml-py, which the simulator builds on\n"
        "from gpuwatch.exporters.gpu.sim import pynvml as _sim\n"
        f"_sim.load({str(scen)!r})\n"
        "sys.modules['pynvml'] = _sim\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shim)] + sys.path))
    p = exporter_process(["--collect.interval", "100ms"], env=env)
    # nvml_up turns 1 at init, before the GPU readers' first reads land: wait for a reading
    m = p.wait_for(
        lambda m: (
            value(m, "gpuwatch_nvml_up") == 1
            and value(m, "gpuwatch_gpu_utilization_ratio", gpu="1") is not None
        )
    )
    assert value(m, "gpuwatch_gpu_utilization_ratio", gpu="1") == 0.7


def _drop_gpu(index: int):
    """The simulated node loses a GPU entirely (as after a driver reload without it)."""
    sc = sim.simulator().scenario
    gone = sc.gpus.pop(index)
    for i, g in enumerate(sc.gpus):
        g.index = i
    sim.simulator().devices[:] = [sim.SimDevice(g) for g in sc.gpus]
    return gone


THREE_GPUS = TWO_GPUS.replace("faults:\n", "") + "  - {uuid: GPU-cccccccc-0000-4000-8000-000000000000}\n"


def test_gpu_vanishing_from_nvml_stays_known_as_down(make_exporter, clock):
    exp = make_exporter(THREE_GPUS)
    exp.collect_once()
    _drop_gpu(2)
    exp._nvml_failed(exp.generation, "test")
    clock.t = 6
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1 and value(m, "gpuwatch_gpu_up", gpu="1") == 1
    assert value(m, "gpuwatch_gpu_info", gpu="2", uuid="GPU-cccccccc-0000-4000-8000-000000000000") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="2") == 0


def test_indices_shifting_after_a_gpu_vanishes(make_exporter, clock):
    exp = make_exporter(THREE_GPUS)
    exp.collect_once()
    gone = _drop_gpu(1)
    exp._nvml_failed(exp.generation, "test")
    clock.t = 2
    exp.collect_once()
    m = scrape(exp)
    assert value(m, "gpuwatch_gpu_up", gpu="0", uuid="GPU-aaaaaaaa-0000-4000-8000-000000000000") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="1", uuid="GPU-cccccccc-0000-4000-8000-000000000000") == 1
    assert not series(m, "gpuwatch_gpu_info", uuid=gone.uuid)  # index 1 now holds GPU c
    assert value(m, "gpuwatch_gpu_up", gpu="2") is None  # no duplicate of GPU c at its old index
