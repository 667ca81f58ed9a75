"""End to end, real programs: the GPU exporter (simulated backend) attributes two Slurm jobs'
processes to its GPUs, Prometheus scrapes it every second and evaluates the default pack's job
recording rules (compose/generated/prometheus/rules/jobs.yml), gpuwatch-jobstats reports both
jobs and the summary, and every query of the Jobs dashboard returns data.

The jobs' processes are entries of a private proc root (``--gpu.proc-root``) with Slurm cgroup
paths and environments, and the scenario's NVML process list names their PIDs: job 9001 (alice)
runs on GPU 0 at 90 % for the scenario's first 20 s, then its process exits; job 9002 (bob) holds
GPU 1 from 2 s on and never uses it. The target is priced at $3.60/h for its 2 GPUs.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml
from conftest import ROOT, require_programs

from gpuwatch.jobstats.cli import main
from gpuwatch.localstack.procs import ManagedProcess, free_port
from gpuwatch.localstack.promstack import Prometheus, Target, prometheus_config
from gpuwatch.localstack.stack import console_script

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus, pytest.mark.timeout(180)]

JOB1_UNTIL = 20
SCENARIO = {
    "description": "jobstats e2e: two jobs",
    "defaults": {"name": "NVIDIA H100 80GB HBM3", "memory_total": "80GiB"},
    "gpus": [
        {
            "uuid": "GPU-e2e00000-0000-4000-8000-000000000000",
            "minor": 0,
            "values": {"utilization": 0.9, "memory_used": "40GiB", "power": 400},
        },
        {
            "uuid": "GPU-e2e00001-0000-4000-8000-000000000001",
            "minor": 1,
            "values": {"utilization": 0.0, "memory_used": "1GiB", "power": 70},
        },
    ],
    "processes": [
        {"gpu": 0, "pid": 4101, "memory_used": "39GiB", "at": 0, "until": JOB1_UNTIL},
        {"gpu": 1, "pid": 4102, "memory_used": "512MiB", "at": 2},
    ],
}


def fake_proc(root, pid: int, job: str, user: str) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cgroup").write_text(f"0::/system.slice/slurmstepd.scope/job_{job}/step_0\n")
    (d / "environ").write_bytes(f"SLURM_JOB_ID={job}\0SLURM_JOB_USER={user}\0".encode())
    (d / "status").write_text("Name:\tpython\nUid:\t1000\t1000\t1000\t1000\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    progs = require_programs("prometheus")
    work = tmp_path_factory.mktemp("jobstats-e2e")
    proc_root = work / "proc"
    fake_proc(proc_root, 4101, "9001", "alice")
    fake_proc(proc_root, 4102, "9002", "bob")
    (work / "scenario.yml").write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    rules = ROOT / "compose/generated/prometheus/rules/jobs.yml"  # the default pack's, as shipped
    port = free_port()
    exporter = ManagedProcess(
        "gpu-exporter",
        console_script("gpuwatch-gpu-exporter", "gpuwatch.exporters.gpu.cli")
        + [
            f"--web.listen-address=127.0.0.1:{port}",
            f"--nvml.scenario={work / 'scenario.yml'}",
            f"--gpu.proc-root={proc_root}",
            "--collect.interval=0.5s",
            "--collect.max-age=3s",
            "--gpu.hourly-cost-usd=3.60",  # the same price as the target label below
        ],
        work / "exporter.log",
    )
    labels = {"node": "e2e-node", "pod": "e2e-pod", "role": "compute", "hourly_cost_usd": "3.60"}
    cfg = prometheus_config(
        scrape_interval="1s",
        evaluation_interval="1s",
        alertmanager=None,
        rule_files=[str(rules)],
        gpu_targets=[Target(f"127.0.0.1:{port}", labels)],
    )
    prom = Prometheus(work / "prometheus", cfg, binary=progs["prometheus"])
    try:
        exporter.start()
        exporter.wait_http(f"http://127.0.0.1:{port}/metrics", 30)
        started = time.time()
        prom.start_and_wait()
        # job 9001 ends at 20 s (its process leaves the GPU): wait past "running" (2 scrapes + 5 s);
        # job 9002 gets some history meanwhile
        time.sleep(max(0.0, started + JOB1_UNTIL + 10 - time.time()))
        yield prom, started
    finally:
        prom.stop()
        exporter.stop()


def jobstats_json(capsys, prom, *args: str) -> dict:
    rc = main([*args, "--format", "json", "--prometheus.url", prom.url])
    out, err = capsys.readouterr()
    assert rc == 0, err
    return json.loads(out)


def test_finished_busy_job(capsys, stack):
    prom, started = stack
    d = jobstats_json(capsys, prom, "9001")
    assert (d["job_id"], d["user"], d["state"]) == ("9001", "alice", "finished")
    assert d["scrape_interval_seconds"] == pytest.approx(1.0, abs=0.2)
    # the process was on the GPU from exporter start to 20 s; Prometheus started a little later
    assert 5 <= d["duration_seconds"] <= JOB1_UNTIL + 2, d
    [g] = d["gpus"]
    assert (g["node"], g["gpu"], g["uuid"], g["model"]) == (
        "e2e-node",
        "0",
        "GPU-e2e00000-0000-4000-8000-000000000000",
        "NVIDIA H100 80GB HBM3",
    )
    assert g["utilization_mean"] == pytest.approx(0.9, abs=1e-6)
    assert g["memory_used_max_bytes"] == 40 * 2**30 and g["memory_total_bytes"] == 80 * 2**30
    assert g["power_mean_watts"] == pytest.approx(400, abs=1e-6)
    # the simulated energy counter integrates the power: 400 W over the job's span (+- one scrape)
    assert g["energy_joules"] == pytest.approx(400 * d["duration_seconds"], abs=400 * 1.5)
    assert d["cost_usd"] == pytest.approx(d["duration_seconds"] / 3600 * 3.60 / 2, rel=1e-6)
    assert d["notes"] == []


def test_running_idle_job(capsys, stack):
    prom, _ = stack
    d = jobstats_json(capsys, prom, "9002")
    assert (d["user"], d["state"]) == ("bob", "running")
    assert d["utilization_max"] == 0
    assert any("never used its GPU" in n for n in d["notes"])
    assert any("still running" in n for n in d["notes"])


def test_summary_from_recording_rules(capsys, stack):
    prom, _ = stack
    doc = jobstats_json(capsys, prom, "--all", "--since", "10m")
    jobs = {r["job_id"]: r for r in doc["jobs"]}
    assert set(jobs) == {"9001", "9002"}
    assert doc["jobs"][0]["job_id"] == "9002", "the idle job first"
    assert jobs["9002"]["idle_gpu_hours"] == pytest.approx(jobs["9002"]["gpu_hours"], rel=0.25)
    assert jobs["9001"]["idle_gpu_hours"] == 0
    assert jobs["9001"]["utilization_mean"] == pytest.approx(0.9, abs=1e-6)
    assert [u["user"] for u in doc["users"]] == ["bob", "alice"]
    rc = main(["--all", "--since", "10m", "--prometheus.url", prom.url])
    out, _ = capsys.readouterr()
    assert rc == 0 and "from the recording rules" in out


def test_summary_raw_series_agree_with_rules(capsys, stack):
    """The fallback over the raw series (subqueries) tells the same story as the recording rules."""
    prom, _ = stack
    end = str(time.time())
    args = ("--all", "--since", "10m", "--end", end)
    rules = {r["job_id"]: r for r in jobstats_json(capsys, prom, *args, "--source", "rules")["jobs"]}
    raw = {r["job_id"]: r for r in jobstats_json(capsys, prom, *args, "--source", "raw")["jobs"]}
    assert set(raw) == set(rules) == {"9001", "9002"}
    for job_id in raw:
        assert raw[job_id]["gpu_hours"] == rules[job_id]["gpu_hours"]  # both from the raw job_info samples
        assert raw[job_id]["utilization_mean"] == pytest.approx(rules[job_id]["utilization_mean"], abs=0.01)
        assert raw[job_id]["idle_gpu_hours"] == pytest.approx(rules[job_id]["idle_gpu_hours"], abs=3 / 3600)
        assert raw[job_id]["energy_joules"] == pytest.approx(rules[job_id]["energy_joules"], rel=0.25)


def test_every_jobs_dashboard_query_returns_data(stack):
    """Each panel query of grafana/dashboards/jobs.json, for each job: the time series over the
    run, the per-user tables (instant queries over the range) with a row for both users."""
    prom, started = stack
    dash = json.loads((ROOT / "grafana/dashboards/jobs.json").read_text())
    targets = [(p["title"], t) for p in dash["panels"] for t in p["targets"]]
    assert len(targets) == 8
    now = time.time()
    rng = int(now - started) + 5

    def substitute(expr: str, job_id: str) -> str:
        q = expr.replace("$job_id", job_id).replace("$__range_s", str(rng)).replace("$__range", f"{rng}s")
        assert "$" not in q, f"unsubstituted variable: {q}"
        return q

    for job_id in ("9001", "9002"):
        for title, target in targets:
            q = substitute(target["expr"], job_id)
            if target.get("instant"):
                users = {r["metric"].get("user") for r in prom.query(q, now)["result"]}
                assert users >= {"alice", "bob"}, f"{title!r}: {users} from {q}"
            else:
                data = prom.query_range(q, started, now, step="1s")["result"]
                assert any(r.get("values") for r in data), f"{title!r} for job {job_id}: no data from {q}"
    # the idle table puts bob (idle all along) first, with at most his job's GPU-hours
    idle = next(t["expr"] for title, t in targets if title.startswith("Idle GPU-hours"))
    top = max(prom.query(substitute(idle, "9002"), now)["result"], key=lambda r: float(r["value"][1]))
    assert top["metric"]["user"] == "bob" and 0 < float(top["value"][1]) <= rng / 3600
    # the recorded cost (from the exporter's --gpu.hourly-cost-usd) is what the by-price-label
    # table's transformations compute from the target label (the same price here)
    cost = next(t["expr"] for title, t in targets if title.startswith("Cost per user (USD"))
    by_label = next(t["expr"] for title, t in targets if "by price label" in title)
    recorded = {
        r["metric"]["user"]: float(r["value"][1]) for r in prom.query(substitute(cost, ""), now)["result"]
    }
    labelled: dict[str, float] = {}
    for r in prom.query(substitute(by_label, ""), now)["result"]:
        user = r["metric"]["user"]
        labelled[user] = labelled.get(user, 0.0) + float(r["value"][1]) * float(
            r["metric"]["hourly_cost_usd"]
        )
    assert set(recorded) == set(labelled) == {"alice", "bob"}
    for user, usd in recorded.items():
        assert usd == pytest.approx(labelled[user], rel=1e-6) and usd > 0, user
