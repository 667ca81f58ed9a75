"""The exporter against a real single-host Slurm (munge, slurmctld, slurmd with 2 fake GPUs).

One SlurmLab and one exporter process per module and Slurm version (22.05 from the host, 24.11
and 26.05 from Debian suite roots: see conftest.slurm_lab). Covers: the RPC budget per cycle,
jobs from several users with GPUs asked for in three ways, pending reasons, agreement with
``scontrol show node`` and ``squeue`` at every stage (running, pending for Resources/Priority/
held/dependency, an array with pending tasks, a reservation, drain while jobs run, down,
resume), finished-job counters, a SIGSTOPped and a restarted slurmctld, promtool on the live output.
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

from .agree import exporter_counts, exporter_node, scontrol_nodes, squeue_counts
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
            "--collector.reservations",
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


def agreement(lab, url, timeout: float = 20) -> dict:
    """Wait until the exporter's node facts and job counts equal scontrol's and squeue's (read
    fresh each round: a live cluster moves); fail with both sides when they never do."""
    deadline = time.monotonic() + timeout
    while True:
        before = lab.scontrol("show", "node", "--details", "--oneliner")
        smp = scrape(url)
        jobs = lab.run(["squeue", "-h", "-r", "-t", "all", "-o", "%P|%T"]).stdout
        truth = scontrol_nodes(before)[lab.node]
        if lab.scontrol("show", "node", "--details", "--oneliner") == before:  # scontrol was stable
            got = exporter_node(smp, lab.node)
            want_jobs, got_jobs = squeue_counts(jobs), exporter_counts(smp)
            if got == truth and got_jobs == want_jobs:
                return smp
        if time.monotonic() > deadline:
            pytest.fail(
                f"Slurm {lab.version_string}: exporter {got} vs scontrol {truth}; "
                f"jobs exporter {got_jobs} vs squeue {want_jobs}"
            )
        time.sleep(0.3)


def test_exporter_agrees_with_scontrol_and_squeue_at_each_stage(slurm_lab, exporter):
    lab = slurm_lab
    lab.cancel_all()
    lab.wait_for(lambda: lab.node_states() == {"idle"}, what="idle node")
    stages = {"idle": agreement(lab, exporter)}
    run = lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-c", "2", "-t", "10"], user="nobody")
    lab.sbatch(["--array=0-3%1", "-t", "10"], user="daemon")  # one task runs, three wait
    lab.wait_for(
        lambda: len(lab.run(["squeue", "-h", "-t", "R", "-o", "%i"]).stdout.split()) == 2,
        timeout=40,
        what="the GPU job and one array task running",
    )
    # (submitted before the array, a pending gpu job would hold the node for itself: the array
    # would wait with "Nodes required for job are DOWN, DRAINED or reserved ...", i.e. Resources)
    lab.sbatch(["-p", "gpu", "--gres=gpu:2", "-t", "10"], user="nobody")  # Resources
    lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-t", "10"], user="daemon")  # Priority (behind it)
    lab.sbatch(["--hold", "-t", "10"], user="daemon")  # JobHeldUser
    lab.sbatch([f"--dependency=afterok:{run}", "-t", "10"], user="nobody")  # Dependency
    lab.scontrol(
        "create",
        "reservation",
        "ReservationName=gw_maint",
        "StartTime=now+2hours",
        "Duration=60",
        "Nodes=ALL",
        f"Users={lab.user_ref('root')}",
        "Flags=MAINT,IGNORE_JOBS",
    )
    try:
        want = {"Resources", "Priority", "JobHeldUser", "Dependency", "JobArrayTaskLimit"}
        lab.wait_for(
            lambda: want <= set(lab.run(["squeue", "-h", "-t", "PD", "-o", "%r"]).stdout.split()),
            timeout=40,
            what=f"pending reasons {sorted(want)} in squeue",
        )
        reasons = {
            ("gpu", "Resources"): 1,
            ("gpu", "Priority"): 1,
            ("debug", "JobHeldUser"): 1,
            ("debug", "Dependency"): 1,
            ("debug", "JobArrayTaskLimit"): 3,
        }

        def pending(s):
            return {
                (dict(ls)["partition"], dict(ls)["reason"]): v
                for (n, ls), v in s.items()
                if n == "gpuwatch_slurm_jobs_pending" and v
            }

        s = wait_for(exporter, lambda s: pending(s) == reasons, what=f"pending reasons {reasons}")
        s = stages["busy"] = agreement(lab, exporter)
        assert pending(s) == reasons
        assert value(s, "gpuwatch_slurm_job_gpus", partition="gpu", state="running") == 1
        assert value(s, "gpuwatch_slurm_job_gpus", partition="gpu", state="pending") == 3
        assert value(s, "gpuwatch_slurm_reservation_nodes", reservation="gw_maint") == 1
        assert value(s, "gpuwatch_slurm_reservation_cores", reservation="gw_maint") == 4
        # drained while jobs hold 3 of 4 CPUs: scontrol MIXED+DRAIN, the exporter mixed + drain
        lab.set_node_state("drain", "gpu 0 fell off the bus")
        s = stages["draining"] = agreement(lab, exporter)
        assert value(s, "gpuwatch_slurm_node_state", node=lab.node, state="mixed") == 1
        assert value(s, "gpuwatch_slurm_node_flag", node=lab.node, flag="drain") == 1
        lab.set_node_state("down", "dead psu")
        s = stages["down"] = agreement(lab, exporter)
        assert value(s, "gpuwatch_slurm_node_state", node=lab.node, state="down") == 1
        lab.set_node_state("resume")
        lab.wait_for(
            lambda: not any(w.startswith(("down", "drain", "idle*")) for w in lab.node_states() or {"down"}),
            what="node back in service",
        )
        s = stages["resumed"] = agreement(lab, exporter)
        assert not [k for k in s if k[0] == "gpuwatch_slurm_node_reason_info"]  # 24.11 keeps it; we don't
    finally:
        lab.run(["scontrol", "delete", "ReservationName=gw_maint"], check=False)
        lab.run(["scontrol", "update", f"NodeName={lab.node}", "State=RESUME"], check=False)
        lab.cancel_all()
    assert set(stages) == {"idle", "busy", "draining", "down", "resumed"}


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
        # up 0 can come one cycle before the jobs collector fails (squeue may have answered just
        # before slurmctld went): both must happen within the deadline
        wait_for(
            exporter,
            lambda s: (
                value(s, "gpuwatch_slurm_up") == 0
                and value(s, "gpuwatch_slurm_collector_success", collector="jobs") == 0
            ),
            timeout=POLL + 3 * TIMEOUT + 5,
            what="up 0 and the jobs collector failing with slurmctld stopped",
        )
    finally:
        slurm_lab.start_slurmctld()
    wait_for(exporter, lambda s: value(s, "gpuwatch_slurm_up") == 1, timeout=30, what="up 1 after restart")
