"""gpuwatch.localstack.roots: the mirror read from apt's sources, and programs run in a real root."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import require_root

from gpuwatch.localstack import roots
from gpuwatch.localstack.roots import Root, RootError, apt_mirror, clean_roots


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_mirror_from_deb822_sources_skips_security_and_disabled(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUWATCH_DEBIAN_MIRROR", raising=False)
    write(
        tmp_path / "sources.list.d/a.sources",
        "Types: deb\nURIs: http://mirror.invalid/security\nSuites: bookworm-security\nComponents: main\n\n"
        "Enabled: no\nTypes: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\n\n"
        "Types: deb-src deb\n# a comment\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n",
    )
    write(tmp_path / "sources.list.d/b.list.disabled", "deb http://other.invalid/debian bookworm main\n")
    assert apt_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_mirror_from_one_line_sources_with_options(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUWATCH_DEBIAN_MIRROR", raising=False)
    write(
        tmp_path / "sources.list",
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb-src http://src.invalid/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://sec.invalid/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.invalid/debian bookworm main\n",
    )
    assert apt_mirror(tmp_path) == "http://one.invalid/debian"


def test_mirror_env_override_and_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GPUWATCH_DEBIAN_MIRROR", "http://env.invalid/debian")
    assert apt_mirror(tmp_path) == "http://env.invalid/debian"
    monkeypatch.delenv("GPUWATCH_DEBIAN_MIRROR")
    with pytest.raises(RootError, match="GPUWATCH_DEBIAN_MIRROR"):
        apt_mirror(tmp_path)


def test_roots_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GPUWATCH_ROOTS_DIR", str(tmp_path))
    assert roots.roots_dir() == tmp_path
    monkeypatch.delenv("GPUWATCH_ROOTS_DIR")
    assert roots.roots_dir() == Path("/var/cache/gpuwatch/roots")


def test_unfinished_root_is_not_used_and_host_root_passes_commands_through(tmp_path):
    (tmp_path / "trixie" / "usr").mkdir(parents=True)  # an interrupted build: no stamp file
    assert Root._cached("trixie", tmp_path, ()) is None
    host = Root.host()
    assert host.is_host and host.argv(["sinfo", "-h"]) == ["sinfo", "-h"] and host.prefix() == []
    with pytest.raises(RootError, match="not a Debian suite"):
        Root.ensure("../etc", directory=tmp_path)


def _mounts_of(pid: int) -> str:
    return Path(f"/proc/{pid}/mountinfo").read_text()


@pytest.mark.parametrize("suite", ["trixie", "sid"])
def test_program_runs_in_root_with_bind_and_leaves_no_mount(suite, tmp_path_factory):
    root = require_root(suite)
    assert root.version("slurm-wlm") and root.version("prometheus") and root.version("python3")
    lab = tmp_path_factory.mktemp(f"rootlab-{suite}")
    (lab / "in.txt").write_text("from the host\n")
    before = _mounts_of(os.getpid())
    script = (
        "cat $0/in.txt; echo written > $0/out.txt; . /etc/os-release; echo $VERSION_CODENAME; "
        "/usr/sbin/slurmd -V; echo pid=$$"
    )
    p = subprocess.Popen(
        root.argv(["sh", "-c", script, str(lab)], binds=[lab]), stdout=subprocess.PIPE, text=True
    )
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0, out
    lines = out.splitlines()
    assert lines[0] == "from the host"
    assert lines[1] == {"trixie": "trixie", "sid": "forky"}[suite]  # sid calls itself the next release
    assert lines[2].split()[-1].startswith({"trixie": "24.11.", "sid": "26.05."}[suite]), lines
    assert lines[3] == f"pid={p.pid}"  # unshare, sh and chroot exec: the PID is the program's
    assert (lab / "out.txt").read_text() == "written\n"
    # every mount lived in the program's own namespace: nothing is left in ours or in the root
    assert _mounts_of(os.getpid()) == before
    assert str(root.path) not in before
    assert not (root.path / "proc" / "self").exists()


def test_wrappers_run_the_roots_program(tmp_path):
    root = require_root("trixie")
    bindir = root.write_wrappers(tmp_path / "bin", ["prometheus", "promtool"], env={"GPUWATCH_X": "1"})
    out = subprocess.run([bindir / "promtool", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "version 2.53" in out.stdout + out.stderr
    with pytest.raises(RootError, match="not in the trixie root"):
        root.argv(["no-such-program"])


def test_clean_refuses_a_root_in_use_and_removes_others(tmp_path):
    (tmp_path / "fake" / "etc").mkdir(parents=True)
    (tmp_path / ".fake.lock").write_text("")
    assert clean_roots(tmp_path, ["fake"]) == [tmp_path / "fake"]
    assert not (tmp_path / "fake").exists() and not (tmp_path / ".fake.lock").exists()
    root = require_root("trixie")
    p = subprocess.Popen(root.argv(["sleep", "30"]))
    try:
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not roots._processes_inside(root.path):
            time.sleep(0.05)
        with pytest.raises(RootError, match="still in use"):
            clean_roots(root.path.parent, [root.suite])
    finally:
        p.kill()
        p.wait()
    assert (root.path / roots.STAMP).is_file()


def test_split_at_dashes_for_the_cli_and_the_command():
    assert roots.split_at_dashes(["run", "sid", "--", "sinfo", "--", "-h"]) == (
        ["run", "sid"],
        ["sinfo", "--", "-h"],
    )
    assert roots.split_at_dashes(("list",)) == (["list"], [])
