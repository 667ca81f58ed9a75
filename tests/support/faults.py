"""Slurm faults for the fault tests and bench/faults.py: a folder of wrapper scripts in front of
the real Slurm clients (``--slurm.bin-dir``), so a test can remove a program or change its output,
and the Slurm exporter pointed at it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# every Slurm client the exporter may run; each gets a wrapper
SLURM_CLIENTS = ("sinfo", "squeue", "sdiag", "scontrol", "sshare", "sacct", "sprio")


def wrap(bin_dir: Path, name: str, body: str | None = None, real_dir: Path | None = None) -> None:
    """(Re)write ``bin_dir/name``: exec the real client, or run ``body`` (``REAL`` = its path). The
    real client is ``real_dir/name`` when that exists (a version root's lab), else found on PATH."""
    real = real_dir / name if real_dir is not None else None
    if real is None or not real.exists():
        real = Path(shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin") or name)
    p = bin_dir / name
    p.write_text("#!/bin/sh\n" + (body or f'exec {real} "$@"\n').replace("REAL", str(real)))
    p.chmod(0o755)


def wrapper_dir(bin_dir: Path, real_dir: Path | None = None) -> Path:
    """``bin_dir`` made and filled with pass-through wrappers of every Slurm client."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in SLURM_CLIENTS:
        wrap(bin_dir, name, real_dir=real_dir)
    return bin_dir


def slurm_exporter_under_faults_argv(
    port: int, bin_dir: Path, poll: float, timeout: float, *flags: str
) -> list[str]:
    """The Slurm exporter on 127.0.0.1:PORT running its clients through the wrappers in ``bin_dir``."""
    from gpuwatch.localstack.stack import slurm_exporter_argv

    return slurm_exporter_argv(
        port,
        f"--slurm.poll-interval={poll}",
        f"--slurm.timeout={timeout}",
        f"--slurm.bin-dir={bin_dir}",
        *flags,
    )
