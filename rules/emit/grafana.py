"""Grafana outputs: one dashboard per component (panels from the alerts' and recording rules'
``dashboard:``), and the datasource and dashboard-provider provisioning files."""

from __future__ import annotations

from typing import Any

from .. import components, model
from ..api import Compiled, Options
from ..durations import fmt_ms
from .common import dump_yaml, header, runbook_url

DATASOURCE_UID = "gpuwatch-prometheus"


def datasource_variable() -> dict[str, Any]:
    """The dashboards' "Data source" template variable (Prometheus data sources)."""
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {"text": "Prometheus", "value": DATASOURCE_UID},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
        "includeAll": False,
        "multi": False,
    }


SEVERITY_COLOR = {"critical": "red", "warning": "orange", "info": "blue"}


def _ds() -> dict[str, str]:
    return {"type": "prometheus", "uid": "${datasource}"}


def _panel(
    pid: int,
    x: int,
    y: int,
    title: str,
    expr: str,
    unit: str,
    legend: str | None,
    threshold: tuple[str, str, float] | None,
    description: str = "",
    kind: str = "timeseries",
) -> dict[str, Any]:
    """A panel; ``threshold`` = (colour, comparison, value) draws the alert's threshold line:
    above it coloured for ``>``/``>=``, below it for ``<``/``<=``, just the line for ``==``/``!=``."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    custom: dict[str, Any] = {}
    if threshold is not None:
        color, op, value = threshold
        if op in ("<", "<="):
            steps = [{"color": color, "value": None}, {"color": "green", "value": value}]
        else:
            steps.append({"color": color, "value": value})
        mode = "line" if op in ("==", "!=") else "line+area"
        custom = {"thresholdsStyle": {"mode": mode if kind == "timeseries" else "off"}}
    panel: dict[str, Any] = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _ds(),
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {
            "defaults": {"unit": unit, "custom": custom, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
        if kind == "timeseries"
        else {},
        "targets": [{"datasource": _ds(), "expr": expr, "legendFormat": legend or "__auto", "refId": "A"}],
    }
    return panel


def _alerts_table(pid: int, y: int, component: str | None) -> dict[str, Any]:
    sel = (
        f'ALERTS{{alertstate="firing", component="{component}"}}'
        if component
        else 'ALERTS{alertstate="firing"}'
    )
    p = _panel(
        pid,
        0,
        y,
        "Firing alerts" + (f" ({component})" if component else ""),
        sel,
        "short",
        None,
        None,
        "Alerts firing now (Prometheus' ALERTS series).",
        kind="table",
    )
    p["gridPos"] = {"h": 8, "w": 24, "x": 0, "y": y}
    p["targets"][0].update({"format": "table", "instant": True})
    p["options"] = {"showHeader": True}
    p["transformations"] = [
        {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}}}
    ]
    return p


def dashboard(c: Compiled, comp: components.Component) -> dict[str, Any]:
    component, uid, title, description = (
        comp.name,
        comp.dashboard_uid,
        comp.dashboard_title,
        comp.dashboard_description,
    )
    panels: list[dict[str, Any]] = []
    pid, y = 1, 0
    srcs: list[str] = []
    if component == "meta":
        stat = _panel(
            pid,
            0,
            0,
            "Firing alerts by severity",
            'count by (severity) (ALERTS{alertstate="firing", alertname!="Watchdog"})',
            "short",
            "{{severity}}",
            None,
            "Count of firing alerts per severity (Watchdog excluded).",
            kind="stat",
        )
        stat["gridPos"] = {"h": 6, "w": 24, "x": 0, "y": 0}
        panels.append(stat)
        pid, y = pid + 1, 6
        panels.append(_alerts_table(pid, y, None))
        pid, y = pid + 1, y + 8
        hist = _panel(
            pid,
            0,
            y,
            "Firing alerts over time",
            'count by (alertname) (ALERTS{alertstate="firing"})',
            "short",
            "{{alertname}}",
            None,
            "Which alerts fired when.",
        )
        hist["gridPos"] = {"h": 8, "w": 24, "x": 0, "y": y}
        panels.append(hist)
        pid, y = pid + 1, y + 8
    else:
        panels.append(_alerts_table(pid, y, component))
        pid, y = pid + 1, y + 8
    col = 0
    items: list[tuple[model.Rule, str]] = []
    for g in c.groups:
        for r in g.recording:
            if r.dashboard and (g.component or components.META.name) == component:
                items.append((r, g.file))
        for a in g.alerts:
            if a.dashboard and (a.component or components.META.name) == component:  # none: the overview
                items.append((a, g.file))
    seen_titles: set[str] = set()
    for rule, file in items:
        d = rule.dashboard
        assert d is not None
        if d.title in seen_titles:
            continue  # tiers of one alert share their panel
        seen_titles.add(d.title)
        srcs.append(file)
        res = c.analyses.get(id(rule))
        thr = res.threshold if res is not None else None
        if isinstance(rule, model.Alert):
            query = d.query or (thr[0] if thr else rule.expr.strip())
            lines = None
            if thr is not None:
                lines = (SEVERITY_COLOR.get(rule.severity, "red"), thr[1], thr[2])
            desc = (
                f"Alert {rule.name} ({rule.severity}): {thr[0]} {thr[1]} {_num(thr[2])}"
                if thr
                else f"Alert {rule.name} ({rule.severity})"
            )
            if rule.for_ms:
                desc += f" for {fmt_ms(rule.for_ms)}"
            url = runbook_url(c, rule)
            desc += f". Runbook: {url}" if url else "."
        else:
            assert isinstance(rule, model.Recording)
            query = d.query or rule.record
            lines, desc = None, f"Recording rule {rule.record}."
        panels.append(_panel(pid, col * 12, y, d.title, query, d.unit, d.legend, lines, desc))
        pid += 1
        col = 1 - col
        if col == 0:
            y += 8
    gen = header(srcs or ["rules"]).splitlines()[0].lstrip("# ")
    return {
        "__comment": gen,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": f"{description} {gen}",
        "editable": False,
        "graphTooltip": 1,
        "links": [],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["gpuwatch", component],
        "templating": {"list": [datasource_variable()]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": f"gpuwatch / {title}",
        "uid": uid,
        "version": 1,
    }


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(v)


def provisioning(opts: Options) -> dict[str, str]:
    hdr = header(["gpuwatch-rules compile options"])
    ds = {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": DATASOURCE_UID,
                "type": "prometheus",
                "access": "proxy",
                "url": opts.datasource_url,
                "isDefault": True,
                "editable": False,
                "jsonData": {"timeInterval": "15s"},
            }
        ],
    }
    dash = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "gpuwatch",
                "folder": "gpuwatch",
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": opts.dashboards_path, "foldersFromFilesStructure": False},
            }
        ],
    }
    return {
        "provisioning/datasources/gpuwatch.yml": hdr + dump_yaml(ds),
        "provisioning/dashboards/gpuwatch.yml": hdr + dump_yaml(dash),
    }
