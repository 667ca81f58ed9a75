"""The staleness guard and the bounded first scrape of the Slurm exporter: cycles that keep raising,
a poller stuck on a hanging command, a dead poller thread, and a scrape or /-/ready before the first
cycle completes. Stand-in commands print recorded real output (tests/slurm/conftest.py)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import require_programs

from gpuwatch.exporters.common.http import Site
from gpuwatch.exporters.common.server import start_server
from gpuwatch.exporters.slurm import exporter as exporter_mod
from gpuwatch.exporters.slurm.cli import build_parser
from gpuwatch.exporters.slurm.collectors import COLLECTORS, commands_for
from gpuwatch.exporters.slurm.cycle import Cycle
from gpuwatch.exporters.slurm.exporter import Exporter, default_stale_after
from gpuwatch.exporters.slurm.metrics import METRICS
from gpuwatch.exporters.slurm.runner import Runner
from gpuwatch.localstack.slurm import free_port

from .conftest import SLURM_FIXTURES
from .helpers import samples, series_names, value

LAB = SLURM_FIXTURES / "lab-22.05"
DEFAULT = COLLECTORS.enabled_from(None)
ALL = sorted(COLLECTORS.specs)
DECLARED = {m.name for m in METRICS}


def wait_for(pred, timeout=10.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def gated(bin_dir: Path, name: str, stage: Path, gate: Path) -> None:
    """``name`` hangs while the file ``gate`` exists, then prints its recorded output."""
    p = bin_dir / name
    p.write_text(f"#!/bin/sh\nwhile [ -e '{gate}' ]; do sleep 0.05; done\ncat '{stage / (name + '.txt')}'\n")
    p.chmod(0o755)


def messages(caplog, text):
    return [r for r in caplog.records if text in r.getMessage()]


def test_default_bound_and_commands_per_collector(fake_slurm):
    # the bound counts distinct commands: nodes+partitions share sinfo, jobs+users share squeue
    assert commands_for(DEFAULT) == {"sinfo", "squeue", "sdiag"}
    assert default_stale_after(30, 10, DEFAULT) == 90  # max(3*30, 30 + 2*3*10)
    assert default_stale_after(60, 2, DEFAULT) == 180  # max(3*60, 60 + 2*3*2)
    assert default_stale_after(5, 10, ALL) == 5 + 2 * 6 * 10
    # the mapping is what a real cycle runs
    exp = Exporter(ALL, Runner(timeout=5, bin_dir=str(fake_slurm(LAB / "busy"))))
    cycle = Cycle(exp.runner)
    for name in ALL:
        exp.collectors[name].collect(cycle)
    assert set(cycle.durations) == commands_for(ALL)


def test_cycles_that_keep_raising_go_stale_then_recover(fake_slurm, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="gpuwatch.slurm")
    exp = Exporter(
        DEFAULT, Runner(timeout=5, bin_dir=str(fake_slurm(LAB / "busy"))), poll_interval=0.1, stale_after=1.0
    )
    exp.start()
    try:
        assert wait_for(exp.ready)
        smp = samples(exp.render())
        assert value(smp, "gpuwatch_slurm_up") == 1 and value(smp, "gpuwatch_slurm_nodes", state="mixed") == 1
        first_ts = value(smp, "gpuwatch_slurm_last_collection_timestamp_seconds")
        real = exporter_mod.render_text
        calls = []

        def broken(fams):
            calls.append(1)
            raise RuntimeError("renderer bug")

        monkeypatch.setattr(exporter_mod, "render_text", broken)
        assert wait_for(lambda: len(calls) >= 3)
        body = exp.render()  # cycles raise but the data is not stale yet: the last good body
        assert b"gpuwatch_slurm_up 1" in body
        monkeypatch.setattr(exporter_mod, "render_text", real)  # the degraded body needs the renderer
        monkeypatch.setattr(exp, "collect_once", lambda now=None: broken(None))
        assert wait_for(lambda: not exp.check(), timeout=5)
        bodies = [exp.render() for _ in range(5)]
        smp = samples(bodies[-1])
        assert value(smp, "gpuwatch_slurm_up") == 0
        assert value(smp, "gpuwatch_slurm_last_collection_timestamp_seconds") <= first_ts + 0.5
        assert value(smp, "gpuwatch_slurm_collection_failures_total") >= 3
        for c in DEFAULT:
            assert value(smp, "gpuwatch_slurm_collector_success", collector=c) == 0
        assert "gpuwatch_slurm_nodes" not in series_names(smp)  # no stale Slurm series
        assert series_names(smp) <= DECLARED
        assert not exp.ready()
        assert len(messages(caplog, "collection stale")) == 1  # one line, however many scrapes
        errors = [r for r in messages(caplog, "collection cycle failed") if r.levelno >= logging.ERROR]
        assert len(errors) == 1, [r.getMessage() for r in errors]  # one line while the error repeats
        monkeypatch.undo()
        assert wait_for(exp.ready, timeout=5)
        smp = samples(exp.render())
        assert value(smp, "gpuwatch_slurm_up") == 1 and value(smp, "gpuwatch_slurm_nodes", state="mixed") == 1
        assert value(smp, "gpuwatch_slurm_last_collection_timestamp_seconds") > first_ts
        assert len(messages(caplog, "collection recovered")) == 1
        assert len(messages(caplog, "collection stale")) == 1
    finally:
        exp.stop()


def test_hung_command_within_a_long_timeout_goes_stale(fake_slurm, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="gpuwatch.slurm")
    stage = tmp_path / "stage"
    shutil.copytree(LAB / "busy", stage)
    bin_dir = fake_slurm(stage)
    gate = tmp_path / "hang"
    gated(bin_dir, "sinfo", stage, gate)
    exp = Exporter(DEFAULT, Runner(timeout=60, bin_dir=str(bin_dir)), poll_interval=0.1, stale_after=1.0)
    exp.start()
    try:
        assert wait_for(exp.ready)
        gate.touch()  # the next cycle hangs in sinfo (its 60 s timeout is far away)
        assert wait_for(lambda: exp._cycle is not None and exp._cycle.running == "sinfo")
        assert wait_for(lambda: not exp.check(), timeout=5)
        smp = samples(exp.render())
        assert value(smp, "gpuwatch_slurm_up") == 0
        assert value(smp, "gpuwatch_slurm_last_collection_timestamp_seconds") is not None
        stale = messages(caplog, "collection stale")
        assert len(stale) == 1 and stale[0].fields["running"] == "sinfo"
        gate.unlink()
        assert wait_for(exp.ready, timeout=5)
        assert value(samples(exp.render()), "gpuwatch_slurm_up") == 1
        assert len(messages(caplog, "collection recovered")) == 1
    finally:
        if gate.exists():
            gate.unlink()
        exp.stop()


class Boom(BaseException):
    """Something that ends a thread (not an Exception the loop catches)."""


def test_dead_poller_thread_is_restarted(fake_slurm, monkeypatch, caplog):
    exp = Exporter(
        DEFAULT, Runner(timeout=5, bin_dir=str(fake_slurm(LAB / "busy"))), poll_interval=0.05, stale_after=30
    )
    real = exp.collect_once
    died = []

    def dies_once(now=None):
        if not died:
            died.append(1)
            raise Boom("thread killed")
        return real(now)

    monkeypatch.setattr(exp, "collect_once", dies_once)
    exp.start()
    try:
        first = exp._thread
        assert wait_for(lambda: not first.is_alive())
        exp.check()  # the watchdog (every scrape and the CLI's timer) notices and restarts it
        assert exp._thread is not first and exp.poller_restarts == 1
        assert wait_for(exp.ready)
        smp = samples(exp.render())
        assert value(smp, "gpuwatch_slurm_up") == 1
        assert value(smp, "gpuwatch_slurm_poller_restarts_total") == 1
        line = messages(caplog, "poller thread died")
        assert len(line) == 1 and line[0].fields["err"] == "Boom: thread killed"
        exp.check()
        assert exp.poller_restarts == 1  # a live thread is left alone
    finally:
        exp.stop()


@pytest.mark.prometheus  # promtool check metrics on the degraded body
def test_first_scrape_is_bounded_and_ready_waits_for_the_first_cycle(fake_slurm, tmp_path):
    stage = tmp_path / "stage"
    shutil.copytree(LAB / "busy", stage)
    bin_dir = fake_slurm(stage)
    gate = tmp_path / "hang"
    gate.touch()
    gated(bin_dir, "squeue", stage, gate)
    # a 30 s command timeout: the old code made this scrape wait timeout*3+5 = 95 s
    exp = Exporter(DEFAULT, Runner(timeout=30, bin_dir=str(bin_dir)), poll_interval=3600)
    args = build_parser().parse_args([f"--web.listen-address=127.0.0.1:{free_port()}"])
    server = start_server(args, Site("t", "/metrics", exp.render, ready=exp.ready))
    exp.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        t0 = time.monotonic()
        body = urllib.request.urlopen(base + "/metrics", timeout=10).read()
        took = time.monotonic() - t0
        assert took < exporter_mod.FIRST_CYCLE_WAIT + 1.5, took  # well inside a 10 s scrape timeout
        smp = samples(body)
        assert value(smp, "gpuwatch_slurm_up") == 0
        assert value(smp, "gpuwatch_slurm_collections_total") == 0
        assert value(smp, "gpuwatch_slurm_collector_success", collector="jobs") == 0
        assert value(smp, "gpuwatch_slurm_last_collection_timestamp_seconds") is None  # no cycle yet
        assert series_names(smp) <= DECLARED
        promtool = require_programs("promtool")["promtool"]
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/-/ready", timeout=5)
        assert err.value.code == 503
        gate.unlink()
        assert wait_for(exp.ready)
        assert urllib.request.urlopen(base + "/-/ready", timeout=5).status == 200
        smp = samples(urllib.request.urlopen(base + "/metrics", timeout=10).read())
        assert value(smp, "gpuwatch_slurm_up") == 1 and value(smp, "gpuwatch_slurm_collections_total") == 1
    finally:
        if gate.exists():
            gate.unlink()
        server.shutdown()
        exp.stop()


def test_cli_stale_after_flag():
    assert build_parser().parse_args([]).stale_after is None
    assert build_parser().parse_args(["--slurm.stale-after=45"]).stale_after == 45
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--slurm.stale-after=0"])


def test_cli_watchdog_logs_stale_without_scrapes_and_sigterm_does_not_wait(fake_slurm, tmp_path):
    """The real CLI: sinfo hangs inside a 60 s timeout. Without any scrape, the main thread's watchdog
    logs the stale line once; a scrape is answered at once with up 0; SIGTERM kills the hung
    command instead of waiting out its timeout."""
    stage = tmp_path / "stage"
    shutil.copytree(LAB / "busy", stage)
    bin_dir = fake_slurm(stage)
    gate = tmp_path / "hang"
    gated(bin_dir, "sinfo", stage, gate)
    log_path = tmp_path / "stderr.log"
    port = free_port()
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gpuwatch.exporters.slurm.cli",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--slurm.bin-dir={bin_dir}",
                "--slurm.poll-interval=0.2",
                "--slurm.timeout=60",
                "--slurm.stale-after=1.5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready():
            try:
                return urllib.request.urlopen(base + "/-/ready", timeout=2).status == 200
            except OSError:
                return False

        assert wait_for(ready, timeout=20), log_path.read_text()
        gate.touch()
        assert wait_for(lambda: "collection stale" in log_path.read_text(), timeout=10), log_path.read_text()
        assert not ready()
        t0 = time.monotonic()
        smp = samples(urllib.request.urlopen(base + "/metrics", timeout=10).read())
        assert time.monotonic() - t0 < 2
        assert (
            value(smp, "gpuwatch_slurm_up") == 0 and value(smp, "gpuwatch_slurm_stale_after_seconds") == 1.5
        )
        text = log_path.read_text()
        assert text.count("collection stale") == 1 and "running=sinfo" in text
        t0 = time.monotonic()
        proc.terminate()
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - t0 < 10, "SIGTERM waited for the hung command"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if gate.exists():
            gate.unlink()
