"""The emitters: one module per output. :func:`render_all` gives every output file's text keyed by
(root, relative path). Pure functions of the compiled pack: the same sources give byte-identical
files."""

from __future__ import annotations

import json

from .. import components
from ..api import Compiled, Options
from ..errors import Problems
from . import alertmanager, grafana, grafana_jobs, prometheus
from .common import GRAFANA, OUT


def render_all(c: Compiled, opts: Options, p: Problems) -> dict[tuple[str, str], str]:
    files: dict[tuple[str, str], str] = {}
    rule_names = [f"{g.name}.yml" for g in c.groups]
    for g in c.groups:
        files[(OUT, f"prometheus/rules/{g.name}.yml")] = prometheus.rule_file(c, g)
    for g in c.groups:
        t = prometheus.test_file(c, g, [f"../rules/{n}" for n in rule_names], p)
        if t is not None:
            files[(OUT, f"prometheus/tests/{g.name}_test.yml")] = t
    files[(OUT, "alertmanager/alertmanager.yml")] = alertmanager.alertmanager_file(c)
    for comp in components.ALL:
        files[(GRAFANA, f"dashboards/{comp.dashboard_file}")] = (
            json.dumps(grafana.dashboard(c, comp), indent=2) + "\n"
        )
    if grafana_jobs.wanted(c):
        files[(GRAFANA, f"dashboards/{grafana_jobs.FILE}")] = (
            json.dumps(grafana_jobs.dashboard(c), indent=2) + "\n"
        )
    for rel, text in grafana.provisioning(opts).items():
        files[(GRAFANA, rel)] = text
    return files
