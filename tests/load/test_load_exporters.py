"""Short form of bench/load.py against the real exporters: 50 concurrent scrapers, no errors,
no threads left behind, RSS growth under the 5 MB goal (after a warm-up at the same load)."""

from __future__ import annotations

import pytest

from gpuwatch.localstack.stack import slurm_exporter_argv
from gpuwatch.testing.loadgen import RSS_GOAL_KIB, measure, measure_gpu_exporter
from gpuwatch.testing.procs import exporter_process, free_port, wait_http

pytestmark = pytest.mark.load


def check(res: dict) -> None:
    assert res["errors"] == 0, res["error_kinds"]
    assert res["requests"] >= 100, res
    assert res["rss_growth_kib"] < RSS_GOAL_KIB, res
    assert res["threads_after"] <= res["threads_before"], res


def test_gpu_exporter_under_50_scrapers(tmp_path):
    check(measure_gpu_exporter(tmp_path, clients=50, seconds=3.0, warmup=1.0))


@pytest.mark.slurm
def test_slurm_exporter_under_50_scrapers(tmp_path):
    from conftest import require_programs

    require_programs("munged", "slurmctld", "slurmd", "squeue", "sinfo", "sdiag")
    from gpuwatch.localstack.slurm import SlurmLab

    with SlurmLab(tmp_path) as lab:
        for i in range(5):
            lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", f"load{i}", "--wrap", "sleep 600"])
        port = free_port()
        argv = slurm_exporter_argv(port, "--slurm.poll-interval=1", "--log.level=warn")
        with exporter_process(argv, env=lab.env) as exp:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, exporter=exp)
            res = measure(exp.pid, url, clients=50, seconds=3.0, warmup=1.0)
            exp.check_alive()
            assert "gpuwatch_slurm_up 1.0" in load_scrape(url)
    check(res)


def load_scrape(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()
