"""Grafana outputs: a datasource variable, every query through it, threshold lines that are the
alert expressions' own numbers (and move with an overlay), and fixed-uid provisioning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules.cli import cli

try:  # conftest's module name depends on pytest's import mode
    from conftest import ROOT
except ImportError:  # pragma: no cover
    from tests.conftest import ROOT

DASH = ROOT / "grafana" / "dashboards"


def panels(path: Path) -> dict[str, dict]:
    return {p["title"]: p for p in json.loads(path.read_text())["panels"]}


def line(panel: dict) -> list:
    return [
        s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"] if s["value"] is not None
    ]


def test_four_dashboards_with_datasource_variable() -> None:
    names = sorted(p.name for p in DASH.glob("*.json"))
    assert names == ["alerts-overview.json", "gpu-fleet.json", "jobs.json", "slurm-cluster.json"]
    uids = set()
    for f in DASH.glob("*.json"):
        d = json.loads(f.read_text())
        uids.add(d["uid"])
        var = d["templating"]["list"][0]
        assert var["name"] == "datasource" and var["type"] == "datasource" and var["query"] == "prometheus"
        assert d["panels"], f
        for p in d["panels"]:
            assert p["datasource"]["uid"] == "${datasource}"
            assert all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"])
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids))
    assert len(uids) == 4


def test_threshold_lines_come_from_alert_expressions() -> None:
    thresholds = yaml.safe_load((ROOT / "rules/pack/thresholds.yml").read_text())
    gpu = panels(DASH / "gpu-fleet.json")
    assert gpu["GPU temperature"]["targets"][0]["expr"] == "gpuwatch_gpu_temperature_celsius"
    assert line(gpu["GPU temperature"]) == [thresholds["gpu_temperature_celsius"]]
    assert line(gpu["GPU utilization"]) == [thresholds["gpu_idle_utilization_ratio"]]
    slurm = panels(DASH / "slurm-cluster.json")
    assert line(slurm["Oldest pending job age"]) == [thresholds["slurm_pending_job_age_seconds"]]
    meta = panels(DASH / "alerts-overview.json")
    assert line(meta["Failed notifications"]) == [thresholds["alertmanager_failed_notifications_ratio"]]
    assert "ALERTS" in meta["Firing alerts"]["targets"][0]["expr"]


def test_overlay_threshold_moves_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    ov = tmp_path / "ov.yml"
    ov.write_text("thresholds: {gpu_temperature_celsius: 78}\n")
    r = CliRunner().invoke(cli, ["compile", "--overlay", str(ov), "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.stderr
    gpu = panels(tmp_path / "o/grafana/dashboards/gpu-fleet.json")
    assert line(gpu["GPU temperature"]) == [78]
    assert "gpuwatch_gpu_temperature_celsius > 78" in (tmp_path / "o/prometheus/rules/gpu.yml").read_text()


def test_provisioning() -> None:
    ds = yaml.safe_load((ROOT / "grafana/provisioning/datasources/gpuwatch.yml").read_text())
    (d,) = ds["datasources"]
    assert (
        d["uid"] == "gpuwatch-prometheus"
        and d["type"] == "prometheus"
        and d["url"] == "http://prometheus:9090"
    )
    prov = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/gpuwatch.yml").read_text())
    (p,) = prov["providers"]
    assert p["type"] == "file" and p["options"]["path"] == "/var/lib/grafana/dashboards"
    var = json.loads((DASH / "gpu-fleet.json").read_text())["templating"]["list"][0]
    assert var["current"]["value"] == d["uid"]
