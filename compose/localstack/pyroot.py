"""Run the unit tests under another Debian suite's Python (trixie: 3.13) from a version root.

``make test-py313`` (part of ``make test``) runs::

    python -m gpuwatch.localstack.pyroot --suite trixie --venv .venv-py313 -- -q tests/gpu ...

which builds the suite's root if missing (:mod:`gpuwatch.localstack.roots`), makes a venv with the
root's ``python3`` at ``--venv`` (inside the repository, which is mounted at the same path inside
the root), installs the project with its ``test`` extra from the package index as a new user
would (editable, so the tests run the working tree), then runs pytest in the root with the
arguments after ``--``. The venv is reused while pyproject.toml and setup.py are unchanged.

Inside the root: the host's network, the host's CA bundle (``/etc/ssl/certs``, for sites whose
traffic to the index passes a TLS-inspecting proxy) and the host's proxy and ``PIP_INDEX_URL``/
``PIP_EXTRA_INDEX_URL`` variables when they are URLs; nothing else from the host's environment.

Outside CI a machine that cannot build roots (not root, no debootstrap) prints why and exits 0;
with ``CI=true`` that is a failure (exit 1), as is any failed build or install.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .roots import Root, RootError, split_at_dashes

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
STAMP = ".gpuwatch-installed"
PASS_ENV = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
PASS_URL_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
HOST_CA_DIR = Path("/etc/ssl/certs")
HOST_CA_BUNDLE = HOST_CA_DIR / "ca-certificates.crt"


def _inputs_digest(repo: Path) -> str:
    """What the venv was installed from: a changed pyproject.toml or setup.py, or a moved
    repository (a venv holds absolute paths), means reinstall."""
    h = hashlib.sha256(str(repo.resolve()).encode() + b"\0")
    for name in ("pyproject.toml", "setup.py"):
        h.update(name.encode() + b"\0" + (repo / name).read_bytes() + b"\0")
    return h.hexdigest()


def _env(extra_binds: list[str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for k in ("CI", "TERM", *PASS_ENV):
        if k in os.environ:
            env[k] = os.environ[k]
    for k in PASS_URL_ENV:
        urls = [u for u in os.environ.get(k, "").split() if u.startswith(("http://", "https://"))]
        if urls:
            env[k] = " ".join(urls)
    if HOST_CA_BUNDLE.is_file():
        extra_binds.append(str(HOST_CA_DIR))
        env["PIP_CERT"] = str(HOST_CA_BUNDLE)
        env["SSL_CERT_FILE"] = str(HOST_CA_BUNDLE)
    return env


class Py:
    """A venv made with a root's python3, and how to run things in it."""

    def __init__(self, root: Root, venv: Path, repo: Path = REPO):
        self.root, self.venv, self.repo = root, venv.resolve(), repo.resolve()
        self.binds = [str(self.repo)]
        if not self.venv.is_relative_to(self.repo):
            self.venv.mkdir(parents=True, exist_ok=True)
            self.binds.append(str(self.venv))
        self.env = _env(self.binds)

    def run(self, argv: list[str], **kw) -> subprocess.CompletedProcess:
        # chroot keeps the host's working folder, which lies outside the root: cd into the
        # repository as the root sees it (bound at the same path) before running anything
        full = [*self.root.prefix(self.binds), "/bin/sh", "-c", 'cd "$0" && exec "$@"', str(self.repo), *argv]
        return subprocess.run(full, env=self.env, check=False, **kw)

    def ensure(self) -> None:
        digest = _inputs_digest(self.repo)
        stamp = self.venv / STAMP
        if stamp.is_file() and stamp.read_text().strip() == digest and (self.venv / "bin/python").exists():
            return
        if self.venv.exists():
            shutil.rmtree(self.venv)
        t0 = time.monotonic()
        steps = [
            ["python3", "-m", "venv", str(self.venv)],
            [f"{self.venv}/bin/pip", "install", "-q", "--upgrade", "pip"],
            [f"{self.venv}/bin/pip", "install", "-q", "-e", f"{self.repo}[test]"],
        ]
        for argv in steps:
            r = self.run(argv)
            if r.returncode != 0:
                raise RootError(f"in the {self.root.suite} root: `{' '.join(argv)}` exited {r.returncode}")
        stamp.write_text(digest + "\n")
        version = self.run([f"{self.venv}/bin/python", "-V"], capture_output=True, text=True).stdout.strip()
        print(
            f"{self.venv}: {version} from the {self.root.suite} root, set up in {time.monotonic() - t0:.0f}s"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m gpuwatch.localstack.pyroot", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--suite", default="trixie", help="Debian suite whose python3 to use (default trixie)")
    p.add_argument("--venv", default=".venv-py313", help="venv folder (default .venv-py313)")
    args, pytest_args = split_at_dashes(sys.argv[1:] if argv is None else argv)
    a = p.parse_args(args)
    try:
        root = Root.ensure(a.suite, quiet=False)
        py = Py(root, Path(a.venv))
        py.ensure()
    except RootError as err:
        if IN_CI:
            print(f"error: Python from the {a.suite} root: {err}", file=sys.stderr)
            return 1
        print(f"skipped: Python from the {a.suite} root: {err} (under CI=true this fails)", file=sys.stderr)
        return 0
    t0 = time.monotonic()
    r = py.run([f"{py.venv}/bin/python", "-m", "pytest", "-p", "no:cacheprovider", *pytest_args])
    print(f"pytest under the {a.suite} root's Python: exit {r.returncode} in {time.monotonic() - t0:.0f}s")
    return r.returncode


if __name__ == "__main__":
    raise SystemExit(main())
