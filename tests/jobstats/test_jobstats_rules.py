"""The default pack's job recording rules (rules/pack/jobs.yml): promtool unit tests of every rule
(tests/jobstats/promtool/jobs_rules_test.yml, against the committed compiled file), and the names
gpuwatch-jobstats and the Jobs dashboard read are the ones the pack records."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml
from conftest import ROOT, require_programs

from gpuwatch.jobstats import summary

COMPILED = ROOT / "compose/generated/prometheus/rules/jobs.yml"
TESTS = ROOT / "tests/jobstats/promtool/jobs_rules_test.yml"


def recorded() -> dict[str, str]:
    return {
        r["record"]: r["expr"] for g in yaml.safe_load(COMPILED.read_text())["groups"] for r in g["rules"]
    }


def test_pack_records_what_jobstats_reads():
    names = recorded()
    assert {summary.RULE_UTIL, summary.RULE_IDLE, summary.RULE_POWER} <= set(names)
    # every rule is promtool-tested
    tested = TESTS.read_text()
    for name in names:
        assert f"expr: {name}" in tested or f"{name}{{" in tested or f"{name}[" in tested, name
    # no rule reads another's output (promtool's rule backfill evaluates them independently)
    for name, expr in names.items():
        assert not any(other in expr for other in names if other != name), name


def test_jobs_dashboard_reads_recorded_series():
    dash = json.loads((ROOT / "grafana/dashboards/jobs.json").read_text())
    assert dash["title"] == "gpuwatch / Jobs"
    assert [v["name"] for v in dash["templating"]["list"]] == ["datasource", "job_id"]
    assert dash["templating"]["list"][1]["definition"] == "label_values(gpuwatch_gpu_job_info, job_id)"
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert sum('job_id=~"$job_id"' in e for e in exprs) == 4
    used = {n for n in recorded() if any(n in e for e in exprs)}
    assert {
        "gpuwatch:user_idle_gpus:count",
        "gpuwatch:user_cost:usd_per_hour",
        "gpuwatch:user_target_share:ratio",
    } <= used
    # the recorded cost is summed in PromQL; only the by-price-label table needs Grafana to multiply
    costs = {p["title"]: p for p in dash["panels"] if p["title"].startswith("Cost per user")}
    assert len(costs) == 2
    by_rule = next(p for t, p in costs.items() if "by price label" not in t)
    assert "gpuwatch:user_cost:usd_per_hour" in by_rule["targets"][0]["expr"]
    assert "transformations" not in by_rule
    assert all(p["fieldConfig"]["defaults"]["unit"] == "currencyUSD" for p in costs.values())


@pytest.mark.prometheus
def test_promtool_unit_tests_of_the_job_rules():
    tool = require_programs("promtool")["promtool"]
    r = subprocess.run(
        [tool, "test", "rules", TESTS.name], cwd=TESTS.parent, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout
