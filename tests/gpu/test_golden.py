"""Golden /metrics from a scenario, with every collector on; names declared; promtool clean."""

from __future__ import annotations

import subprocess

import pytest
from conftest import require_programs

from gpuwatch.exporters.gpu import metrics
from gpuwatch.exporters.gpu.collectors import COLLECTORS
from gpuwatch.exporters.gpu.collectors.base import Options

from .helpers import GPU_FIXTURES, parse_metrics, value

# Durations measure this machine, not the scenario: left out of the comparison.
VOLATILE = ("gpuwatch_gpu_collector_duration_seconds", "gpuwatch_gpu_read_duration_seconds")


def stable(body: bytes) -> str:
    return "".join(
        line + "\n"
        for line in body.decode().splitlines()
        if not line.startswith(VOLATILE) and not any(f" {v} " in line for v in VOLATILE)
    )


def golden_exporter(make_exporter, clock, hourly_cost_usd=None):
    exp = make_exporter(
        GPU_FIXTURES / "golden.yaml",
        list(COLLECTORS.specs),  # every collector, the opt-in ones included
        options=Options(proc_root=str(GPU_FIXTURES / "proc"), hourly_cost_usd=hourly_cost_usd),
    )
    clock.t = 8.0
    exp.collect_once()
    clock.t = 10.0
    while exp.watcher.run_once(timeout_ms=0):
        pass
    exp.collect_once()
    return exp


def test_golden_metrics(make_exporter, clock, update_golden):
    exp = golden_exporter(make_exporter, clock)
    got = stable(exp.render())
    golden = GPU_FIXTURES / "golden.metrics"
    if update_golden:
        golden.write_text(got)
    assert got == golden.read_text(), (
        "output differs from tests/fixtures/gpu/golden.metrics (pytest tests/gpu --update-golden to accept)"
    )


def test_golden_content_is_what_the_scenario_says(make_exporter, clock):
    m = parse_metrics(golden_exporter(make_exporter, clock).render())
    g0, g1, g2 = ({"gpu": str(i)} for i in range(3))
    assert value(m, "gpuwatch_nvml_up") == 1
    assert value(m, "gpuwatch_gpu_utilization_ratio", **g0) == 0.91
    assert value(m, "gpuwatch_gpu_memory_used_bytes", **g0) == 20 * 2**30
    assert value(m, "gpuwatch_gpu_power_watts", **g0) == 500
    # energy: 1000 J at start + 500 W for 10 s
    assert value(m, "gpuwatch_gpu_energy_joules_total", **g0) == 6000
    assert value(m, "gpuwatch_gpu_sm_clock_hertz", **g0) == 1980e6
    assert value(m, "gpuwatch_gpu_clock_event_active", reason="sw_power_cap", **g0) == 1
    assert value(m, "gpuwatch_gpu_clock_event_active", reason="hw_thermal_slowdown", **g0) == 0
    assert value(m, "gpuwatch_gpu_pcie_throughput_bytes_per_second", direction="rx", **g0) == 2097152
    assert value(m, "gpuwatch_gpu_tensor_active_ratio", **g0) == 0.25
    assert value(m, "gpuwatch_gpu_ecc_errors_total", type="corrected", **g0) == 5
    assert value(m, "gpuwatch_gpu_ecc_errors_total", type="uncorrected", **g0) == 1
    assert value(m, "gpuwatch_gpu_xid_errors_total", xid="13", **g0) == 2
    assert value(m, "gpuwatch_gpu_xid_events_total", **g1) == 1
    assert value(m, "gpuwatch_gpu_xid_events_total", **g2) == 0
    assert value(m, "gpuwatch_gpu_nvlink_active", link="1", **g0) == 1
    assert value(m, "gpuwatch_gpu_mig_enabled", **g1) == 1
    assert value(m, "gpuwatch_gpu_mig_memory_used_bytes", gpu_instance_id="1", **g1) == 10 * 2**30
    assert value(m, "gpuwatch_gpu_retired_pages", cause="double_bit_ecc", **g1) == 1
    assert value(m, "gpuwatch_gpu_remapped_rows_pending", **g1) == 1
    # jobs: cgroup v1 (uid 0 -> root), cgroup v2 (+ environ user), environ fallback, allocation by minor
    assert (
        value(m, "gpuwatch_gpu_job_info", job_id="1234", **g0) == 1
        and value(m, "gpuwatch_gpu_job_info", job_id="1234", user="root", **g0) == 1
    )
    assert value(m, "gpuwatch_gpu_job_info", job_id="5678", user="bob", **g0) == 1
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", job_id="1234", **g0) == 8 * 2**30
    assert value(m, "gpuwatch_gpu_job_info", job_id="91011", user="carol", **g1) == 1
    assert value(m, "gpuwatch_gpu_job_info", job_id="777", user="dave", **g2) == 1
    # NotSupported fields are absent, never 0
    for name in (
        "gpuwatch_gpu_fan_speed_ratio",
        "gpuwatch_gpu_memory_temperature_celsius",
        "gpuwatch_gpu_sm_occupancy_ratio",
    ):
        assert value(m, name, **g1) is None, name
    for name in (
        "gpuwatch_gpu_memory_reserved_bytes",
        "gpuwatch_gpu_energy_joules_total",
        "gpuwatch_gpu_remapped_rows_failed",
        "gpuwatch_gpu_encoder_utilization_ratio",
        "gpuwatch_gpu_mig_enabled",
        "gpuwatch_gpu_clock_event_active",
        "gpuwatch_gpu_nvlink_active",
        "gpuwatch_gpu_pcie_throughput_bytes_per_second",
    ):
        assert (
            value(m, name, **g2) is None
            if name != "gpuwatch_gpu_clock_event_active"
            else not [k for k in m if k[0] == name and ("gpu", "2") in k[1]]
        ), name
    # v1 memory info on the old GPU still gives used/free/total
    assert value(m, "gpuwatch_gpu_memory_total_bytes", **g2) == 16 * 2**30


def test_every_series_is_declared(make_exporter, clock):
    # with --gpu.hourly-cost-usd set (the golden file is the default run, without it)
    m = parse_metrics(golden_exporter(make_exporter, clock, hourly_cost_usd=3.5).render())
    declared = {}
    for d in metrics.METRICS:
        for s in d.series_names:
            declared[s] = d
    emitted = {name for name, _ in m}
    assert emitted <= set(declared), f"undeclared: {sorted(emitted - set(declared))}"
    for name, labels in m:
        assert {k for k, _ in labels} == set(declared[name].labels), (name, labels)
    # and the golden run covers nearly every declaration
    missing = {d.name for d in metrics.METRICS} - emitted
    assert missing == set(), missing


@pytest.mark.prometheus
def test_promtool_check_metrics(make_exporter, clock):
    promtool = require_programs("promtool")["promtool"]
    body = golden_exporter(make_exporter, clock, hourly_cost_usd=3.5).render()
    assert b"\ngpuwatch_node_hourly_cost_usd 3.5\n" in body
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    assert res.stdout.strip() == b"" and res.stderr.strip() == b"", res.stdout + res.stderr


def test_each_collector_exports_only_metrics_declared_for_it(make_exporter, clock):
    """The catalog's `collector` field (docs/metrics.md groups by it) is what the collectors do."""
    own = {d.name for d in metrics.METRICS if d.collector == ""}
    for name in COLLECTORS.specs:
        exp = make_exporter(
            GPU_FIXTURES / "golden.yaml", [name], options=Options(proc_root=str(GPU_FIXTURES / "proc"))
        )
        clock.t = 8.0
        exp.collect_once()
        clock.t = 10.0
        if exp.watcher is not None:
            while exp.watcher.run_once(timeout_ms=0):
                pass
        exp.collect_once()
        got = {series for series, _ in parse_metrics(exp.render())} - own
        declared = {d.name for d in metrics.METRICS if d.collector == name}
        assert got and got <= declared, (name, got - declared)
        exp.stop()
