"""Fixtures for the Slurm exporter tests.

- ``--update-golden`` (or ``GPUWATCH_UPDATE_GOLDEN=1``) rewrites golden files instead of comparing.
- ``fake_slurm(stage_dir)`` makes a bin dir whose sinfo/squeue/sdiag/scontrol/sshare print recorded
  real output (tests of the exporter's plumbing; real Slurm is exercised in test_lab.py).
- ``slurm_lab``: one real SlurmLab per test module (munge, slurmctld, slurmd with 2 fake GPUs).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from conftest import FIXTURES, require_programs  # tests/conftest.py (tests/ is on sys.path)

SLURM_FIXTURES = FIXTURES / "slurm"


def write_fake_slurm(bin_dir: Path, stage: Path) -> Path:
    """Shell scripts standing in for the Slurm clients, printing the files in ``stage``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    q = lambda name: shlex.quote(str(stage / name))  # noqa: E731
    scripts = {
        "sinfo": f"cat {q('sinfo.txt')}",
        "squeue": f"cat {q('squeue.txt')}",
        "sdiag": f"cat {q('sdiag.txt')}",
        "sshare": f"cat {q('sshare.txt')}",
        "scontrol": f'case "$2" in licenses) cat {q("licenses.txt")};; reservation) cat {q("reservations.txt")};; '
        '*) echo "unexpected scontrol $*" >&2; exit 1;; esac',
    }
    for name, body in scripts.items():
        p = bin_dir / name
        p.write_text(f"#!/bin/sh\n{body}\n")
        p.chmod(0o755)
    return bin_dir


@pytest.fixture
def fake_slurm(tmp_path):
    def make(stage: Path, name: str = "bin") -> Path:
        return write_fake_slurm(tmp_path / name, stage)

    return make


@pytest.fixture(scope="module")
def slurm_lab(tmp_path_factory):
    require_programs(
        "munged", "mungekey", "slurmctld", "slurmd", "sinfo", "squeue", "sdiag", "scontrol", "sbatch"
    )
    if os.geteuid() != 0:
        pytest.skip("SlurmLab needs root") if os.environ.get("CI", "").lower() not in (
            "1",
            "true",
            "yes",
        ) else pytest.fail("CI=true and SlurmLab needs root")
    from gpuwatch.localstack.slurm import SlurmLab

    with SlurmLab(tmp_path_factory.mktemp("slurmlab"), cpus=4) as lab:
        yield lab
