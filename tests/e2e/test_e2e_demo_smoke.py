"""`make demo` smoke test: the real demo, bounded in time, then stopped by SIGTERM and by Ctrl-C.

It must print the URLs, deliver notifications to its terminal, use no default port, and leave
nothing behind: every PID it printed is gone and its temp folder is removed."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, require_programs, require_root

pytestmark = [pytest.mark.e2e, pytest.mark.slurm, pytest.mark.prometheus, pytest.mark.timeout(240)]

DEFAULT_PORTS = {"9090", "9093", "9341", "9400", "6817", "6818"}


def _demo(env_extra: dict[str, str], args: list[str] = ()) -> subprocess.Popen:
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gpuwatch.localstack.demo", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _pid_gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state


def _check_cleanup(out: str) -> None:
    workdir = re.search(r"gpuwatch demo: state in (\S+)", out)
    assert workdir, out
    assert not Path(workdir.group(1)).exists(), "temp folder left behind"
    pids = re.search(r"^pids (.+)$", out, re.M)
    assert pids, out
    for item in pids.group(1).split():
        name, pid = item.rsplit("=", 1)
        assert _pid_gone(int(pid)), f"{name} (pid {pid}) still running after the demo stopped"
    for url in re.findall(r"https?://\S+", out):
        port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[-1]
        assert port not in DEFAULT_PORTS, f"demo used a default port: {url}"


def _hold_default_ports() -> list[socket.socket]:
    """Listen on the default ports that are free, as a system Prometheus/Alertmanager/exporter
    would: the demo must not need any of them."""
    held = []
    for port in sorted(DEFAULT_PORTS):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("0.0.0.0", int(port)))
            sock.listen(1)
        except OSError:
            sock.close()
            continue
        held.append(sock)
    return held


@pytest.mark.parametrize(
    "versions,expect",
    [
        ("host", r"Prometheus 2\.42\.\d+, Alertmanager 0\.25\.\d+"),
        (
            "newest",
            r"Prometheus 3\.5\.\d+, Alertmanager 0\.33\.\d+",
        ),  # `make demo VERSIONS=newest`: the sid root
    ],
    ids=["host", "newest"],
)
def test_demo_bounded_run_prints_urls_and_notifications(versions, expect):
    if versions == "host":
        require_programs("prometheus", "prometheus-alertmanager", "slurmctld", "slurmd", "munged")
    else:
        require_root("sid")
    held = _hold_default_ports()
    proc = _demo({"GPUWATCH_DEMO_DURATION": "25"}, ["--versions", versions])
    try:
        out, _ = proc.communicate(timeout=200)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for sock in held:
            sock.close()
    assert proc.returncode == 0, out
    assert re.search(rf"^versions +{versions}: {expect}$", out, re.M), out
    for name in ("Prometheus", "Alertmanager", "webhook receiver", "Slurm exporter", "GPU exporter"):
        assert re.search(rf"^{name}.*http://127\.0\.0\.1:\d+", out, re.M), f"{name} URL missing:\n{out}"
    # At least one notification printed in the readable form (the Watchdog fires at once).
    assert re.search(r"^\d\d:\d\d:\d\d  FIRING  ", out, re.M), out
    assert "demo: 25s elapsed, stopping" in out and out.rstrip().endswith("demo: stopped")
    _check_cleanup(out)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_demo_stops_everything_on_a_signal(sig):
    require_programs("prometheus", "prometheus-alertmanager", "slurmctld", "slurmd", "munged")
    proc = _demo({"GPUWATCH_DEMO_DURATION": ""})
    lines: list[str] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Notifications follow"):
                break
        assert lines and lines[-1].startswith("Notifications follow"), "".join(lines)
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = "".join(lines) + rest
    assert proc.returncode == 0, out
    assert f"{sig.name} received, stopping" in out
    _check_cleanup(out)
