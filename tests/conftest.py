"""Shared test plumbing.

Tests that need a real program (slurmctld, prometheus, promtool, ...) call ``require_programs``.
Outside CI a missing program skips the test; under ``CI=true`` it fails it: CI must install
everything (``make test`` does), so a skip there would hide a broken set-up. Under
``make test-fast`` (``GPUWATCH_TEST_FAST=1``) a test that asks for a real program fails: it lacks
the marker (slurm, prometheus, e2e, ansible) that keeps it out of the fast run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FAST = os.environ.get("GPUWATCH_TEST_FAST") == "1"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def require_programs(*names: str) -> dict[str, str]:
    """Paths of the named programs; skip (or fail under CI) when one is missing."""
    if FAST:
        pytest.fail(
            f"make test-fast runs no real programs, but this test needs {', '.join(names)}: "
            "mark it slurm, prometheus, e2e or ansible (pyproject.toml)",
            pytrace=False,
        )
    found, missing = {}, []
    for name in names:
        path = which(name)
        if path is None:
            missing.append(name)
        else:
            found[name] = path
    if missing:
        msg = f"needs {', '.join(missing)} (Debian packages; `make test` installs them as root)"
        if IN_CI:
            pytest.fail("CI=true and " + msg, pytrace=False)
        pytest.skip(msg)
    return found


def require_root(suite: str):
    """The version root for ``suite`` (``host``, ``trixie``, ``sid``), built when missing.

    Skips when it cannot be built (not root, no debootstrap, no mirror) outside CI; fails under
    ``CI=true``. Roots are cached per machine (``make labs``), so only the first use builds.
    """
    from gpuwatch.localstack.roots import Root, RootError

    try:
        return Root.ensure(suite)
    except RootError as err:
        msg = f"the {suite} root is not available: {err}"
        if IN_CI:
            pytest.fail("CI=true and " + msg, pytrace=False)
        pytest.skip(msg)


SLURM_VERSIONS = tuple(
    v.strip() for v in os.environ.get("GPUWATCH_SLURM_VERSIONS", "22.05,24.11,26.05").split(",") if v.strip()
)


def start_lab(version: str, tmp_path_factory, name: str = "slurmlab", **kwargs):
    """A started SlurmLab of ``version`` (skipped, or failed under CI=true, when it cannot run)."""
    from gpuwatch.localstack.slurm import VERSION_SUITES, SlurmLab

    if os.geteuid() != 0:
        pytest.fail("CI=true and SlurmLab needs root", pytrace=False) if IN_CI else pytest.skip(
            "SlurmLab needs root"
        )
    suite = VERSION_SUITES[version]
    if suite == "host":
        require_programs(
            "munged", "mungekey", "slurmctld", "slurmd", "sinfo", "squeue", "sdiag", "scontrol", "sbatch"
        )
    root = require_root(suite)
    lab = SlurmLab(tmp_path_factory.mktemp(f"{name}-{version}"), root=root, **kwargs).start()
    assert lab.version_string.startswith(version + "."), (version, lab.version_string)
    return lab


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``-n 2 --dist loadgroup``) the tests of one module and Slurm version
    stay on one worker, so each (module, version) starts one lab, and versions run in parallel."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        version = params.get("slurm_version") or params.get("lab")
        if version in SLURM_VERSIONS:
            item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}-slurm-{version}"))


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files (tests/fixtures/*/golden...) instead of comparing against them",
    )


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    """True when golden files are to be rewritten (``--update-golden`` or GPUWATCH_UPDATE_GOLDEN=1)."""
    return (
        bool(request.config.getoption("--update-golden")) or os.environ.get("GPUWATCH_UPDATE_GOLDEN") == "1"
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
