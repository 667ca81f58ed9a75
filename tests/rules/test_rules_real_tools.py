"""The compiled default pack and the golden outputs against the real promtool and amtool
(Debian's prometheus 2.42 and prometheus-alertmanager 0.25), including routing test cases."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules.cli import cli

try:  # conftest's module name depends on pytest's import mode
    from conftest import ROOT, require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import ROOT, require_programs

GEN = ROOT / "compose" / "generated"
AM = GEN / "alertmanager" / "alertmanager.yml"

pytestmark = pytest.mark.prometheus


def sh(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_promtool_check_rules() -> None:
    tool = require_programs("promtool")["promtool"]
    r = sh(tool, "check", "rules", *sorted(str(p) for p in (GEN / "prometheus/rules").glob("*.yml")))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == 4


def test_promtool_test_rules_default_pack() -> None:
    """Every alert's "not yet firing" and "firing" cases, run by promtool itself."""
    tool = require_programs("promtool")["promtool"]
    tests = sorted(p.name for p in (GEN / "prometheus/tests").glob("*_test.yml"))
    assert tests == ["gpu_test.yml", "meta_test.yml", "slurm_test.yml"]
    r = sh(tool, "test", "rules", *tests, cwd=GEN / "prometheus/tests")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("SUCCESS") == 3


def test_promtool_catches_a_wrong_expectation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated tests are not vacuous: a threshold overlay that the tests were not written
    for, with the tests forced back in, makes promtool fail."""
    tool = require_programs("promtool")["promtool"]
    src = tmp_path / "src"
    src.mkdir()
    text = (ROOT / "rules/pack/gpu.yml").read_text().replace("%{gpu_temperature_celsius}", "95")
    (src / "gpu.yml").write_text(text)
    for name in ("thresholds.yml", "RUNBOOK.md"):
        (src / name).write_text((ROOT / "rules/pack" / name).read_text())
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(
        cli,
        ["compile", str(src), "--notifications", "rules/pack/notifications.yml", "-o", str(tmp_path / "o")],
    )
    assert r.exit_code == 0, r.stderr
    r2 = sh(tool, "test", "rules", "gpu_test.yml", cwd=tmp_path / "o/prometheus/tests")
    assert r2.returncode != 0
    assert "GpuTemperatureHigh" in r2.stdout + r2.stderr


def test_amtool_check_config() -> None:
    tool = require_programs("amtool")["amtool"]
    r = sh(tool, "check-config", str(AM))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout and "4 receivers" in r.stdout and "3 inhibit rules" in r.stdout


ROUTES = [
    (["alertname=GpuLost", "severity=critical", "component=gpu", "node=n1"], "pager"),
    (["alertname=SlurmNodeDown", "severity=critical", "component=slurm"], "pager"),
    (["alertname=GpuTemperatureHigh", "severity=warning", "component=gpu"], "chat"),
    (["alertname=SlurmNodeDrained", "severity=warning", "component=slurm"], "chat"),
    (["alertname=SlurmNodeDrained", "severity=info", "component=slurm"], "email"),
    (["alertname=Watchdog", "severity=info", "component=meta"], "deadmans-switch"),
    (["alertname=Unknown"], "chat"),
]


@pytest.mark.parametrize("labels,receiver", ROUTES, ids=[f"{lab[0]}-{r}" for lab, r in ROUTES])
def test_amtool_routes(labels: list[str], receiver: str) -> None:
    tool = require_programs("amtool")["amtool"]
    r = sh(tool, "config", "routes", "test", f"--config.file={AM}", f"--verify.receivers={receiver}", *labels)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == receiver


def test_amtool_rejects_what_we_reject(tmp_path: Path) -> None:
    """Alertmanager 0.25 really has no webhook url_file: the compiler's refusal matches amtool."""
    tool = require_programs("amtool")["amtool"]
    cfg = tmp_path / "am.yml"
    cfg.write_text("route: {receiver: h}\nreceivers: [{name: h, webhook_configs: [{url_file: /run/h}]}]\n")
    r = sh(tool, "check-config", str(cfg))
    assert r.returncode != 0


def test_check_command_runs_the_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    require_programs("promtool", "amtool")
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(cli, ["check", "--alertmanager-version", "0.25"])  # the host's amtool
    assert r.exit_code == 0, r.stderr
    assert "passed promtool check rules, promtool test rules, amtool check-config" in r.output


def test_fast_overlay_with_webhooks_passes_promtool_and_amtool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the e2e test and `make demo` compile: valid for the real tools too."""
    tools = require_programs("promtool", "amtool")
    hooks = tmp_path / "hooks.yml"
    hooks.write_text(
        "route: {receiver: sink, group_by: [alertname, instance]}\n"
        "inhibit_rules: [{source_matchers: ['alertname=\"SlurmNodeDown\"'], target_matchers: ['component=\"gpu\"'], equal: [node]}]\n"
        "receivers: [{name: sink, webhook_configs: [{url: 'http://127.0.0.1:9/hook', send_resolved: true}]}]\n"
    )
    monkeypatch.chdir(ROOT)
    out = tmp_path / "o"
    r = CliRunner().invoke(
        cli,
        [
            "compile",
            "--overlay",
            "rules/pack/overlays/fast.yml",
            "--notifications",
            str(hooks),
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.stderr
    rc = sh(
        tools["promtool"], "check", "rules", *sorted(str(p) for p in (out / "prometheus/rules").glob("*.yml"))
    )
    assert rc.returncode == 0, rc.stdout + rc.stderr
    tests = sorted(p.name for p in (out / "prometheus/tests").glob("*.yml"))
    assert tests, "the overlay keeps the tests it does not invalidate"
    rt = sh(tools["promtool"], "test", "rules", *tests, cwd=out / "prometheus/tests")
    assert rt.returncode == 0, rt.stdout + rt.stderr
    ra = sh(tools["amtool"], "check-config", str(out / "alertmanager/alertmanager.yml"))
    assert ra.returncode == 0, ra.stdout + ra.stderr


MATCHERS = [
    'severity="critical"',
    "severity=critical",
    '{a="x,y", b!=z}',
    'c="x\\"y"',
    'd=~"^(?:gpu|cpu)$"',
    'e=""',
    'severity=~"crit',
    'instance=~"(gpu"',
    "severity",
    'a="x" "y"',
    '1a="x"',
]


@pytest.mark.parametrize("matcher", MATCHERS)
def test_matcher_check_agrees_with_amtool(matcher: str, tmp_path: Path) -> None:
    """The compiler rejects exactly the route matchers Alertmanager 0.25 rejects, so `compile`
    (which does not run amtool) cannot write an alertmanager.yml that Alertmanager refuses."""
    from gpuwatch.rules.notifications import matcher_problem

    tool = require_programs("amtool")["amtool"]
    cfg = tmp_path / "am.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "route": {"receiver": "h", "routes": [{"receiver": "h", "matchers": [matcher]}]},
                "receivers": [{"name": "h"}],
            }
        )
    )
    r = sh(tool, "check-config", str(cfg))
    assert (r.returncode == 0) == (matcher_problem(matcher) is None), (matcher, r.stdout + r.stderr)


def test_check_points_amtool_unknown_field_at_the_notifications_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """amtool names a line of the generated alertmanager.yml; check reports the source's line."""
    require_programs("amtool")
    notif = tmp_path / "notifications.yml"
    notif.write_text(
        "route: {receiver: chat}\n"
        "receivers:\n"
        "  - name: chat\n"
        "    slack_configs:\n"
        "      - api_url_file: /run/secrets/slack\n"
        "        chanel: '#gpu'\n"
    )
    monkeypatch.chdir(ROOT)
    r = CliRunner().invoke(cli, ["check", "--notifications", str(notif), "--alertmanager-version", "0.25"])
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == (
        f"{notif}:6:9: unknown field 'chanel': Alertmanager has no such field "
        "there (amtool check-config refuses it)"
    )
    assert "Traceback" not in r.stderr
