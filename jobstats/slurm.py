"""What Slurm knows about a job, when Prometheus knows nothing: told apart, "a job without GPUs"
and "a GPU job whose GPUs nobody watched" deserve different answers than "no such job".

Best effort: ``scontrol show job -o`` (jobs still in slurmctld's memory), then ``sacct`` (needs
accounting). Any failure (no Slurm client here, no SLURM_CONF, no accounting) means "unknown".
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_FIELD = re.compile(r"(\w+)=(\S*)")


@dataclass
class SlurmJob:
    job_id: str
    user: str
    state: str
    tres: str
    nodes: str

    @property
    def gpus(self) -> bool:
        return "gpu" in self.tres


def _run(argv: list[str], timeout: float) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def lookup(job_id: str, timeout: float = 10.0) -> SlurmJob | None:
    out = _run(["scontrol", "show", "job", "-o", job_id], timeout)
    if out and "JobId=" in out:
        f = dict(_FIELD.findall(out.splitlines()[0]))
        tres = ",".join(
            x for x in (f.get("TRES", ""), f.get("TresPerNode", ""), f.get("TresPerJob", "")) if x
        )
        return SlurmJob(
            job_id,
            f.get("UserId", "").split("(")[0],
            f.get("JobState", ""),
            tres,
            f.get("NodeList", ""),
        )
    out = _run(
        ["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "JobID,User,State,AllocTRES,NodeList"], timeout
    )
    for line in (out or "").splitlines():
        parts = line.split("|")
        if len(parts) == 5 and parts[0] == job_id:
            return SlurmJob(job_id, parts[1], parts[2], parts[3], parts[4])
    return None
