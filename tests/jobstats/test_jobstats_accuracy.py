"""gpuwatch-jobstats against a real Prometheus (2.42, the host's Debian binary, and 3.5 from the
sid version root; GPUWATCH_JOBSTATS_PROMETHEUS=host limits the run) holding a backfilled
history of known values (js_history.py: two nodes, an idle, a busy, a two-node job, a GPU lost
mid-job, a price change, a running job). Every number of the JSON is checked.

Tolerance: one scrape interval (30 s) of time per GPU, i.e. durations +-30 s, GPU-hours +-30 s per
GPU, energy +- one interval at the job's power, cost +- one interval at its price; ratios and
byte counts are exact in this history (the single-job report reads them from the samples
themselves), so they are checked to 1e-6 (utilisation means to 1e-3).
"""

from __future__ import annotations

import json
import os
import time

import js_history as sc
import pytest
from conftest import require_programs, require_root

from gpuwatch.jobstats.cli import main
from gpuwatch.jobstats.timespec import rfc3339

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(240)]


PROMETHEUS_ROOTS = [
    r.strip() for r in os.environ.get("GPUWATCH_JOBSTATS_PROMETHEUS", "host,sid").split(",") if r.strip()
]


@pytest.fixture(scope="module", params=PROMETHEUS_ROOTS, ids=lambda r: f"prometheus-{r}")
def prom(request, tmp_path_factory):
    """The history in Prometheus 2.42 (the host's) and 3.5 (the sid version root); blocks made by
    the host's promtool either way (the TSDB block format is the same)."""
    progs = require_programs("prometheus", "promtool")
    from gpuwatch.localstack.backfill import backfilled_prometheus

    t0 = int((time.time() - 10 * sc.H) // 7200 * 7200)
    workdir = tmp_path_factory.mktemp("jobstats-prom")
    p = backfilled_prometheus(
        workdir, sc.build(t0), progs["promtool"], scrape_interval=f"{sc.I}s", binary=progs["prometheus"]
    )
    if request.param != "host":
        root = require_root(request.param)
        p.argv = root.argv(["prometheus", *p.argv[1:]], binds=[workdir])
    try:
        p.start_and_wait()
        p.t0 = t0
        p.end = t0 + sc.END + 10  # the range ends 10 s after the last sample
        yield p
    finally:
        p.stop()


def run(capsys, prom, *args: str) -> tuple[int, str, str]:
    rc = main([*args, "--prometheus.url", prom.url, "--end", str(prom.end)])
    out, err = capsys.readouterr()
    return rc, out, err


def job_json(capsys, prom, job_id: str) -> dict:
    rc, out, err = run(capsys, prom, job_id, "--format", "json")
    assert rc == 0, err
    return json.loads(out)


def near(got, want, tol, what):
    assert got is not None, f"{what}: missing"
    assert abs(got - want) <= tol, f"{what}: {got} != {want} +- {tol}"


def check_gpu(g: dict, job: sc.Job, t0: int, node: str, gpu: int, *, lost_from: int | None = None) -> None:
    spec = sc.NODES[node]
    end = job.end
    assert (g["node"], g["gpu"], g["uuid"], g["model"]) == (node, str(gpu), sc.uuid(node, gpu), spec["model"])
    assert g["start"] == rfc3339(t0 + job.start) and g["end"] == rfc3339(t0 + end)
    near(g["duration_seconds"], end - job.start, sc.I, "duration")
    near(g["gpu_hours"], (end - job.start) / sc.H, sc.I / sc.H, "gpu_hours")
    mean, peak = sc.expected_util(job)
    near(g["utilization_mean"], mean, 1e-3, "utilization_mean")
    near(g["utilization_max"], peak, 1e-6, "utilization_max")
    if spec["gpm"]:
        near(g["sm_active_mean"], job.sm, 1e-6, "sm_active_mean")
        near(g["tensor_active_mean"], job.tensor, 1e-6, "tensor_active_mean")
    else:
        assert g["sm_active_mean"] is None and g["tensor_active_mean"] is None
    assert g["memory_used_max_bytes"] == job.memory
    assert g["memory_total_bytes"] == spec["total"]
    near(g["power_mean_watts"], job.power, 1e-6, "power_mean_watts")
    powered = (lost_from - sc.I if lost_from is not None else end) - job.start
    near(g["energy_joules"], job.power * powered, job.power * sc.I, "energy_joules")
    near(g["cost_usd"], sc.per_gpu_cost(node, job.start, end), sc.I / sc.H * 3.0, "cost_usd")
    if lost_from is None:
        assert g["lost_seconds"] == 0
    else:
        near(g["lost_seconds"], end - lost_from, sc.I, "lost_seconds")


def check_job(d: dict, job: sc.Job, t0: int) -> None:
    assert d["job_id"] == job.job_id and d["user"] == job.user
    assert d["start"] == rfc3339(t0 + job.start) and d["end"] == rfc3339(t0 + job.end)
    near(d["duration_seconds"], job.end - job.start, sc.I, "duration")
    near(
        d["gpu_hours"], len(job.gpus) * (job.end - job.start) / sc.H, len(job.gpus) * sc.I / sc.H, "gpu_hours"
    )
    assert d["scrape_interval_seconds"] == sc.I
    assert [(g["node"], int(g["gpu"])) for g in d["gpus"]] == sorted(job.gpus)
    assert d["memory_used_max_bytes"] == job.memory
    assert d["memory_total_bytes"] == max(sc.NODES[n]["total"] for n, _ in job.gpus)
    near(d["energy_joules"], sum(g["energy_joules"] for g in d["gpus"]), 1e-6, "energy sum")
    near(d["cost_usd"], sum(sc.per_gpu_cost(n, job.start, job.end) for n, _ in job.gpus), 0.01, "cost_usd")
    assert d["xid_events"] == sum(g["xid_events"] for g in d["gpus"])


def test_busy_job(capsys, prom):
    job = sc.JOBS[0]
    d = job_json(capsys, prom, "101")
    check_job(d, job, prom.t0)
    check_gpu(d["gpus"][0], job, prom.t0, "node-a", 0)
    assert d["state"] == "finished"
    near(d["utilization_mean"], 0.9, 1e-3, "job utilization_mean")
    assert d["utilization_max"] == 1.0
    near(d["cost_usd"], 2 * 1.20, 0.01, "2 GPU-hours at $2.40/h over 2 GPUs")
    assert d["notes"] == []


def test_idle_job(capsys, prom):
    job = sc.JOBS[1]
    d = job_json(capsys, prom, "102")
    check_job(d, job, prom.t0)
    check_gpu(d["gpus"][0], job, prom.t0, "node-a", 1)
    assert d["utilization_mean"] == 0 and d["utilization_max"] == 0
    assert len(d["notes"]) == 1 and "never used its GPU" in d["notes"][0]


def test_two_node_job_across_price_change_with_xid(capsys, prom):
    job = sc.JOBS[2]
    d = job_json(capsys, prom, "103")
    check_job(d, job, prom.t0)
    for g, (node, gpu) in zip(d["gpus"], sorted(job.gpus)):
        check_gpu(g, job, prom.t0, node, gpu)
    # node-b: 0.5 h at $2 + 3 h at $3 per GPU; node-a: 3.5 h at $1.20
    near(d["cost_usd"], 3.5 * 1.2 + 2 * (0.5 * 2 + 3 * 3), 0.05, "cost across the repricing")
    assert d["xid_events"] == 1 and d["xid_codes"] == {"13": 1}
    assert d["gpus"][2]["xid_codes"] == {"13": 1}
    near(d["power_mean_watts"], 3 * 300.0, 1e-6, "the job's GPUs together")
    assert len(d["notes"]) == 1 and "XID 13" in d["notes"][0] and "GPU 1 on node-b" in d["notes"][0]


def test_gpu_lost_mid_job(capsys, prom):
    job = sc.JOBS[3]
    d = job_json(capsys, prom, "104")
    check_job(d, job, prom.t0)
    check_gpu(d["gpus"][0], job, prom.t0, "node-b", 2)
    check_gpu(d["gpus"][1], job, prom.t0, "node-b", 3, lost_from=sc.LOST[2])
    assert d["gpus"][1]["xid_codes"] == {"79": 1}
    notes = " ".join(d["notes"])
    assert "XID 79" in notes and "fell off the bus" in notes
    assert "GPU 3 on node-b was lost" in notes


def test_running_job(capsys, prom):
    job = sc.JOBS[4]
    d = job_json(capsys, prom, "105")
    check_job(d, job, prom.t0)
    assert d["state"] == "running" and d["gpus"][0]["state"] == "running"
    assert any("still running" in n for n in d["notes"])
    # the same job seen from an hour later has ended
    rc = main(["105", "--format", "json", "--prometheus.url", prom.url, "--end", str(prom.end + 3600)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["state"] == "finished"


def test_text_output_reads_like_jobstats(capsys, prom):
    rc, out, _ = run(capsys, prom, "104")
    assert rc == 0
    for needle in (
        "Job ID: 104",
        "User: dave",
        "State: FINISHED",
        "Nodes: 1 (node-b)",
        "GPU-hours: 10.00",
        "Cost: $24.00",
        "GPU utilization (mean / max):",
        "node-b/GPU 3: 50% / 50%",
        "GPU memory usage (max / total):",
        "node-b/GPU 2: 30.0 GiB / 40.0 GiB (75%)",
        "Notes",
        "XID 79",
    ):
        assert needle in out, f"{needle!r} not in:\n{out}"


def test_summary_all_json(capsys, prom):
    rc, out, err = run(capsys, prom, "--all", "--since", "12h", "--format", "json")
    assert rc == 0, err
    # this history has no recording rules: said once on stderr, the JSON stays clean
    assert err.startswith("gpuwatch-jobstats: note: no gpuwatch job recording rules") and err.count("\n") == 1
    doc = json.loads(out)
    jobs = {r["job_id"]: r for r in doc["jobs"]}
    assert set(jobs) == {j.job_id for j in sc.JOBS}
    assert doc["jobs"][0]["job_id"] == "102", "most idle first"
    assert list(doc["jobs"][0]) == [
        "job_id",
        "user",
        "gpus",
        "gpu_hours",
        "idle_gpu_hours",
        "utilization_mean",
        "energy_joules",
        "cost_usd",
    ]
    for job in sc.JOBS:
        r = jobs[job.job_id]
        n = len(job.gpus)
        hours = n * (job.end - job.start) / sc.H
        assert r["user"] == job.user and r["gpus"] == n
        near(r["gpu_hours"], hours, n * sc.I / sc.H, f"{job.job_id} gpu_hours")
        near(
            r["idle_gpu_hours"], hours if job.job_id == "102" else 0.0, n * sc.I / sc.H, f"{job.job_id} idle"
        )
        cost = sum(sc.per_gpu_cost(node, job.start, job.end) for node, _ in job.gpus)
        near(r["cost_usd"], cost, n * sc.I / sc.H * 3.0, f"{job.job_id} cost")
        # energy from the counter's rate (window 3 intervals): +- 3 intervals at the job's power
        lost = job.job_id == "104"
        powered = n * (job.end - job.start) - (job.end - sc.LOST[2] if lost else 0)
        near(r["energy_joules"], job.power * powered, 3 * sc.I * job.power * n, f"{job.job_id} energy")
        mean, _ = sc.expected_util(job)
        near(r["utilization_mean"], mean, 0.01, f"{job.job_id} utilization")
    users = {u["user"]: u for u in doc["users"]}
    assert doc["users"][0]["user"] == "bob"
    assert set(users) == {j.user for j in sc.JOBS}
    near(users["carol"]["gpu_hours"], jobs["103"]["gpu_hours"], 1e-9, "user total")


def test_summary_user_csv_and_by_user(capsys, prom):
    rc, out, err = run(capsys, prom, "--user", "dave", "--since", "12h", "--format", "csv")
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "job_id,user,gpus,gpu_hours,idle_gpu_hours,utilization_mean,energy_joules,cost_usd"
    assert len(lines) == 2 and lines[1].startswith("104,dave,2,")
    rc, out, err = run(capsys, prom, "--all", "--since", "12h", "--by", "user")
    assert rc == 0, err
    lines = out.splitlines()
    assert "Totals per user" not in out and "from the raw series" in lines[1]
    assert lines[3].split()[0] == "USER"
    assert [ln.split()[0] for ln in lines[4:9]] == ["bob", "carol", "dave", "alice", "erin"]


def test_summary_queries_are_a_handful(prom):
    """One request for the whole summary, whatever the job count (two with source=auto and no
    recording rules in this history: the rules query, then the raw one)."""
    from gpuwatch.jobstats.prom import Connection, Prometheus
    from gpuwatch.jobstats.summary import summary

    client = Prometheus(Connection(url=prom.url))
    doc = summary(client, user=None, start=prom.end - 12 * sc.H, end=prom.end, interval=sc.I, source="raw")
    assert len(doc["jobs"]) == len(sc.JOBS) and doc["source"] == "raw"
    assert client.requests == 1
    doc = summary(client, user=None, start=prom.end - 12 * sc.H, end=prom.end, interval=sc.I)
    assert doc["source"] == "raw" and client.requests == 3


def test_unknown_job_is_one_line_exit_1(capsys, prom):
    rc, out, err = run(capsys, prom, "999999")
    assert rc == 1 and out == ""
    assert err.count("\n") == 1 and "job 999999: no GPU of this job" in err and "Traceback" not in err


def test_user_without_jobs_is_one_line_exit_1(capsys, prom):
    rc, out, err = run(capsys, prom, "--user", "nobody-here", "--since", "12h")
    assert rc == 1 and out == ""
    assert (
        err.strip()
        == "gpuwatch-jobstats: user nobody-here: no GPU jobs in the range (no gpuwatch_gpu_job_info series)"
    )


@pytest.mark.slurm
def test_job_without_gpus_and_gpu_job_nobody_watched(capsys, prom, tmp_path, monkeypatch):
    """A real Slurm tells the cases apart: a CPU-only job, and a GPU job with no series."""
    require_programs("slurmctld", "slurmd", "munged", "scontrol")
    from gpuwatch.localstack.slurm import SlurmLab

    with SlurmLab(tmp_path / "slurm") as lab:
        cpu_job = lab.sbatch(["-J", "cpu-only"], user="nobody")
        gpu_job = lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", "gpu"], user="nobody")
        for k, v in lab.env.items():
            monkeypatch.setenv(k, v)
        deadline = time.monotonic() + 30
        while lab.run(["squeue", "-h", "-j", gpu_job, "-o", "%T"]).stdout.strip() != "RUNNING":
            assert time.monotonic() < deadline, "the GPU job did not start"
            time.sleep(0.3)
        rc, out, err = run(capsys, prom, cpu_job)
        assert rc == 1 and out == "" and err.count("\n") == 1
        assert f"job {cpu_job} (user nobody," in err and "has no GPUs in Slurm" in err, err
        rc, out, err = run(capsys, prom, gpu_job)
        assert rc == 1 and err.count("\n") == 1
        assert "RUNNING" in err and "holds GPUs in Slurm" in err and "gpu:1" in err, err
        assert "is gpuwatch-gpu-exporter running on" in err, err
