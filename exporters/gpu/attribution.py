"""Slurm job attribution without prolog scripts.

Three sources, combined:

(a) allocations: processes whose ``/proc/PID/environ`` holds ``SLURM_JOB_ID`` and
    ``SLURM_STEP_GPUS`` or ``SLURM_JOB_GPUS`` (Slurm's GPU ids, which follow the device minor
    numbers). Works in containers (RunPod pods) where NVML's PIDs are host PIDs.
(b) GPU processes: NVML's running processes, then ``/proc/PID/cgroup`` (cgroup v1
    ``.../slurm/uid_U/job_N/...``, v2 ``.../slurmstepd.scope/job_N/...``) or that process's environ.
    In a container NVML reports host PIDs, and one can coincide with an unrelated local process,
    so the local ``/proc`` entry is trusted only when it is plausibly the same process: it is in a
    Slurm job cgroup (a path naming ``slurm`` and ``job_N``) or has ``SLURM_JOB_ID`` in its
    environ, and, when its environ lists the job's GPUs (``SLURM_STEP_GPUS``/``SLURM_JOB_GPUS``),
    the GPU NVML saw it on is one of them. Otherwise the process stays unresolved (its memory then
    counts for the GPU's job when the GPU has exactly one).
(c) a mapping folder (dcgm-exporter style): one file per GPU, named by the GPU's minor number
    (Slurm's GPU id), UUID or PCI bus id, listing job ids one per line (optionally ``JOBID USER``).

GPU references are joined to NVML devices by minor number, PCI bus id or UUID, never by NVML
index: a pod given GPUs 4 and 5 sees NVML indices 0 and 1. A MIG device UUID (``MIG-<uuid>``)
names its parent GPU when that GPU lists the MIG device (read through NVML each cycle); the old
``MIG-GPU-<parent uuid>/<gi>/<ci>`` form names the parent directly. An unknown MIG UUID matches
no GPU.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import time
from dataclasses import dataclass, field

from ..common.log import kv
from .sim.scenario import normalize_bus_id

log = logging.getLogger("gpuwatch.gpu.jobs")

_JOB_CGROUP = re.compile(r"/job_(\d+)(?:/|$)")
_UID_CGROUP = re.compile(r"/uid_(\d+)(?:/|$)")
_JOB_ID = re.compile(r"^[0-9]+(?:_[0-9]+)?$")


@dataclass(frozen=True)
class GpuRef:
    """A reference to a GPU as Slurm or a mapping file names it."""

    kind: str  # "minor" | "bus" | "uuid"
    value: str


def parse_gpu_list(text: str) -> list[GpuRef]:
    """``0,1`` / ``0-3,6`` / ``GPU-...`` / ``00000000:18:00.0`` -> references."""
    out: list[GpuRef] = []
    for tok in text.replace(" ", "").split(","):
        if not tok:
            continue
        if tok.upper().startswith(("GPU-", "MIG-")):
            out.append(GpuRef("uuid", tok))
            continue
        bus = normalize_bus_id(tok)
        if bus is not None:
            out.append(GpuRef("bus", bus))
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", tok)
        if m and int(m.group(1)) <= int(m.group(2)) <= int(m.group(1)) + 1024:
            out.extend(GpuRef("minor", str(i)) for i in range(int(m.group(1)), int(m.group(2)) + 1))
        elif tok.isdigit():
            out.append(GpuRef("minor", str(int(tok))))
    return out


def parse_environ(data: bytes) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in data.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep and key.startswith(b"SLURM_"):
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def job_from_cgroup(text: str) -> tuple[str | None, int | None]:
    """Job id and (cgroup v1) uid from ``/proc/PID/cgroup`` contents."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if "slurm" not in path.lower():  # e.g. a container runtime's .../job_3/...: not a Slurm job
            continue
        m = _JOB_CGROUP.search(path)
        if m:
            u = _UID_CGROUP.search(path)
            return m.group(1), int(u.group(1)) if u else None
    return None, None


def user_name(uid: int | None) -> str:
    if uid is None:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@dataclass
class Job:
    job_id: str
    user: str = ""
    gpus: set[GpuRef] = field(default_factory=set)


class ProcScanner:
    """Source (a): scan ``PROC/*/environ`` for Slurm allocations, caching per process.

    A process's environ is read once (per PID and start time); processes without Slurm
    variables are re-read after ``negative_ttl`` seconds in case they exec'd into a job step.
    An environ read as zero bytes is not cached at all: a process caught in ``execve`` (after the
    kernel switched it to its new memory, before it set up the new stack) reads as empty, and
    caching that would hide a just-started job step for ``negative_ttl`` seconds.
    """

    def __init__(self, proc_root: str = "/proc", negative_ttl: float = 30.0):
        self.proc_root = proc_root
        self.negative_ttl = negative_ttl
        self._cache: dict[
            int, tuple[float, float, dict[str, str] | None]
        ] = {}  # pid -> (start, read_at, env)

    def _start(self, pid: int) -> float | None:
        try:
            return os.stat(f"{self.proc_root}/{pid}").st_mtime
        except OSError:
            return None

    def env(self, pid: int, now: float | None = None) -> dict[str, str] | None:
        """Slurm variables of the process (cached), or None when unreadable."""
        now = time.monotonic() if now is None else now
        start = self._start(pid)
        if start is None:
            self._cache.pop(pid, None)
            return None
        hit = self._cache.get(pid)
        if hit is not None and hit[0] == start and (hit[2] or now - hit[1] < self.negative_ttl):
            return hit[2]
        try:
            with open(f"{self.proc_root}/{pid}/environ", "rb") as f:
                data = f.read()
        except OSError:
            data = None
        env = parse_environ(data) if data else {}
        if data != b"":  # empty: mid-exec (or a kernel thread); read it again next time
            self._cache[pid] = (start, now, env)
        return env

    def scan(self) -> dict[str, Job]:
        """Jobs with GPUs allocated on this node, by job id."""
        now = time.monotonic()
        jobs: dict[str, Job] = {}
        try:
            pids = [int(n) for n in os.listdir(self.proc_root) if n.isdigit()]
        except OSError as exc:
            kv(
                log,
                logging.WARNING,
                "cannot list processes",
                proc_root=self.proc_root,
                error=exc.strerror or exc,
            )
            return jobs
        for pid in pids:
            env = self.env(pid, now)
            if not env:
                continue
            job_id = env.get("SLURM_JOB_ID", "")
            if not _JOB_ID.match(job_id):
                continue
            gpus = env.get("SLURM_STEP_GPUS") or env.get("SLURM_JOB_GPUS") or ""
            refs = parse_gpu_list(gpus)
            if not refs:
                continue
            job = jobs.setdefault(job_id, Job(job_id))
            job.user = job.user or env.get("SLURM_JOB_USER", "")
            job.gpus.update(refs)
        for pid in set(self._cache) - set(pids):
            del self._cache[pid]
        return jobs

    def pid_job(self, pid: int, on: tuple | None = None) -> tuple[str, str] | None:
        """Source (b): the job of one process by Slurm cgroup, then environ; None when unknown or
        when the local entry is implausible for NVML's process (see the module docstring).
        ``on``: ``(uuid, minor, pci_bus_id, mig_uuids)`` of the GPU NVML listed the process on."""
        try:
            with open(f"{self.proc_root}/{pid}/cgroup", encoding="utf-8", errors="replace") as f:
                job_id, uid = job_from_cgroup(f.read())
        except OSError:
            job_id, uid = None, None
        env = self.env(pid) or {}
        if job_id is None:
            job_id = env.get("SLURM_JOB_ID")
            if not job_id or not _JOB_ID.match(job_id):
                return None
        if on is not None:
            refs = parse_gpu_list(env.get("SLURM_STEP_GPUS") or env.get("SLURM_JOB_GPUS") or "")
            if refs and not any(matches(r, *on) for r in refs):
                return None  # its allocation does not hold this GPU: a host PID colliding with a local one
        user = env.get("SLURM_JOB_USER") or user_name(uid if uid is not None else self._uid(pid))
        return job_id, user

    def _uid(self, pid: int) -> int | None:
        try:
            with open(f"{self.proc_root}/{pid}/status", encoding="utf-8", errors="replace") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return None
        return None


def read_mapping_dir(path: str) -> dict[GpuRef, list[tuple[str, str]]]:
    """Source (c): ``{gpu ref: [(job id, user)]}`` from a mapping folder. Bad lines are skipped
    (logged at debug); an unreadable folder raises OSError."""
    out: dict[GpuRef, list[tuple[str, str]]] = {}
    for name in sorted(os.listdir(path)):
        if name.startswith("."):
            continue
        refs = parse_gpu_list(name)
        if len(refs) != 1:
            kv(log, logging.DEBUG, "mapping file name is not a GPU", file=os.path.join(path, name))
            continue
        full = os.path.join(path, name)
        try:
            with open(full, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except (IsADirectoryError, FileNotFoundError):
            continue
        entries = []
        for n, line in enumerate(lines, 1):
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            if not _JOB_ID.match(parts[0]) or len(parts) > 2:
                kv(log, logging.DEBUG, "bad mapping line", file=full, line=n)
                continue
            entries.append((parts[0], parts[1] if len(parts) == 2 else ""))
        out[refs[0]] = entries
    return out


def matches(
    ref: GpuRef, uuid: str, minor: int | None, bus: str, mig_uuids: frozenset[str] = frozenset()
) -> bool:
    """Does ``ref`` name this GPU? ``mig_uuids``: the GPU's MIG device UUIDs, lowercased."""
    if ref.kind == "minor":
        return minor is not None and ref.value == str(minor)
    if ref.kind == "bus":
        return bool(bus) and normalize_bus_id(bus) == ref.value
    v = ref.value.lower()
    if v.startswith("mig-"):
        if v.startswith("mig-gpu-"):  # MIG-GPU-<parent uuid>/<gi>/<ci> (drivers before R470)
            return bool(uuid) and v[4:].split("/", 1)[0] == uuid.lower()
        return v in mig_uuids
    return v == uuid.lower()
