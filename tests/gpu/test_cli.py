"""The real command: HTTP, flags, start-up errors, promtool on a live scrape, clean stop."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import require_programs

from gpuwatch.exporters.gpu.sim.scenario import packaged

from .helpers import value


@pytest.mark.prometheus
def test_serves_packaged_scenario_and_passes_promtool(exporter_process):
    promtool = require_programs("promtool")["promtool"]
    p = exporter_process(
        [
            "--nvml.scenario",
            str(packaged("default")),
            "--collector.pcie_throughput",
            "--no-collector.media",
            "--web.telemetry-path",
            "/gpu-metrics",
            "--gpu.hourly-cost-usd",
            "2.49",
        ]
    )
    status, body = p.get("/gpu-metrics")
    assert status == 200
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    text = body.decode()
    assert "gpuwatch_gpu_pcie_throughput_bytes_per_second{" in text
    assert "gpuwatch_gpu_encoder_utilization_ratio" not in text
    assert "\ngpuwatch_node_hourly_cost_usd 2.49\n" in text  # the node's price, a sample to record cost from
    assert p.get("/metrics")[0] == 404
    assert p.get("/-/healthy")[0] == 200
    assert p.stop() == 0


def test_demo_node_b_loses_gpu_on_time(exporter_process, tmp_path):
    """The demo's node-B story on a compressed clock: XID 79 at 1 s, back at 3 s."""
    s = tmp_path / "b.yaml"
    s.write_text(
        "gpus:\n  - {uuid: GPU-b0000000-0000-4000-8000-000000000000}\n  - {uuid: GPU-b0000000-0000-4000-8000-000000000001}\n"
        "faults:\n  - {kind: xid, gpu: 0, at: 1, until: 3, xid: 79}\n"
    )
    p = exporter_process(["--nvml.scenario", str(s), "--collect.interval", "200ms"])
    m = p.wait_for(lambda m: value(m, "gpuwatch_gpu_up", gpu="0") == 1)
    m = p.wait_for(lambda m: value(m, "gpuwatch_gpu_up", gpu="0") == 0)
    assert value(m, "gpuwatch_gpu_xid_errors_total", gpu="0", xid="79") == 1
    assert value(m, "gpuwatch_gpu_up", gpu="1") == 1
    m = p.wait_for(lambda m: value(m, "gpuwatch_gpu_up", gpu="0") == 1)
    assert value(m, "gpuwatch_gpu_xid_events_total", gpu="0") == 1


def run(*args, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "gpuwatch.exporters.gpu", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_bad_scenario_exits_2_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("gpus:\n  - {name: x}\nfaults:\n  - {kind: overheat, gpu: 9}\n")
    r = run("--nvml.scenario", str(bad), "--web.listen-address", "127.0.0.1:0")
    assert r.returncode == 2
    assert f"--nvml.scenario: {bad}:4: faults[0].gpu: there are only 1 GPUs" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_flags_exit_2():
    for args, msg in (
        (["--collect.interval", "soon"], "--collect.interval: 'soon' is not a duration"),
        (["--collect.interval", "10s", "--collect.max-age", "5s"], "must be shorter than --collect.max-age"),
        (["--gpu.job-mapping-dir", "/nonexistent"], "--gpu.job-mapping-dir /nonexistent: not a directory"),
        (["--web.listen-address", "nowhere"], "is not HOST:PORT"),
        (["--collector.nosuch"], "unrecognized arguments"),
        (["--gpu.hourly-cost-usd", "-1"], "--gpu.hourly-cost-usd: must be a finite number >= 0, got -1"),
        (["--gpu.hourly-cost-usd", "nan"], "--gpu.hourly-cost-usd: must be a finite number >= 0, got nan"),
        (["--gpu.hourly-cost-usd", "cheap"], "--gpu.hourly-cost-usd: 'cheap' is not a number"),
    ):
        r = run(*args)
        assert r.returncode == 2, args
        assert msg in r.stderr, (args, r.stderr)


def test_port_in_use_exits_2_with_message(exporter_process, tmp_path):
    p = exporter_process(["--nvml.scenario", str(packaged("default"))])
    p.get("/-/healthy")
    r = run("--nvml.scenario", str(packaged("default")), "--web.listen-address", f"127.0.0.1:{p.port}")
    assert r.returncode == 2
    assert f"--web.listen-address 127.0.0.1:{p.port}" in r.stderr
