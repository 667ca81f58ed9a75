"""The README's "GPU exporter" section documents every metric, flag, collector and scenario key."""

from __future__ import annotations

import re

from conftest import ROOT

from gpuwatch.exporters.gpu import metrics
from gpuwatch.exporters.gpu.cli import build_parser
from gpuwatch.exporters.gpu.collectors import COLLECTORS
from gpuwatch.exporters.gpu.sim import scenario


def section() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"^## GPU exporter\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "README.md has no '## GPU exporter' section"
    return m.group(1)


def test_every_metric_documented():
    doc = section()
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
