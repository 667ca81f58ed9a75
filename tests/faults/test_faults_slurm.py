"""Slurm faults against a real SlurmLab and the real gpuwatch-slurm-exporter process.

One lab per module and Slurm version (22.05 from the host, 24.11 and 26.05 from Debian suite
roots: tests/conftest.py start_lab); one exporter per test, polling every 0.5 s with a 2 s command timeout and
``--slurm.bin-dir`` pointing at a folder of wrapper scripts (each ``exec``s the real client), so
a test can remove a program or truncate its output. While each fault is on, a background
scraper scrapes every 0.2 s: every scrape must answer 200 within 1.5 s (a scrape waiting on
Slurm would last the 2 s command timeout). Each test then lets the fault end and checks that
the exporter recovered by itself, left no Slurm client process or zombie behind and has no more
threads than before the fault.

The long forms (slurmctld stopped for a minute, ...) are in bench/faults.py.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import SLURM_VERSIONS, start_lab

from gpuwatch.testing import faults
from gpuwatch.testing.metrics import Scraper, parse_metrics, scrape, value, wait_metrics
from gpuwatch.testing.procs import (
    children_of,
    exporter_process,
    free_port,
    thread_count,
    wait_http,
    zombies_of,
)

pytestmark = pytest.mark.slurm

COLLECTORS = ("jobs", "nodes", "partitions", "scheduler")
POLL, TIMEOUT = 0.5, 2.0
JOBS = 3


REAL: dict[str, Path] = {}  # where the lab's real clients are (a root lab's are wrapper scripts)


@pytest.fixture(scope="module", params=SLURM_VERSIONS)
def lab(request, tmp_path_factory):
    lab = start_lab(request.param, tmp_path_factory, name="faults-lab")
    try:
        REAL["dir"] = lab.bin_dir
        for i in range(JOBS):
            lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", f"fault{i}", "--wrap", "sleep 900"])
        yield lab
    finally:
        lab.stop()


def ensure_jobs(lab) -> None:
    """Each test starts from the same state: the node back in service and JOBS active jobs.

    An earlier fault (slurmctld killed, munged stopped) can leave the node down or end the jobs,
    more likely on a loaded machine; the next test must not inherit that."""
    lab.run(["scontrol", "update", f"NodeName={lab.node}", "State=RESUME"], check=False)
    active = lab.run(["squeue", "-h", "-t", "PENDING,RUNNING", "-o", "%i"], check=False).stdout.split()
    for i in range(len(active), JOBS):
        lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", f"fault{i}", "--wrap", "sleep 900"])


def wrap(bin_dir: Path, name: str, body: str | None = None) -> None:
    """The wrapper of ``name`` in front of this lab's real client (see gpuwatch.testing.faults)."""
    faults.wrap(bin_dir, name, body, real_dir=REAL["dir"])


@pytest.fixture
def wrappers(lab, tmp_path) -> Path:
    return faults.wrapper_dir(tmp_path / "slurm-bin", real_dir=REAL["dir"])


class Running:
    def __init__(self, exp, port):
        self.exp, self.port = exp, port

    def wait(self, pred, timeout, what):
        return wait_metrics(self.port, pred, timeout, what)

    def healthy(self, m) -> bool:
        return (
            value(m, "gpuwatch_slurm_up") == 1
            and all(value(m, "gpuwatch_slurm_collector_success", collector=c) == 1 for c in COLLECTORS)
            and sum(v for (n, ls), v in m.items() if n == "gpuwatch_slurm_jobs") >= JOBS
        )


@pytest.fixture
def exporter(lab, wrappers):
    ensure_jobs(lab)
    port = free_port()
    argv = faults.slurm_exporter_under_faults_argv(port, wrappers, POLL, TIMEOUT)
    with exporter_process(argv, env=lab.env) as exp:
        wait_http(f"http://127.0.0.1:{port}/metrics", exporter=exp)
        run = Running(exp, port)
        run.wait(run.healthy, 20, "healthy before the fault")
        time.sleep(2 * POLL)
        run.threads_before = thread_count(exp.pid)
        yield run
        exp.check_alive()


def recovered_without_leaks(run: Running) -> dict:
    m = run.wait(run.healthy, 30, "recovered by itself: up 1, every collector 1, all jobs seen")
    time.sleep(POLL)
    # a command of the cycle in progress may be running right now; none may outlive its timeout
    lingering = [c for c in children_of(run.exp.pid) if c[2] > TIMEOUT + 1]
    assert lingering == [], lingering
    assert zombies_of(run.exp.pid) == []
    assert thread_count(run.exp.pid) <= run.threads_before, "threads leaked over the fault"
    return m


def assert_served(scraper: Scraper) -> None:
    assert scraper.log.failures == [], scraper.log.failures[:5]
    assert scraper.log.ok >= 5
    assert scraper.log.max_latency < 1.5, (
        f"slowest scrape {scraper.log.max_latency:.2f} s"
    )  # a stall would be >= the 2 s command timeout


def test_slurmctld_stopped(lab, exporter):
    pid = lab.slurmctld_pid
    with Scraper(exporter.port) as scraper:
        os.kill(pid, signal.SIGSTOP)
        try:
            m = exporter.wait(lambda m: value(m, "gpuwatch_slurm_up") == 0, POLL + 2 * TIMEOUT + 5, "up 0")
            assert any(value(m, "gpuwatch_slurm_collector_success", collector=c) == 0 for c in COLLECTORS)
            # the command that hung was killed at the timeout and counted: squeue, or sinfo/sdiag when
            # SIGSTOP landed after squeue had answered in that cycle
            timeouts = sum(
                v
                for (n, ls), v in m.items()
                if n == "gpuwatch_slurm_collector_errors_total" and dict(ls).get("kind") == "timeout"
            )
            assert timeouts >= 1
            # stays down, and client processes do not pile up while slurmctld hangs
            peak = 0
            for _ in range(int(3 * TIMEOUT / 0.25)):
                peak = max(peak, len(children_of(exporter.exp.pid)))
                time.sleep(0.25)
            assert peak <= 1, f"{peak} Slurm clients at once"
            assert value(parse_metrics(scrape(exporter.port)[1]), "gpuwatch_slurm_up") == 0
        finally:
            os.kill(pid, signal.SIGCONT)
        recovered_without_leaks(exporter)
    assert_served(scraper)


def test_slurmctld_killed_and_restarted(lab, exporter):
    with Scraper(exporter.port) as scraper:
        os.kill(lab.slurmctld_pid, signal.SIGKILL)
        exporter.wait(  # up 0 may come a cycle before squeue fails (it may have answered just before)
            lambda m: (
                value(m, "gpuwatch_slurm_up") == 0
                and value(m, "gpuwatch_slurm_collector_success", collector="jobs") == 0
            ),
            POLL + 3 * TIMEOUT + 5,
            "up 0 and the jobs collector failing",
        )
        time.sleep(2 * POLL)
        lab.restart_slurmctld()
        # slurmctld saves job state periodically: a job submitted just before the SIGKILL (as
        # ensure_jobs may have done) can be unknown to the restarted slurmctld. Put it back.
        ensure_jobs(lab)
        recovered_without_leaks(exporter)
    assert_served(scraper)


def test_munged_stopped(lab, exporter):
    with Scraper(exporter.port) as scraper:
        lab._stop_proc("munged")  # SlurmLab has no public munged restart; stop and start by PID
        try:
            # (the cycle running when munged stops may have finished squeue already: up 0 can come
            # one cycle before the jobs collector fails; both must within the deadline)
            exporter.wait(
                lambda m: (
                    value(m, "gpuwatch_slurm_up") == 0
                    and value(m, "gpuwatch_slurm_collector_success", collector="jobs") == 0
                ),
                POLL + 3 * TIMEOUT + 10,
                "up 0 and the jobs collector failing",
            )
        finally:
            lab._start_munged()
        # without munge slurmd cannot report to slurmctld: on a loaded machine the node can be set
        # down and the jobs end during the outage. Put them back; the exporter must then see them.
        ensure_jobs(lab)
        recovered_without_leaks(exporter)
    assert_served(scraper)


def test_slurm_binary_missing(lab, exporter, wrappers):
    with Scraper(exporter.port) as scraper:
        (wrappers / "sdiag").unlink()
        m = exporter.wait(
            lambda m: value(m, "gpuwatch_slurm_collector_success", collector="scheduler") == 0,
            10,
            "scheduler failing",
        )
        # the rest of the scrape still comes out: slurmctld answers, the other collectors work
        assert value(m, "gpuwatch_slurm_up") == 1
        for c in ("jobs", "nodes", "partitions"):
            assert value(m, "gpuwatch_slurm_collector_success", collector=c) == 1, c
        before = value(m, "gpuwatch_slurm_collector_errors_total", collector="scheduler", kind="command")
        time.sleep(4 * POLL)
        m = parse_metrics(scrape(exporter.port)[1])
        assert (
            value(m, "gpuwatch_slurm_collector_errors_total", collector="scheduler", kind="command") > before
        )
        # one log line for the failure, not one per cycle
        assert exporter.exp.log().count("sdiag not found") == 1, exporter.exp.log()

        # every program missing: nothing answers, so up is 0
        for name in faults.SLURM_CLIENTS:
            (wrappers / name).unlink(missing_ok=True)
        exporter.wait(lambda m: value(m, "gpuwatch_slurm_up") == 0, 10, "up 0 with no Slurm programs at all")
        for name in faults.SLURM_CLIENTS:
            wrap(wrappers, name)
        recovered_without_leaks(exporter)
    assert_served(scraper)


def test_output_truncated_mid_line(lab, exporter, wrappers):
    full = parse_metrics(scrape(exporter.port)[1])
    jobs_full = sum(v for (n, ls), v in full.items() if n == "gpuwatch_slurm_jobs")
    bad0 = value(full, "gpuwatch_slurm_bad_lines_total", command="squeue") or 0
    with Scraper(exporter.port) as scraper:
        # exit status 0, last row cut in the middle (as from a client killed by a pipe or a full disk)
        wrap(
            wrappers,
            "squeue",
            'out=$(REAL "$@"); n=$(printf %s "$out" | head -n 1 | wc -c); printf %s "$out" | head -c $((n + n / 2))\n',
        )
        m = exporter.wait(
            lambda m: (
                (value(m, "gpuwatch_slurm_bad_lines_total", command="squeue") or 0) > bad0
                or value(m, "gpuwatch_slurm_collector_success", collector="jobs") == 0
            ),
            10,
            "the cut row counted as a bad line (or the collector failed)",
        )
        jobs_cut = sum(v for (n, ls), v in m.items() if n == "gpuwatch_slurm_jobs")
        assert jobs_cut <= jobs_full, "truncated output must not invent jobs"
        # truncated and a failing exit status: the collector fails, the rest still comes out
        wrap(wrappers, "squeue", 'REAL "$@" | head -c 70; exit 1\n')
        m = exporter.wait(
            lambda m: value(m, "gpuwatch_slurm_collector_success", collector="jobs") == 0, 10, "jobs failing"
        )
        assert value(m, "gpuwatch_slurm_collector_success", collector="scheduler") == 1
        # garbage instead of output
        wrap(wrappers, "squeue", "head -c 3000 /dev/urandom; echo\n")
        time.sleep(4 * POLL)
        exporter.exp.check_alive()
        wrap(wrappers, "squeue")
        recovered_without_leaks(exporter)
    assert_served(scraper)
