"""The minimal format of issue 11: a first alert file (group, interval, alerts with only alert, expr,
for, severity, summary; promtool-style tests with series/fires_at/not_at; Alertmanager's own
notifications vocabulary) compiles with warnings and its promtool tests pass; --strict refuses it.
A test with fires_at and no expect becomes a promtool check that really fails when the alert does
not fire."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules.cli import cli

try:  # conftest's module name depends on pytest's import mode
    from conftest import FIXTURES, ROOT, require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import FIXTURES, ROOT, require_programs

MINIMAL = FIXTURES / "rules" / "minimal"
SRC = "tests/fixtures/rules/minimal/alerts.yml"


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def compile_(*args: str):
    return CliRunner().invoke(cli, ["compile", *args])


def promtool_test(out: Path) -> subprocess.CompletedProcess:
    tool = require_programs("promtool")["promtool"]
    tests = sorted(p.name for p in (out / "prometheus/tests").glob("*_test.yml"))
    assert tests
    return subprocess.run(
        [tool, "test", "rules", *tests],
        cwd=out / "prometheus/tests",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_minimal_pack_compiles_with_warnings(tmp_path: Path) -> None:
    r = compile_(str(MINIMAL), "-o", str(tmp_path))
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"{SRC}:6:12: warning: alert 'NodeExporterDown' has no description: say what it means and what to look at first",
        f"{SRC}:6:12: warning: alert 'NodeExporterDown' has no runbook: add RUNBOOK.md beside the rule files, a 'runbook:' URL, or --runbook-url",
        f"{SRC}:8:10: warning: for: 2s is shorter than two scrape intervals (30s at --scrape-interval 15s): one missed scrape resets it",
        f"{SRC}:18:12: warning: alert 'RootFilesystemAlmostFull' has no description: say what it means and what to look at first",
        f"{SRC}:18:12: warning: alert 'RootFilesystemAlmostFull' has no runbook: add RUNBOOK.md beside the rule files, a 'runbook:' URL, or --runbook-url",
        f"{SRC}:30:12: warning: alert 'GpuTooHot' has no description: say what it means and what to look at first",
        f"{SRC}:30:12: warning: alert 'GpuTooHot' has no runbook: add RUNBOOK.md beside the rule files, a 'runbook:' URL, or --runbook-url",
    ]
    rules = yaml.safe_load((tmp_path / "prometheus/rules/node-health.yml").read_text())["groups"][0]["rules"]
    by_name = {r["alert"]: r for r in rules}
    # component inferred from the metrics: up -> meta, gpuwatch_gpu_* -> gpu, node_* -> none
    assert by_name["NodeExporterDown"]["labels"] == {"severity": "critical", "component": "meta"}
    assert by_name["GpuTooHot"]["labels"] == {"severity": "warning", "component": "gpu"}
    assert by_name["RootFilesystemAlmostFull"]["labels"] == {"severity": "warning"}
    # no runbook anywhere: no runbook_url annotation (no dead link)
    assert all(set(r["annotations"]) == {"summary"} for r in rules)
    am = yaml.safe_load((tmp_path / "alertmanager/alertmanager.yml").read_text())
    assert [r["name"] for r in am["receivers"]] == ["team", "oncall"]


@pytest.mark.prometheus
def test_minimal_pack_promtool_tests_pass(tmp_path: Path) -> None:
    assert compile_(str(MINIMAL), "-o", str(tmp_path)).exit_code == 0
    tool = require_programs("promtool")["promtool"]
    r = subprocess.run(
        [tool, "check", "rules", str(tmp_path / "prometheus/rules/node-health.yml")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = promtool_test(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    tests = yaml.safe_load((tmp_path / "prometheus/tests/node-health_test.yml").read_text())["tests"]
    assert all("promql_expr_test" in t for t in tests), "fires_at without expect: checked on ALERTS"


def test_minimal_pack_strict_refuses(tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = compile_(str(MINIMAL), "-o", str(out), "--strict")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-1] == "7 warnings found, refused by --strict; nothing written."
    assert not out.exists()


ALERT = """\
group: g
alerts:
  - alert: Hot
    expr: gpuwatch_gpu_temperature_celsius > 85
    for: 3m
    severity: warning
    summary: "GPU {{{{ $labels.gpu }}}} is hot"
    description: d
    runbook: https://runbooks.example.org/hot
    tests:
      - series: {{'gpuwatch_gpu_temperature_celsius{{gpu="0", uuid="GPU-1"}}': '{values}'}}
        fires_at: {at}
"""


@pytest.mark.prometheus
@pytest.mark.parametrize(
    "values,at,fires",
    [
        ("70 90x20", "10m", True),
        ("70x20", "10m", False),  # never above 85
        ("70 90x20", "2m", False),  # still pending (for: 3m): ALERTS has it, but not alertstate="firing"
        ("90x3 70x20", "10m", False),  # fired, then resolved
    ],
)
def test_fires_at_without_expect_is_a_real_check(tmp_path: Path, values: str, at: str, fires: bool) -> None:
    src = tmp_path / "g.yml"
    src.write_text(ALERT.format(values=values, at=at))
    out = tmp_path / "out"
    r = compile_(str(src), "--notifications", str(MINIMAL / "notifications.yml"), "-o", str(out), "--strict")
    assert r.exit_code == 0, r.stderr
    r = promtool_test(out)
    if fires:
        assert r.returncode == 0, r.stdout + r.stderr
    else:
        assert r.returncode != 0, "promtool must fail when the alert is not firing at fires_at"
        assert 'ALERTS{alertname=\\"Hot\\", alertstate=\\"firing\\"' in r.stdout + r.stderr  # promtool quotes
        assert "got: nil" in r.stdout + r.stderr


@pytest.mark.prometheus
def test_check_points_failed_promtool_tests_at_their_source(tmp_path: Path) -> None:
    """`check` runs promtool on the compiled tests; a failing step is reported at the test in the
    user's file (not the generated one), with what promtool expected and got."""
    require_programs("promtool")
    src = tmp_path / "g.yml"
    text = ALERT.format(values="70 90x20", at="2m") + "        not_at: 10m\n"
    src.write_text(text + text.replace("alert: Hot", "alert: Hot2").split("alerts:\n", 1)[1])
    notif = str(MINIMAL / "notifications.yml")
    r = CliRunner().invoke(cli, ["check", str(src), "--notifications", notif])
    assert r.exit_code == 1
    lines = [ln.replace(str(tmp_path) + "/", "") for ln in r.stderr.splitlines()]
    assert sorted(lines[:4]) == sorted(
        [
            "g.yml:11:9: promtool test of 'Hot' fails at 2m: expected the alert firing, but it was not "
            "(never, still pending, or resolved)",
            "g.yml:11:9: promtool test of 'Hot' fails at 10m: expected no alert, got: [ 0: Labels:{alertname=\"Hot\", "
            'component="gpu", gpu="0", severity="warning", uuid="GPU-1"} Annotations:{description="d", '
            'runbook_url="https://runbooks.example.org/hot", summary="GPU 0 is hot"} ]',
            "g.yml:22:9: promtool test of 'Hot2' fails at 2m: expected the alert firing, but it was not "
            "(never, still pending, or resolved)",
            "g.yml:22:9: promtool test of 'Hot2' fails at 10m: expected no alert, got: [ 0: Labels:{alertname=\"Hot2\", "
            'component="gpu", gpu="0", severity="warning", uuid="GPU-1"} Annotations:{description="d", '
            'runbook_url="https://runbooks.example.org/hot", summary="GPU 0 is hot"} ]',
        ]
    )
