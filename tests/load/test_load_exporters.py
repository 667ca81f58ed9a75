"""Short form of bench/load.py against the real exporters: 50 concurrent scrapers, no errors,
no threads left behind, RSS growth under the 5 MB goal (after a warm-up at the same load)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import load  # noqa: E402


def check(res: dict) -> None:
    assert res["errors"] == 0, res["error_kinds"]
    assert res["requests"] >= 100, res
    assert res["rss_growth_kib"] < load.RSS_GOAL_KIB, res
    assert res["threads_after"] <= res["threads_before"], res


def test_gpu_exporter_under_50_scrapers(tmp_path):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(load.GPU_SCENARIO)
    port = load._free_port()
    argv = [sys.executable, "-m", "gpuwatch.exporters.gpu", "--web.listen-address", f"127.0.0.1:{port}",
            "--nvml.scenario", str(scenario), "--log.level", "warn"]
    with load.exporter_process(argv) as exp:
        url = f"http://127.0.0.1:{port}/metrics"
        load.wait_http(url, exporter=exp)
        res = load.measure(exp.pid, url, clients=50, seconds=3.0, warmup=1.0)
        exp.check_alive()
    check(res)
