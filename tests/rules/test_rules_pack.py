"""The default pack is complete: the fixed alert names, labels every alert must carry, a runbook
section, "not yet" and "firing" promtool cases, thresholds all from thresholds.yml."""

from __future__ import annotations

import re

import yaml

from gpuwatch.rules import compiler, sources

try:  # conftest's module name depends on pytest's import mode
    from conftest import ROOT
except ImportError:  # pragma: no cover
    from tests.conftest import ROOT

REQUIRED = {
    "GpuTemperatureHigh",
    "GpuXidError",
    "GpuLost",
    "GpuEccUncorrectable",
    "NvmlDown",
    "SlurmNodeDown",
    "SlurmNodeDrained",
    "SlurmNodeNotResponding",
    "SlurmControllerUnreachable",
    "SlurmJobsPendingTooLong",
    "ExporterDown",
    "GpuMissing",
    "GpuIdleWhileAllocated",
    "GpuPowerCapped",
    "GpuRowRemapFailure",
    "SlurmJobsNodeFail",
    "SlurmJobsOutOfMemory",
    "Watchdog",
    "AlertmanagerNotificationsFailing",
    "PrometheusRuleEvaluationFailures",
    "ExporterCollectorFailing",
    "GpuExporterMissing",
}


def compiled() -> compiler.Compiled:
    return compiler.compile_sources(compiler.Options())


def test_alert_names_and_labels() -> None:
    c = compiled()
    assert {a.name for a in c.alerts} == REQUIRED
    rules = [
        r
        for f in (ROOT / "compose/generated/prometheus/rules").glob("*.yml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    ]
    assert len(rules) == 23
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["labels"]["component"] in ("gpu", "slurm", "meta"), r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]
        assert r["annotations"]["runbook_url"].endswith("#" + r["alert"].lower())


def test_slurm_node_drained_tiers_by_who_drained() -> None:
    drained = [a for a in compiled().alerts if a.name == "SlurmNodeDrained"]
    assert sorted(a.severity for a in drained) == ["info", "warning"]
    auto = next(a for a in drained if a.severity == "warning")
    assert "gres/gpu count reported lower" in auto.tests[0].series[0][0]


def test_every_alert_has_a_runbook_section_and_tests() -> None:
    anchors = sources.runbook_anchors((ROOT / "rules/pack/RUNBOOK.md").read_text())
    for a in compiled().alerts:
        assert a.name.lower() in anchors, a.name
        assert any(t.fires_at for t in a.tests), f"{a.name}: no firing case"
        if not a.always_fires:
            assert any(t.not_at for t in a.tests), f"{a.name}: no 'not yet firing' case"


def test_xid_tests_include_a_series_appearing_at_one() -> None:
    xid = next(a for a in compiled().alerts if a.name == "GpuXidError")
    first = xid.tests[0]
    assert len(first.series) == 1 and "xid=" in first.series[0][0]
    assert first.series[0][1].split()[:4] == ["_", "_", "_", "1"]


def test_numbers_come_from_thresholds_file() -> None:
    """No bare threshold in the pack's expressions: every comparison value is %{name}."""
    for f in ("gpu.yml", "slurm.yml", "meta.yml"):
        doc = yaml.safe_load((ROOT / "rules/pack" / f).read_text())
        for a in doc.get("alerts", []):
            for m in re.finditer(r"(?:[<>]=?|[=!]=)\s*([0-9.]+)", a["expr"]):
                assert m.group(1) in ("0", "1"), (
                    f"{a['alert']}: threshold {m.group(1)} belongs in thresholds.yml"
                )
