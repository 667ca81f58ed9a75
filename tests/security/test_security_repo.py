"""Audit of what is committed: no secret-looking strings in tracked files; secret folders ignored.

The patterns are high-signal ones (private keys, Slack webhooks and tokens, RunPod/GitHub/AWS
keys, bcrypt hashes) checked in every tracked file, plus literal ``password:``-style assignments
in configuration files outside tests/. Tests make their certificates and hashes at run time, so
none of these belongs in git. The scanner is itself tested on samples assembled at run time
(this file must not contain what it looks for).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HIGH_SIGNAL = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "Slack webhook URL": re.compile(
        r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}"
    ),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "RunPod API key": re.compile(r"\brpa_[A-Za-z0-9]{20,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "bcrypt hash": re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}"),
}
# `password: hunter2` in a config file; templated ({{ }}), env ($X), file references and obvious
# placeholders are fine.
# Slack's key is exactly `api_url`; a variable such as `runpod_pods_api_url` is a plain endpoint.
ASSIGNMENT = re.compile(
    r"""(?ix)^\s*(?:-\s*)?(?P<key>[-\w.]*(?:password|passwd|api[_-]?key|secret|token|webhook[_-]?url)|api_url)"""
    r"""\s*[:=]\s*["']?(?P<value>[^\s"'#]+)"""
)
CONFIG_SUFFIXES = (".yml", ".yaml", ".cfg", ".ini", ".env", ".conf", ".j2", ".json", ".toml")
PLACEHOLDER = re.compile(
    r"(?i)^(\{\{.*|\$.*|<.*>|\*+|x+|changeme|example.*|null|none|~|true|false|" "|''|/.*|.*_file)$"
)


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def scan_text(path: str, text: str) -> list[str]:
    hits = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for name, rx in HIGH_SIGNAL.items():
            if rx.search(line):
                hits.append(f"{path}:{lineno}: {name}")
        if path.endswith(CONFIG_SUFFIXES) and not path.startswith("tests/"):
            m = ASSIGNMENT.match(line)
            if m and not PLACEHOLDER.match(m.group("value")) and len(m.group("value")) >= 6:
                hits.append(f"{path}:{lineno}: literal {m.group('key')}")
    return hits


def test_scanner_catches_samples():
    samples = {
        "a.py": "-----BEGIN " + "PRIVATE KEY-----",
        "b.yml": "url: https://hooks.slack.com/services/" + "T0123ABCD/B0123ABCD/" + "a" * 24,
        "c.txt": "key = rpa_" + "A1" * 15,
        "d.yml": "    smtp_auth_password: " + "s3cr3t-value",
        "e.txt": "hash $2b$12$" + "a" * 53,
        "f.sh": "export TOKEN=xox" + "b-1234567890-abcdef",
        "i.yml": "  - api_url: https://chat.example.org/" + "hook/abcdef",
    }
    for path, text in samples.items():
        assert scan_text(path, text), path
    # and leaves references alone
    clean = {
        "g.yml": "smtp_auth_password_file: /run/secrets/smtp\napi_key: '{{ runpod_api_key }}'\npassword: $PASSWORD\n",
        "h.yml": "basic_auth:\n  password_file: /etc/prometheus/exporter.pass\n",
        "j.yml": "runpod_pods_api_url: https://api.runpod.io\n",
    }
    for path, text in clean.items():
        assert scan_text(path, text) == [], path


def test_no_secrets_in_tracked_files():
    hits = []
    for path in tracked_files():
        full = ROOT / path
        if not full.is_file():
            continue
        data = full.read_bytes()
        if b"\0" in data[:8192]:
            # binary: a munge key is 1 KiB of random bytes; no binary should be a key file
            assert not path.endswith((".key", "munge.key")), f"{path}: binary key file in git"
            continue
        hits += scan_text(path, data.decode("utf-8", "replace"))
    assert hits == [], "secret-looking strings in git:\n" + "\n".join(hits)


def test_no_key_files_tracked():
    bad = [
        p
        for p in tracked_files()
        if re.search(r"(?i)(\.key|\.pem|\.p12|\.pfx|munge\.key|id_rsa|id_ed25519|\.pass(word)?)$", p)
    ]
    assert bad == []


@pytest.mark.parametrize(
    "path", ["compose/secrets/runpod_api_key", "compose/secrets/slack_url", ".demo/web-config.yml", ".venv/x"]
)
def test_secret_folders_are_git_ignored(path):
    res = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert res.returncode == 0, f"{path} is not git-ignored"
