"""Shared test plumbing.

Tests that need a real program (slurmctld, prometheus, promtool, ...) call ``require_programs``.
Outside CI a missing program skips the test; under ``CI=true`` it fails it: CI must install
everything (``make test`` does), so a skip there would hide a broken set-up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def which(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def require_programs(*names: str) -> dict[str, str]:
    """Paths of the named programs; skip (or fail under CI) when one is missing."""
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
