"""`python -m gpuwatch.exporters.common.webconfig hash --keep-from FILE --user NAME`: the stored
hash is printed again while it still matches (Ansible reruns change nothing), a new one otherwise."""

from __future__ import annotations

import subprocess
import sys

import bcrypt
import pytest

CMD = [sys.executable, "-m", "gpuwatch.exporters.common.webconfig", "hash", "--cost", "10"]


def run(*args: str, password: str = "s3cret pass") -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *args], input=password + "\n", capture_output=True, text=True, timeout=60)


@pytest.fixture
def stored(tmp_path):
    hashed = bcrypt.hashpw(b"s3cret pass", bcrypt.gensalt(10)).decode()
    path = tmp_path / "web-config.yml"
    path.write_text(f"basic_auth_users:\n  gpuwatch: {hashed}\n  other: {hashed}\n")
    return path, hashed


def test_matching_password_keeps_the_stored_hash(stored):
    path, hashed = stored
    r = run("--keep-from", str(path), "--user", "gpuwatch")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == hashed and r.stderr == ""


@pytest.mark.parametrize(
    "args, password",
    [
        (("--user", "gpuwatch"), "a new password"),  # password changed
        (("--user", "nobody"), "s3cret pass"),  # no entry for that user
        (("--user", "gpuwatch", "--cost", "11"), "s3cret pass"),  # cost changed
    ],
    ids=["new-password", "other-user", "new-cost"],
)
def test_otherwise_a_new_hash(stored, args, password):
    path, hashed = stored
    r = run("--keep-from", str(path), *args, password=password)
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip()
    assert new != hashed and bcrypt.checkpw(password.encode(), new.encode())


def test_missing_or_broken_file_makes_a_new_hash(tmp_path):
    r = run("--keep-from", str(tmp_path / "absent.yml"), "--user", "gpuwatch")
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith("$2b$10$")
    broken = tmp_path / "broken.yml"
    broken.write_text("basic_auth_users: [unclosed\n")
    r = run("--keep-from", str(broken), "--user", "gpuwatch")
    assert r.returncode == 0 and r.stdout.startswith("$2b$10$")
    assert str(broken) in r.stderr and "s3cret" not in r.stderr + r.stdout


def test_keep_from_needs_user(tmp_path):
    r = run("--keep-from", str(tmp_path / "x.yml"))
    assert r.returncode == 2 and "--keep-from and --user go together" in r.stderr
