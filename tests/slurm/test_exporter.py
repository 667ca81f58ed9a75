"""The exporter's plumbing with recorded real output behind stand-in commands: golden /metrics,
catalog coverage, failure handling (garbage, non-zero exit, hang), process hygiene, caching, CLI.
Real Slurm runs in test_lab.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import require_programs

from gpuwatch.exporters.common.http import Site
from gpuwatch.exporters.common.server import start_server
from gpuwatch.exporters.slurm.cli import build_parser
from gpuwatch.exporters.slurm.collectors import COLLECTORS
from gpuwatch.exporters.slurm.cycle import Cycle
from gpuwatch.exporters.slurm.exporter import Exporter
from gpuwatch.exporters.slurm.metrics import METRICS
from gpuwatch.exporters.slurm.parsers.common import parse_timestamp
from gpuwatch.exporters.slurm.runner import CommandError, Runner
from gpuwatch.localstack.slurm import free_port, pid_alive

from .conftest import SLURM_FIXTURES
from .helpers import samples, series_names, value

LAB = SLURM_FIXTURES / "lab-22.05"
GOLDEN = SLURM_FIXTURES / "golden" / "metrics.prom"
NOW = parse_timestamp("2026-11-30T15:54:20")
ALL = sorted(COLLECTORS.specs)
DEFAULT = COLLECTORS.enabled_from(None)
DYNAMIC = ("_duration_seconds", "gpuwatch_slurm_last_collection_timestamp_seconds")


def make_exporter(bin_dir: Path, collectors=None, timeout: float = 5.0) -> Exporter:
    return Exporter(collectors or DEFAULT, Runner(timeout=timeout, bin_dir=str(bin_dir)), poll_interval=60)


def normalise(text: str) -> str:
    """Blank out values that depend on timing so the golden file is stable."""
    out = []
    for line in text.splitlines():
        if not line.startswith("#") and any(d in line.split("{")[0].split(" ")[0] for d in DYNAMIC):
            line = line.rsplit(" ", 1)[0] + " <dynamic>"
        out.append(line)
    return "\n".join(out) + "\n"


def test_default_collectors():
    assert DEFAULT == ["jobs", "nodes", "partitions", "scheduler"]
    assert set(ALL) == {
        "fairshare",
        "jobs",
        "licenses",
        "nodes",
        "partitions",
        "reservations",
        "scheduler",
        "users",
    }


def test_golden_metrics(fake_slurm, update_golden):
    exp = make_exporter(fake_slurm(LAB / "busy"), ALL)
    text = normalise(exp.collect_once(now=NOW).decode())
    if update_golden or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
        if not update_golden:
            pytest.fail(f"{GOLDEN} was missing and has been written; review and commit it")
    assert text == GOLDEN.read_text(), (
        "metrics differ from the golden file; rerun with --update-golden if intended"
    )


def test_busy_values(fake_slurm):
    smp = samples(make_exporter(fake_slurm(LAB / "busy"), ALL).collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_up") == 1
    assert all(value(smp, "gpuwatch_slurm_collector_success", collector=c) == 1 for c in ALL)
    assert value(smp, "gpuwatch_slurm_node_state", node="vm", state="mixed") == 1
    assert (
        value(smp, "gpuwatch_slurm_nodes", state="mixed") == 1
        and value(smp, "gpuwatch_slurm_nodes", state="idle") == 0
    )
    assert value(smp, "gpuwatch_slurm_node_gpus", node="vm", state="allocated") == 2
    assert value(smp, "gpuwatch_slurm_node_cpus", node="vm", state="idle") == 2
    # array tasks counted one by one; the two-partition job keeps its "a,b" partition
    assert value(smp, "gpuwatch_slurm_jobs", partition="debug", state="pending") == 10
    assert value(smp, "gpuwatch_slurm_jobs", partition="debug,gpu", state="pending") == 1
    assert value(smp, "gpuwatch_slurm_jobs", partition="gpu", state="running") == 2
    assert value(smp, "gpuwatch_slurm_job_gpus", partition="gpu", state="running") == 2
    assert value(smp, "gpuwatch_slurm_job_gpus", partition="gpu", state="pending") == 2
    assert value(smp, "gpuwatch_slurm_jobs_pending", partition="debug", reason="ReqNodeNotAvail") == 1
    assert value(smp, "gpuwatch_slurm_jobs_pending", partition="debug", reason="Priority") == 4
    for reason in ("BeginTime", "Dependency", "JobHeldUser", "PartitionConfig", "PartitionNodeLimit"):
        assert value(smp, "gpuwatch_slurm_jobs_pending", partition="debug", reason=reason) == 1, reason
    # oldest job waiting for resources/priority (eligible 15:54:16 in debug), not the held/dependent ones
    assert value(smp, "gpuwatch_slurm_pending_job_oldest_age_seconds", partition="debug") == 4
    assert value(smp, "gpuwatch_slurm_pending_job_oldest_age_seconds", partition="gpu") == 5
    # finished jobs already visible at start-up are remembered, not counted
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="completed") == 0
    assert value(smp, "gpuwatch_slurm_rpc_total", type="REQUEST_JOB_INFO") == 26
    assert value(smp, "gpuwatch_slurm_license_used", license="matlab") == 0
    assert value(smp, "gpuwatch_slurm_reservation_cores", reservation="maint_window") == 4
    assert value(smp, "gpuwatch_slurm_user_gpus", user="nobody", state="pending") == 2
    assert value(smp, "gpuwatch_slurm_partition_gpus", partition="gpu", state="allocated") == 2


def test_draining_and_down_stages(fake_slurm):
    smp = samples(make_exporter(fake_slurm(LAB / "draining")).collect_once(now=NOW))
    # 2 of 4 CPUs allocated, drained: scontrol says MIXED+DRAIN (22.05's sinfo: allocated+drain)
    assert value(smp, "gpuwatch_slurm_node_state", node="vm", state="mixed") == 1
    assert value(smp, "gpuwatch_slurm_node_flag", node="vm", flag="drain") == 1
    assert value(smp, "gpuwatch_slurm_node_reason_info", node="vm", reason="gpu fell off the bus") == 1
    smp = samples(make_exporter(fake_slurm(LAB / "down", "bin2")).collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_node_state", node="vm", state="down") == 1
    assert value(smp, "gpuwatch_slurm_nodes", state="down") == 1
    assert value(smp, "gpuwatch_slurm_node_gpus", node="vm", state="other") == 2  # free but unusable
    assert value(smp, "gpuwatch_slurm_node_gpus", node="vm", state="idle") == 0


def test_every_emitted_series_is_declared(fake_slurm):
    smp = samples(make_exporter(fake_slurm(LAB / "busy"), ALL).collect_once(now=NOW))
    declared = {s for m in METRICS for s in m.series_names}
    emitted = series_names(smp)
    assert emitted - declared == set()
    # and the declarations carry the labels actually used
    by_name = {m.name: m for m in METRICS}
    for name, labels in smp:
        assert {k for k, _ in labels} == set(by_name[name].labels), name


@pytest.mark.prometheus
def test_promtool_check_metrics(fake_slurm):
    promtool = require_programs("promtool")["promtool"]
    body = make_exporter(fake_slurm(LAB / "busy"), ALL).collect_once(now=NOW)
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


@pytest.mark.prometheus  # runs promtool check metrics
@pytest.mark.parametrize("stage", ["busy", "draining", "down", "resumed"])
@pytest.mark.parametrize("version", ["24.11", "26.05"])
def test_recorded_newer_versions_export_what_scontrol_says(fake_slurm, version, stage):
    """Every collector on the real output of Slurm 24.11 and 26.05: all succeed, the node's
    state, flags, CPUs and GPUs equal `scontrol show node`, and promtool accepts the page."""
    from .agree import exporter_node, scontrol_nodes

    d = SLURM_FIXTURES / f"lab-{version}" / stage
    body = make_exporter(fake_slurm(d), ALL).collect_once(now=NOW)
    smp = samples(body)
    assert value(smp, "gpuwatch_slurm_up") == 1
    assert {c: value(smp, "gpuwatch_slurm_collector_success", collector=c) for c in ALL} == dict.fromkeys(
        ALL, 1
    )
    assert exporter_node(smp, "vm") == scontrol_nodes((d / "scontrol_show_node.txt").read_text())["vm"]
    assert value(smp, "gpuwatch_slurm_reservation_cores", reservation="maint_window") == 4
    promtool = require_programs("promtool")["promtool"]
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()


def write_cmd(bin_dir: Path, name: str, body: str) -> None:
    p = bin_dir / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)


def test_garbage_output_fails_collector_not_up(fake_slurm, caplog):
    bin_dir = fake_slurm(LAB / "busy")
    write_cmd(bin_dir, "squeue", "echo '<html>502 Bad Gateway</html>'")
    exp = make_exporter(bin_dir)
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_up") == 1  # slurmctld answered the other commands
    assert value(smp, "gpuwatch_slurm_collector_success", collector="jobs") == 0
    assert value(smp, "gpuwatch_slurm_collector_success", collector="nodes") == 1
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="jobs", kind="parse") == 1
    assert value(smp, "gpuwatch_slurm_nodes", state="mixed") == 1  # the rest of the scrape comes out
    assert len([r for r in caplog.records if "collector failed" in r.getMessage()]) == 1
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="jobs", kind="parse") == 2


def test_output_cut_mid_line_fails_collector_but_exports_what_parsed(fake_slurm, caplog):
    """squeue exits 0 but its last row is cut in half: the jobs collector reports failure (its data
    is partial), the cut row is counted as a bad line, the whole rows are still exported, and
    collectors that did not use squeue are unaffected."""
    stage = LAB / "busy"
    full = samples(make_exporter(fake_slurm(stage, "full")).collect_once(now=NOW))
    jobs_full = sum(v for (n, _), v in full.items() if n == "gpuwatch_slurm_jobs")
    text = (stage / "squeue.txt").read_text()
    rows = text.splitlines(keepends=True)
    assert len(rows) > 2
    cut = "".join(rows[:-1]) + rows[-1][: len(rows[-1]) // 3]
    bin_dir = fake_slurm(stage)
    (bin_dir / "cut.txt").write_text(cut)
    write_cmd(bin_dir, "squeue", f"cat '{bin_dir / 'cut.txt'}'")
    exp = make_exporter(bin_dir)
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_up") == 1
    assert value(smp, "gpuwatch_slurm_collector_success", collector="jobs") == 0
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="jobs", kind="parse") == 1
    assert value(smp, "gpuwatch_slurm_bad_lines_total", command="squeue") == 1
    assert value(smp, "gpuwatch_slurm_collector_success", collector="nodes") == 1
    jobs_cut = sum(v for (n, _), v in smp.items() if n == "gpuwatch_slurm_jobs")
    assert 0 < jobs_cut < jobs_full  # the whole rows still count, the cut one does not
    assert len([r for r in caplog.records if "collector failed" in r.getMessage()]) == 1
    # whole output again: the collector recovers
    write_cmd(bin_dir, "squeue", f"cat '{stage / 'squeue.txt'}'")
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_collector_success", collector="jobs") == 1


def test_unreachable_controller_sets_up_0(fake_slurm):
    bin_dir = fake_slurm(LAB / "busy")
    write_cmd(
        bin_dir,
        "squeue",
        "echo 'slurm_load_jobs error: Unable to contact slurm controller (connect failure)' >&2; exit 1",
    )
    smp = samples(make_exporter(bin_dir).collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_up") == 0
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="jobs", kind="command") == 1


def test_shared_command_failure_logs_one_line(fake_slurm, caplog):
    caplog.set_level("INFO", logger="gpuwatch.slurm")
    bin_dir = fake_slurm(LAB / "busy")
    write_cmd(bin_dir, "sinfo", "echo 'Segmentation fault' ")
    exp = make_exporter(bin_dir)
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_collector_success", collector="nodes") == 0
    assert value(smp, "gpuwatch_slurm_collector_success", collector="partitions") == 0
    assert value(smp, "gpuwatch_slurm_collector_success", collector="jobs") == 1
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
    exp.collect_once(now=NOW)  # the same failure again: not logged again at warning level
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
    write_cmd(bin_dir, "sinfo", f"cat {LAB / 'busy' / 'sinfo.txt'}")
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_collector_success", collector="nodes") == 1
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_other_nonzero_exit_keeps_up(fake_slurm):
    bin_dir = fake_slurm(LAB / "busy")
    write_cmd(bin_dir, "sdiag", "echo 'sdiag: invalid option' >&2; exit 2")
    smp = samples(make_exporter(bin_dir).collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_up") == 1
    assert value(smp, "gpuwatch_slurm_collector_success", collector="scheduler") == 0


def test_hang_is_killed_and_rest_of_cycle_skipped(fake_slurm, tmp_path, caplog):
    bin_dir = fake_slurm(LAB / "busy")
    pids = tmp_path / "pids"
    # a command that hangs and leaves a child behind in its process group
    write_cmd(bin_dir, "squeue", f"sleep 60 & echo $! >> {pids}; echo $$ >> {pids}; wait")
    exp = make_exporter(bin_dir, timeout=1.0)
    t0 = time.monotonic()
    smp = samples(exp.collect_once(now=NOW))
    took = time.monotonic() - t0
    assert 0.9 < took < 4, took  # one timeout, not one per collector
    assert value(smp, "gpuwatch_slurm_up") == 0
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="jobs", kind="timeout") == 1
    for c in ("jobs", "nodes", "partitions", "scheduler"):
        assert value(smp, "gpuwatch_slurm_collector_success", collector=c) == 0
    # one warning line for the cycle, not one per collector
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1
    # the killed command and its child are gone, and no zombie is left behind
    child_sleep, shell = map(int, pids.read_text().split())
    assert not pid_alive(shell)  # our own child: killed and reaped before the cycle returned
    # The orphan got SIGKILL with its process group; on a loaded machine the kernel may take a
    # moment to finish it (signal delivery is asynchronous), so allow it a short while.
    deadline = time.monotonic() + 5
    while pid_alive(child_sleep) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child_sleep), "the hung command's child outlived the kill"
    # our own child (the shell) was reaped; its orphaned child is init's to reap, not ours
    assert _ppid(shell) != os.getpid()
    children = [
        int(p) for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid(int(p.name)) == os.getpid()
    ]
    assert all(pid_alive(c) for c in children), "zombie children left"


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_runner_missing_program_and_not_found_bin_dir(tmp_path):
    r = Runner(timeout=1, bin_dir=str(tmp_path))
    with pytest.raises(CommandError, match="squeue not found in"):
        r.run(["squeue"])


def test_runner_strips_format_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SQUEUE_FORMAT", "%i")
    monkeypatch.setenv("SINFO_FORMAT", "%N")
    write_cmd(tmp_path, "squeue", 'echo "${SQUEUE_FORMAT:-unset} ${SINFO_FORMAT:-unset} $TZ"')
    assert Runner(timeout=5, bin_dir=str(tmp_path)).run(["squeue"]).stdout.strip() == "unset unset UTC"


def test_finished_jobs_counted_once(fake_slurm, tmp_path):
    stage = tmp_path / "stage"
    shutil.copytree(LAB / "busy", stage)
    bin_dir = fake_slurm(stage)
    exp = make_exporter(bin_dir, ["jobs"])
    base = (stage / "squeue.txt").read_text()
    done = (
        "20|gpu|COMPLETED|nobody|(null)|1|1|1|N/A|N/A|N/A|cpu=1|N/A|2026-11-30T15:41:00|2026-11-30T15:41:30|None|\n"
        "21_3|debug|TIMEOUT|daemon|(null)|1|1|1|N/A|N/A|N/A|cpu=1|N/A|2026-11-30T15:41:00|2026-11-30T15:41:40|TimeLimit|\n"
    )
    exp.collect_once(now=NOW)  # start-up: jobs 1-3 already finished are not counted
    (stage / "squeue.txt").write_text(base + done)
    for _ in range(3):  # visible for several cycles (MinJobAge), counted once
        smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="completed") == 1
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="timeout") == 1
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="debug", state="completed") == 0
    # the job leaves squeue (MinJobAge passed): forgotten, and the counter stays
    (stage / "squeue.txt").write_text(base)
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="completed") == 1
    assert len(exp.collectors["jobs"].seen_finished) == 3  # bounded by what slurmctld lists
    # a requeued job finishing again (same id, new end time) counts again
    (stage / "squeue.txt").write_text(base + done.replace("15:41:30", "15:49:30"))
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="completed") == 2
    # a failed squeue does not forget what was seen
    write_cmd(bin_dir, "squeue", "exit 1")
    exp.collect_once(now=NOW)
    write_cmd(bin_dir, "squeue", f"cat {stage / 'squeue.txt'}")
    smp = samples(exp.collect_once(now=NOW))
    assert value(smp, "gpuwatch_slurm_jobs_finished_total", partition="gpu", state="completed") == 2


def test_scrapes_are_served_from_the_cycle_cache(fake_slurm, tmp_path):
    bin_dir = fake_slurm(LAB / "busy")
    calls = tmp_path / "calls"
    write_cmd(bin_dir, "squeue", f"echo x >> {calls}; cat {LAB / 'busy' / 'squeue.txt'}")
    exp = make_exporter(bin_dir)
    exp.poll_interval = 3600
    args = build_parser().parse_args([f"--web.listen-address=127.0.0.1:{free_port()}"])
    server = start_server(args, Site("t", "/metrics", exp.render, ready=exp.ready))
    exp.start()
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        bodies = []

        def scrape():
            bodies.append(urllib.request.urlopen(url, timeout=10).read())

        threads = [threading.Thread(target=scrape) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(bodies) == 20 and len(set(bodies)) == 1
        assert b"gpuwatch_slurm_up 1.0" in bodies[0]
        assert calls.read_text().count("x") == 1  # 20 scrapes, one squeue
        assert urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5).status == 200
    finally:
        server.shutdown()
        exp.stop()


def test_cli_flags():
    a = build_parser().parse_args([])
    assert a.listen_address == ("", 9341) and a.telemetry_path == "/metrics"
    assert (a.poll_interval, a.timeout, a.bin_dir) == (30.0, 10.0, None)
    a = build_parser().parse_args(["--no-collector.jobs", "--collector.users", "--slurm.timeout=2.5"])
    assert COLLECTORS.enabled(a) == ["nodes", "partitions", "scheduler", "users"] and a.timeout == 2.5


def test_cli_errors_exit_nonzero(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "gpuwatch.exporters.slurm.cli", "--slurm.timeout=0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "--slurm.timeout: must be > 0" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "gpuwatch.exporters.slurm.cli", f"--slurm.bin-dir={tmp_path}/nope"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "--slurm.bin-dir" in r.stderr and "not a directory" in r.stderr


def test_fast_renderer_matches_client_python(fake_slurm):
    """The exporter's families, written by the shared writer, equal prometheus_client's output
    (tests/common/test_exposition.py checks odd label values and numbers)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from gpuwatch.exporters.common.exposition import render_text

    exp = make_exporter(fake_slurm(LAB / "busy"), ALL)
    fams = []
    for name in ALL:
        fams += exp.collectors[name].collect(Cycle(exp.runner, NOW))

    class Fixed:
        def collect(self):
            return [f.to_prometheus() for f in fams]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    assert render_text(fams) == generate_latest(registry)


def test_docs_document_every_metric_flag_and_collector():
    """docs/metrics.md lists every Slurm metric; docs/slurm-exporter.md every flag and collector."""
    from conftest import ROOT

    metrics_doc = (ROOT / "docs" / "metrics.md").read_text()
    slurm_metrics = metrics_doc.split("## Slurm exporter", 1)[1].split("\n## ", 1)[0]
    for m in METRICS:
        assert f"`{m.name}`" in slurm_metrics, m.name
    section = (ROOT / "docs" / "slurm-exporter.md").read_text()
    for flag in (
        "--web.listen-address",
        "--web.telemetry-path",
        "--log.level",
        "--slurm.poll-interval",
        "--slurm.timeout",
        "--slurm.bin-dir",
    ):
        assert flag in section, flag
    for name in ALL:
        assert f"| `{name}` |" in section, name


def test_each_collector_exports_exactly_the_metrics_declared_for_it(fake_slurm):
    """The catalog's `collector` field (docs/metrics.md groups by it) is what the collectors do."""
    exp = make_exporter(fake_slurm(LAB / "busy"), ALL)
    for name in ALL:
        got = {f.name for f in exp.collectors[name].collect(Cycle(exp.runner, NOW))}
        assert got == {d.name for d in METRICS if d.collector == name}, name


def test_a_command_the_collector_did_not_declare_is_refused(fake_slurm, monkeypatch):
    """The staleness bound counts declared commands, so an undeclared one fails the collector."""
    import dataclasses

    spec = COLLECTORS.specs["scheduler"]
    monkeypatch.setitem(COLLECTORS._specs, "scheduler", dataclasses.replace(spec, needs=frozenset({"sinfo"})))
    exp = make_exporter(fake_slurm(LAB / "busy"), ["nodes", "scheduler"])
    smp = samples(exp.collect_once(NOW))
    assert value(smp, "gpuwatch_slurm_collector_success", collector="scheduler") == 0
    assert value(smp, "gpuwatch_slurm_collector_errors_total", collector="scheduler", kind="internal") == 1
    assert value(smp, "gpuwatch_slurm_collector_success", collector="nodes") == 1
    assert "sdiag" not in {
        dict(k[1]).get("command") for k in smp if k[0] == "gpuwatch_slurm_command_duration_seconds"
    }
