"""Fixtures for the Slurm exporter tests.

- ``--update-golden`` (or ``GPUWATCH_UPDATE_GOLDEN=1``) rewrites golden files instead of comparing.
- ``fake_slurm(stage_dir)`` makes a bin dir whose sinfo/squeue/sdiag/scontrol/sshare print recorded
  real output (tests of the exporter's plumbing; real Slurm is exercised in test_lab.py).
- ``slurm_lab``: one real SlurmLab per test module and Slurm version (munge, slurmctld, slurmd
  with 2 fake GPUs), parametrized over ``SLURM_VERSIONS`` (ids 22.05, 24.11, 26.05): 22.05 is the
  host's, the newer ones run from Debian suite roots (gpuwatch.localstack.roots, built on first
  use). ``GPUWATCH_SLURM_VERSIONS=22.05`` limits a run to some of them.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from conftest import FIXTURES, SLURM_VERSIONS, start_lab  # tests/conftest.py (tests/ is on sys.path)

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


@pytest.fixture(scope="module", params=SLURM_VERSIONS)
def slurm_version(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def slurm_lab(slurm_version, tmp_path_factory):
    lab = start_lab(slurm_version, tmp_path_factory, cpus=4)
    try:
        yield lab
    finally:
        lab.stop()
