"""Processes for tests and benchmarks: free ports, liveness, /proc accounting, exporters by PID.

``free_port``, ``port_is_free`` and ``pid_alive`` are the local stack's own (one definition in the
tree, in ``gpuwatch.localstack.procs``), re-exported here for tests and bench scripts.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from gpuwatch.localstack.procs import free_port, pid_alive, port_is_free

from .http import basic_auth

__all__ = [
    "Exporter",
    "children_of",
    "stop_process",
    "trivial_exporter_argv",
    "exporter_process",
    "free_port",
    "pid_alive",
    "port_is_free",
    "rss_kib",
    "thread_count",
    "wait_http",
    "zombies_of",
]


def _status_field(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (VmRSS)."""
    return _status_field(pid, "VmRSS")


def thread_count(pid: int) -> int:
    """Threads of a process (``Threads:`` in /proc/PID/status)."""
    return _status_field(pid, "Threads")


def _proc_stats():
    """(pid, command name, fields after the name) of every process in /proc/PID/stat."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        yield int(entry), stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[tuple[int, str, float]]:
    """Live (non-zombie) child processes of ``pid``: (pid, command name, age in seconds)."""
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    return [
        (p, name, uptime - int(fields[19]) / tick)
        for p, name, fields in _proc_stats()
        if int(fields[1]) == pid and fields[0] != "Z"
    ]


def zombies_of(pid: int) -> list[int]:
    return [p for p, _, fields in _proc_stats() if int(fields[1]) == pid and fields[0] == "Z"]


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a child by its PID: SIGTERM, wait up to ``timeout`` s, then SIGKILL; always reaped."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def trivial_exporter_argv(*extra: str, log_level: str = "warn") -> list[str]:
    """The HTTP layer alone (gpuwatch.testing.trivial_exporter) on a kernel-chosen loopback port;
    it prints ``listening PORT`` (``exporter_process(argv, ready_line="listening")``)."""
    return [
        sys.executable,
        "-m",
        "gpuwatch.testing.trivial_exporter",
        "--web.listen-address",
        "127.0.0.1:0",
        "--log.level",
        log_level,
        *extra,
    ]


class Exporter:
    """A started exporter process: ``pid``, ``port`` (when it printed one), ``log()`` (its stderr)."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, port: int | None):
        self.proc, self.pid, self.port, self._log_path = proc, proc.pid, port, log_path

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-15:])
            raise RuntimeError(f"{self.proc.args[0]} exited with status {self.proc.returncode}:\n{tail}")


@contextlib.contextmanager
def exporter_process(
    argv: list[str], env: dict | None = None, ready_line: str | None = None
) -> Iterator[Exporter]:
    """Start an exporter (stderr to a file, so a chatty one never blocks on a pipe); stop it by PID.

    With ``ready_line``, wait for a stdout line ``READY_LINE PORT`` and take the port from it.
    """
    with tempfile.NamedTemporaryFile(prefix="gpuwatch-exporter-", suffix=".log", delete=False) as logf:
        log_path = Path(logf.name)
    with open(log_path, "w") as errf:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE if ready_line else subprocess.DEVNULL,
            stderr=errf,
            text=True,
            start_new_session=True,
        )
    try:
        port = None
        if ready_line:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith(ready_line):
                proc.wait(timeout=10)
                raise RuntimeError(
                    f"{argv[0]} did not start: {line!r} {log_path.read_text(errors='replace')}"
                )
            port = int(line.split()[1])
        yield Exporter(proc, log_path, port)
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        log_path.unlink(missing_ok=True)


def wait_http(
    url: str, timeout: float = 60.0, auth=None, cafile=None, exporter: Exporter | None = None
) -> None:
    """Wait until ``url`` answers 200 (and fail early, with its log, if the exporter died)."""
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", basic_auth(*auth))
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if exporter is not None:
            exporter.check_alive()
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 (not up yet: any failure means try again)
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {last}")
