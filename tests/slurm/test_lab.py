"""The exporter against a real single-host Slurm (munge, slurmctld, slurmd with 2 fake GPUs).

One SlurmLab and one exporter process per module. Covers: the RPC budget per cycle, jobs from
several users with GPUs asked for in three ways, pending reasons, drain and down transitions,
finished-job counters, a SIGSTOPped slurmctld, and promtool on the live output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import require_programs

from gpuwatch.exporters.slurm.exporter import Exporter
from gpuwatch.exporters.slurm.parsers.sdiag import parse_sdiag
from gpuwatch.exporters.slurm.runner import Runner
from gpuwatch.localstack.slurm import free_port

from .helpers import samples, value

pytestmark = pytest.mark.slurm
POLL = 0.5
TIMEOUT = 2.0


def rpc_delta(lab, action) -> dict[str, int]:
    """RPCs slurmctld served while ``action()`` ran (sdiag -r before, sdiag after, minus that sdiag)."""
    lab.run(["sdiag", "-r"])
    action()
    s = parse_sdiag(lab.run(["sdiag"]).stdout)
    counts = {t: c for t, (c, _) in s.rpc_by_type.items()}
    counts["REQUEST_STATS_INFO"] = counts.get("REQUEST_STATS_INFO", 0) - 1
    return {t: c for t, c in counts.items() if c and t.endswith("_INFO")}


def test_rpcs_per_cycle_within_budget(slurm_lab):
    lab = slurm_lab
    lab.sbatch(["-t", "5"], user="nobody")
    exp = Exporter(["jobs", "nodes", "partitions", "scheduler"], Runner(timeout=10, env=lab.env))
    exp.collect_once()  # warm-up
    rpcs = rpc_delta(lab, exp.collect_once)
    assert rpcs == {
        "REQUEST_JOB_INFO": 1,
        "REQUEST_NODE_INFO": 1,
        "REQUEST_PARTITION_INFO": 2,
        "REQUEST_STATS_INFO": 1,
    }, rpcs
    assert sum(rpcs.values()) <= 5
    lab.cancel_all()


LOG = {}


@pytest.fixture(scope="module")
def exporter(slurm_lab, tmp_path_factory):
    port = free_port()
    log_path = tmp_path_factory.mktemp("exporter") / "stderr.log"
    LOG["path"] = log_path
    log_file = open(log_path, "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gpuwatch.exporters.slurm.cli",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--slurm.poll-interval={POLL}",
            f"--slurm.timeout={TIMEOUT}",
            "--collector.users",
            "--collector.licenses",
            "--log.level=info",
        ],
        env=slurm_lab.env,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    log_file.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        proc.wait()
        pytest.fail("exporter did not become ready: " + log_path.read_text()[-2000:])
    yield url
    proc.terminate()
    try:
        assert proc.wait(timeout=15) == 0, "exporter should exit 0 on SIGTERM"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def scrape(url: str, timeout: float = 5) -> dict:
    return samples(urllib.request.urlopen(url + "/metrics", timeout=timeout).read())


def wait_for(url, pred, timeout=30, what="metrics condition"):
    deadline = time.monotonic() + timeout
    smp = None
    while time.monotonic() < deadline:
        smp = scrape(url)
        if pred(smp):
            return smp
        time.sleep(0.2)
    pytest.fail(f"{what} not reached within {timeout}s")


def test_jobs_users_gpus_and_reasons(slurm_lab, exporter):
    lab = slurm_lab
    lab.cancel_all()
    t_start = time.time()
    lab.sbatch(["-p", "gpu", "--gpus=1", "-t", "10"], user="nobody")  # --gpus
    lab.sbatch(["-p", "gpu", "--gres=gpu:fake:1", "-t", "10"], user="daemon")  # --gres, typed
    lab.sbatch(["-p", "gpu", "--gpus-per-node=2", "-t", "10"], user="nobody")  # waits: Resources
    lab.sbatch(["--hold", "-t", "10"], user="daemon")  # JobHeldUser
    lab.sbatch(["--begin=now+1hour", "-t", "10"])  # BeginTime
    lab.sbatch(["-p", "debug,gpu", "--gres=gpu:1", "-t", "10"], user="nobody")  # two partitions
    lab.sbatch(["--array=0-5", "-t", "10", "-c", "2"], user="daemon")  # array tasks

    def ready(s):
        return (
            value(s, "gpuwatch_slurm_jobs", partition="gpu", state="running") == 2
            and value(s, "gpuwatch_slurm_jobs_pending", partition="gpu", reason="Resources") == 1
            and (value(s, "gpuwatch_slurm_jobs", partition="debug", state="pending") or 0)
            + (value(s, "gpuwatch_slurm_jobs", partition="debug", state="running") or 0)
            == 8
        )

    s = wait_for(exporter, ready, what="jobs scheduled")
    assert value(s, "gpuwatch_slurm_up") == 1
    assert value(s, "gpuwatch_slurm_node_gpus", node=lab.node, state="allocated") == 2
    assert value(s, "gpuwatch_slurm_node_gpus", node=lab.node, state="idle") == 0
    assert value(s, "gpuwatch_slurm_job_gpus", partition="gpu", state="running") == 2
    assert value(s, "gpuwatch_slurm_job_gpus", partition="gpu", state="pending") == 2
    assert value(s, "gpuwatch_slurm_jobs", partition="debug,gpu", state="pending") == 1
    assert value(s, "gpuwatch_slurm_jobs_pending", partition="debug", reason="JobHeldUser") == 1
    assert value(s, "gpuwatch_slurm_jobs_pending", partition="debug", reason="BeginTime") == 1
    assert value(s, "gpuwatch_slurm_user_jobs", user="nobody", state="running") == 1
    assert value(s, "gpuwatch_slurm_user_jobs", user="daemon", state="running") >= 1
    assert value(s, "gpuwatch_slurm_user_gpus", user="nobody", state="pending") == 3
    cpus = {
        st: value(s, "gpuwatch_slurm_node_cpus", node=lab.node, state=st)
        for st in ("allocated", "idle", "other")
    }
    assert cpus["allocated"] >= 2 and sum(cpus.values()) == 4
    assert (value(s, "gpuwatch_slurm_nodes", state="allocated") or 0) + (
        value(s, "gpuwatch_slurm_nodes", state="mixed") or 0
    ) == 1
    assert value(s, "gpuwatch_slurm_license_configured", license="matlab") == 2
    # the oldest job waiting for resources is aged: in gpu, the --gpus-per-node=2 job submitted
    # above (the two-partition job counts under "debug,gpu"); its age is real, not a placeholder
    age = value(s, "gpuwatch_slurm_pending_job_oldest_age_seconds", partition="gpu")
    assert 0 < age <= time.time() - t_start + 2, age
    lab.cancel_all()


def test_drain_and_down_transitions(slurm_lab, exporter):
    lab = slurm_lab
    node = lab.node
    # a long reason with a '|' in it: not truncated, and it cannot shift sinfo's columns
    reason = "bad gpu 0 | xid 79, fell off the bus; ticket " + "x" * 120
    lab.set_node_state("drain", reason)
    s = wait_for(
        exporter,
        lambda s: value(s, "gpuwatch_slurm_node_flag", node=node, flag="drain") == 1,
        what="drain flag",
    )
    assert value(s, "gpuwatch_slurm_node_reason_info", node=node, reason=reason) == 1
    assert value(s, "gpuwatch_slurm_node_reason_timestamp_seconds", node=node) > time.time() - 60
    assert value(s, "gpuwatch_slurm_node_gpus", node=node, state="other") == 2
    lab.set_node_state("down", "dead psu")
    s = wait_for(
        exporter,
        lambda s: value(s, "gpuwatch_slurm_node_state", node=node, state="down") == 1,
        what="node down",
    )
    assert value(s, "gpuwatch_slurm_nodes", state="down") == 1
    assert value(s, "gpuwatch_slurm_partition_nodes", partition="gpu", state="down") == 1
    assert value(s, "gpuwatch_slurm_node_reason_info", node=node, reason="dead psu") == 1
    lab.set_node_state("resume")
    s = wait_for(
        exporter,
        lambda s: (
            value(s, "gpuwatch_slurm_node_state", node=node, state="idle") == 1
            and value(s, "gpuwatch_slurm_node_flag", node=node, flag="drain") is None
        ),
        what="node back",
    )
    assert value(s, "gpuwatch_slurm_nodes", state="down") == 0
    assert value(s, "gpuwatch_slurm_node_reason_info", node=node, reason="dead psu") is None


def test_finished_jobs_counted_once(slurm_lab, exporter):
    lab = slurm_lab
    before = scrape(exporter)
    base_ok = value(before, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="completed") or 0
    base_failed = value(before, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="failed") or 0
    for _ in range(3):
        lab.sbatch([], wrap="true", user="nobody")
    lab.sbatch(["-p", "gpu"], wrap="false")
    s = wait_for(
        exporter,
        lambda s: (
            value(s, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="completed")
            == base_ok + 3
            and value(s, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="failed")
            == base_failed + 1
        ),
        what="finished jobs counted",
    )
    n = value(s, "gpuwatch_slurm_collections_total")
    wait_for(exporter, lambda s: value(s, "gpuwatch_slurm_collections_total") >= n + 4, what="more cycles")
    s = scrape(exporter)
    assert value(s, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="completed") == base_ok + 3
    assert value(s, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="failed") == base_failed + 1


def test_live_output_passes_promtool(exporter):
    promtool = require_programs("promtool")["promtool"]
    body = urllib.request.urlopen(exporter + "/metrics", timeout=5).read()
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def failure_lines() -> list[str]:
    return [line for line in LOG["path"].read_text().splitlines() if "collector failed" in line]


def test_stopped_slurmctld(slurm_lab, exporter):
    pid = slurm_lab.slurmctld_pid
    logged_before = len(failure_lines())
    os.kill(pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        s = wait_for(
            exporter,
            lambda s: value(s, "gpuwatch_slurm_up") == 0,
            timeout=POLL + 3 * TIMEOUT + 5,
            what="up 0 while slurmctld is stopped",
        )
        assert time.monotonic() - t0 <= POLL + TIMEOUT + 3
        # scrapes keep answering at once while the controller hangs
        for _ in range(3):
            t1 = time.monotonic()
            scrape(exporter, timeout=TIMEOUT)
            assert time.monotonic() - t1 < 1.0
        # the command that hung was killed at the timeout and counted; which one depends on where in
        # the cycle SIGSTOP landed (squeue, sinfo, sdiag or an opt-in collector's command)
        timeouts = sum(
            v
            for (n, ls), v in s.items()
            if n == "gpuwatch_slurm_collector_errors_total" and ("kind", "timeout") in ls
        )
        assert timeouts >= 1
    finally:
        os.kill(pid, signal.SIGCONT)
    s = wait_for(
        exporter, lambda s: value(s, "gpuwatch_slurm_up") == 1, timeout=20, what="up 1 after SIGCONT"
    )
    # one warning line for the outage (not one per cycle or per collector), then "recovered"
    new = failure_lines()[logged_before:]
    assert len(new) == 1 and "level=warn" in new[0] and "timed out" in new[0], new
    assert LOG["path"].read_text().count("collector recovered") == 1
    assert all(
        value(s, "gpuwatch_slurm_collector_success", collector=c) == 1
        for c in ("jobs", "nodes", "partitions", "scheduler")
    )
    # no client processes pile up while slurmctld hangs (each is killed and reaped)
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[0]
            except OSError:
                continue
            if cmd.endswith((b"/squeue", b"/sinfo", b"/sdiag")):
                env = open(f"/proc/{p}/environ", "rb").read()
                assert str(slurm_lab.conf).encode() not in env, f"leftover client process {p} {cmd}"


def test_slurmctld_gone_and_back(slurm_lab, exporter):
    """slurmctld not running at all: clients fail fast (connection refused), up 0 within a cycle."""
    slurm_lab.stop_slurmctld()
    try:
        s = wait_for(
            exporter,
            lambda s: value(s, "gpuwatch_slurm_up") == 0,
            timeout=POLL + 3 * TIMEOUT + 5,
            what="up 0 with slurmctld stopped",
        )
        assert value(s, "gpuwatch_slurm_collector_success", collector="jobs") == 0
    finally:
        slurm_lab.start_slurmctld()
    wait_for(exporter, lambda s: value(s, "gpuwatch_slurm_up") == 1, timeout=30, what="up 1 after restart")
