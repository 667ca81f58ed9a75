"""docs/gpu-exporter.md documents every flag, collector and scenario key; docs/metrics.md every metric."""

from __future__ import annotations

from conftest import ROOT

from gpuwatch.exporters.gpu import metrics
from gpuwatch.exporters.gpu.cli import build_parser
from gpuwatch.exporters.gpu.collectors import COLLECTORS
from gpuwatch.exporters.gpu.sim import scenario


def section() -> str:
    return (ROOT / "docs" / "gpu-exporter.md").read_text()


def metrics_section() -> str:
    text = (ROOT / "docs" / "metrics.md").read_text()
    assert "\n## GPU exporter\n" in text, "docs/metrics.md has no '## GPU exporter' section"
    return text.split("\n## GPU exporter\n", 1)[1].split("\n## ", 1)[0]


def test_every_metric_documented():
    doc = metrics_section()
    missing = [d.name for d in metrics.METRICS if f"`{d.name}`" not in doc]
    assert not missing, missing


def test_every_flag_and_collector_documented():
    doc = section()
    flags = [
        o for a in build_parser()._actions for o in a.option_strings if o.startswith("--") and o != "--help"
    ]
    missing = [
        f for f in flags if not f.startswith(("--collector.", "--no-collector.")) and f"`{f}" not in doc
    ]
    assert not missing, missing
    assert [n for n in COLLECTORS.specs if f"| `{n}` |" not in doc] == []


def test_scenario_keys_documented():
    doc = section()
    assert [k for k in scenario.VALUE_FIELDS if f"`{k}`" not in doc] == []
    assert [k for k in scenario.FEATURES if f"`{k}`" not in doc] == []
    assert [k for k in scenario.FAULT_KINDS if f"kind: {k}" not in doc] == []
