"""Slurm faults for the fault tests and bench/faults.py: a folder of wrapper scripts in front of
the real Slurm clients (``--slurm.bin-dir``), so a test can remove a program or change its output,
and the Slurm exporter pointed at it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .procs import slurm_exporter_argv

# every Slurm client the exporter may run; each gets a wrapper
SLURM_CLIENTS = ("sinfo", "squeue", "sdiag", "scontrol", "sshare", "sacct", "sprio")


def wrap(bin_dir: Path, name: str, body: str | None = None) -> None:
    """(Re)write ``bin_dir/name``: exec the real client, or run ``body`` (``REAL`` = its path)."""
    real = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin")
    p = bin_dir / name
    p.write_text("#!/bin/sh\n" + (body or f'exec {real} "$@"\n').replace("REAL", str(real)))
    p.chmod(0o755)


def wrapper_dir(bin_dir: Path) -> Path:
    """``bin_dir`` made and filled with pass-through wrappers of every Slurm client."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in SLURM_CLIENTS:
        wrap(bin_dir, name)
    return bin_dir


def slurm_exporter_under_faults_argv(
    port: int, bin_dir: Path, poll: float, timeout: float, log_level: str = "warn"
) -> list[str]:
    """The Slurm exporter on 127.0.0.1:PORT running its clients through the wrappers in ``bin_dir``."""
    return slurm_exporter_argv(
        port,
        *(
            "--slurm.poll-interval",
            str(poll),
            "--slurm.timeout",
            str(timeout),
            "--slurm.bin-dir",
            str(bin_dir),
        ),
        log_level=log_level,
    )
