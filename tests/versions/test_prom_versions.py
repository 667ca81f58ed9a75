"""The compiled default pack (compose/generated) through promtool and amtool of every Prometheus and
Alertmanager version the project supports: the host's (Debian 12: 2.42 + 0.25) and those of the
trixie (2.53 + 0.28) and sid (3.5 LTS + 0.33) version roots.

``promtool check rules``, ``promtool test rules`` (every alert's "not yet firing" and "firing"
cases), ``amtool check-config`` and routing answers (``amtool config routes test``) must agree on
every version; and a config compiled for that Alertmanager version (``--alertmanager-version``,
e.g. webhook ``url_file`` from 0.26 on) must be one that version accepts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT, require_programs, require_root

from gpuwatch.rules.cli import cli

pytestmark = pytest.mark.prometheus

GEN = ROOT / "compose" / "generated"
AM = GEN / "alertmanager" / "alertmanager.yml"

# version root -> (Prometheus, Alertmanager) it holds
VERSIONS = {"host": ("2.42", "0.25"), "trixie": ("2.53", "0.28"), "sid": ("3.5", "0.33")}


class Tools:
    """promtool/amtool of one version, run with the folders they read mounted at the same path."""

    def __init__(self, suite: str):
        if suite == "host":
            require_programs("promtool", "amtool")
        self.root = require_root(suite)

    def run(self, *argv: str, cwd: Path = ROOT, binds: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
        from gpuwatch.localstack.promstack import tool

        prefix = tool(self.root, argv[0], binds=[ROOT, *binds])
        if self.root.is_host:
            return subprocess.run([*prefix, *argv[1:]], cwd=cwd, capture_output=True, text=True, timeout=120)
        # inside a root the working folder must be entered after chroot
        sh = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(cwd), prefix[-1], *argv[1:]]
        return subprocess.run([*prefix[:-1], *sh], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module", params=list(VERSIONS), ids=[f"prom{p}-am{a}" for p, a in VERSIONS.values()])
def tools(request) -> Tools:
    t = Tools(request.param)
    prom, am = VERSIONS[request.param]
    assert f"promtool, version {prom}." in t.run("promtool", "--version").stdout
    out = t.run("amtool", "--version")
    assert f"version {am}." in out.stdout + out.stderr
    t.am_version = am
    return t


def test_promtool_check_rules(tools: Tools) -> None:
    files = sorted(str(p) for p in (GEN / "prometheus/rules").glob("*.yml"))
    r = tools.run("promtool", "check", "rules", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    # one rule file per component of the default pack (gpu, slurm, meta, jobs)
    assert files and r.stdout.count("SUCCESS") == len(files)


def test_promtool_test_rules(tools: Tools) -> None:
    tests = sorted(p.name for p in (GEN / "prometheus/tests").glob("*_test.yml"))
    assert tests == ["gpu_test.yml", "meta_test.yml", "slurm_test.yml"]
    r = tools.run("promtool", "test", "rules", *tests, cwd=GEN / "prometheus/tests")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == 3


def test_amtool_check_config(tools: Tools) -> None:
    r = tools.run("amtool", "check-config", str(AM))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout and "4 receivers" in r.stdout and "3 inhibit rules" in r.stdout


ROUTES = [
    (["alertname=GpuLost", "severity=critical", "component=gpu", "node=n1"], "pager"),
    (["alertname=GpuTemperatureHigh", "severity=warning", "component=gpu"], "chat"),
    (["alertname=SlurmNodeDrained", "severity=info", "component=slurm"], "email"),
    (["alertname=Watchdog", "severity=info", "component=meta"], "deadmans-switch"),
    (["alertname=Unknown"], "chat"),
]


def test_amtool_routes_agree(tools: Tools) -> None:
    for labels, receiver in ROUTES:
        r = tools.run("amtool", "config", "routes", "test", f"--config.file={AM}", *labels)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.strip() == receiver, (labels, r.stdout)


def test_config_compiled_for_this_alertmanager_is_accepted(tools: Tools, tmp_path: Path, monkeypatch) -> None:
    """``--alertmanager-version`` of this Alertmanager: a webhook secret in ``url_file`` where the
    version has it (0.26+), else the compiler refuses it; what it writes, amtool accepts."""
    secret = tmp_path / "hook-url"
    secret.write_text("http://127.0.0.1:9/hook\n")
    notif = tmp_path / "notifications.yml"
    notif.write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "hook"},
                "receivers": [{"name": "hook", "webhook_configs": [{"url_file": str(secret)}]}],
            }
        )
    )
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    args = [
        "compile",
        "--notifications",
        str(notif),
        "--alertmanager-version",
        tools.am_version,
        "-o",
        str(out),
    ]
    r = CliRunner().invoke(cli, args)
    if tuple(map(int, tools.am_version.split("."))) < (0, 26):
        assert r.exit_code == 1, r.output
        assert "webhook_configs[0].url_file needs Alertmanager >= 0.26 and 0.25 rejects it" in r.stderr
        return
    assert r.exit_code == 0, r.output
    config = out / "alertmanager" / "alertmanager.yml"
    check = tools.run("amtool", "check-config", str(config), binds=(tmp_path,))
    assert check.returncode == 0, check.stdout + check.stderr
