"""Run Slurm client commands with a hard timeout, never leaving a process or zombie behind.

Each command runs in its own process group (``start_new_session``). On timeout the whole group
gets SIGKILL and the child is reaped with ``wait()``, so a hung ``squeue`` (slurmctld stopped,
network black hole) costs one timeout and nothing accumulates, however long slurmctld stays away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

# Environment variables that change what Slurm clients print; removed so our parsers see the
# format they asked for, whatever the service environment contains.
_DROP_PREFIXES = ("SQUEUE_", "SINFO_", "SCONTROL_", "SLURM_TIME_FORMAT", "SDIAG_", "SSHARE_")

# stderr phrases meaning "slurmctld did not answer" (as opposed to a bad command or bad output)
_UNREACHABLE = (
    "unable to contact slurm controller",
    "socket timed out",
    "connection refused",
    "zero bytes were transmitted",
    "communication connection failure",
    "slurm_receive_msg",
    "connection timed out",
    "slurmctld not responding",
    "unable to establish",
    "could not establish a configuration source",
)


class CommandError(Exception):
    """A command failed. ``unreachable`` is True when slurmctld did not answer (timeout,
    connection refused, ...): that sets ``gpuwatch_slurm_up`` to 0."""

    def __init__(self, command: str, message: str, *, unreachable: bool, kind: str):
        super().__init__(f"{command}: {message}")
        self.command = command
        self.unreachable = unreachable
        self.kind = kind  # timeout | exit | not_found


@dataclass
class CommandResult:
    argv: list[str]
    stdout: str
    duration: float


def slurm_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith(_DROP_PREFIXES):
            del env[k]
    env["TZ"] = "UTC"  # timestamps come out in UTC and are parsed as such
    env["LC_ALL"] = "C"
    return env


class Runner:
    """Runs ``argv`` (``["squeue", ...]``) from ``bin_dir`` (or PATH) with ``timeout`` seconds."""

    def __init__(self, timeout: float = 10.0, bin_dir: str | None = None, env: dict[str, str] | None = None):
        self.timeout = timeout
        self.bin_dir = bin_dir
        self.env = slurm_env(env)
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self._cancelled = False

    def cancel(self) -> None:
        """Shutting down: kill the commands running now (their run() raises) and refuse new ones,
        so SIGTERM does not wait out a hung command's timeout."""
        with self._lock:
            self._cancelled = True
            live = list(self._live)
        for proc in live:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def resolve(self, name: str) -> str | None:
        if self.bin_dir:
            p = os.path.join(self.bin_dir, name)
            return p if os.access(p, os.X_OK) else None
        return shutil.which(name, path=self.env.get("PATH"))

    def run(self, argv: list[str], timeout: float | None = None) -> CommandResult:
        timeout = self.timeout if timeout is None else timeout
        label = " ".join(argv[:3])
        exe = self.resolve(argv[0])
        if exe is None:
            where = self.bin_dir or "PATH"
            raise CommandError(label, f"{argv[0]} not found in {where}", unreachable=False, kind="not_found")
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [exe, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self.env,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise CommandError(
                label, f"cannot start: {exc.strerror or exc}", unreachable=False, kind="not_found"
            ) from None
        with self._lock:
            self._live.add(proc)
            cancelled = self._cancelled
        if cancelled:
            _kill_group(proc)
            self._live.discard(proc)
            raise CommandError(
                label, "not run: the exporter is stopping", unreachable=False, kind="cancelled"
            )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise CommandError(
                label, f"timed out after {timeout:g}s (killed)", unreachable=True, kind="timeout"
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            with self._lock:
                self._live.discard(proc)
        duration = time.monotonic() - start
        stderr = err.decode("utf-8", "replace").strip()
        if proc.returncode != 0 and self._cancelled:
            raise CommandError(label, "killed: the exporter is stopping", unreachable=False, kind="cancelled")
        if proc.returncode != 0:
            low = stderr.lower()
            unreachable = any(p in low for p in _UNREACHABLE)
            first = stderr.splitlines()[0] if stderr else ""
            raise CommandError(
                label, f"exit status {proc.returncode}: {first[:300]}", unreachable=unreachable, kind="exit"
            )
        return CommandResult(argv, out.decode("utf-8", "replace"), duration)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass
    try:
        # reap the child; pipes may be held by a grandchild for a moment, so bound the wait
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.close()
        proc.wait()
