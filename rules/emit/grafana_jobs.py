"""The "Jobs" Grafana dashboard, built on the pack's job recording rules (rules/pack/jobs.yml):
a ``job_id`` variable from ``gpuwatch_gpu_job_info``, the job's GPUs' utilisation, memory, power
and XIDs, and per-user tables of GPU-hours, idle GPU-hours and cost over the dashboard's range.

Written only when the compiled pack records the series it reads (a custom pack without them gets
no dashboard that would stay empty). GPU-hours over a range are the mean number of GPUs held,
no-job time counted as 0 (``sum_over_time(X[$__range]) / count_over_time(evaluations[$__range])``),
times the range in hours, whatever the rules' evaluation interval. Cost: the cost table sums the
recorded cost per hour (``gpuwatch:user_cost:usd_per_hour``, from the exporters' own
``gpuwatch_node_hourly_cost_usd``) the same way, in PromQL. Targets whose exporter does not export
its price (history from before, or no ``--gpu.hourly-cost-usd``) are only in the second cost
table: PromQL cannot read their ``hourly_cost_usd`` label as a number, so its query gives GPU-hours
in target shares per price and Grafana multiplies by the price label and sums per user
(transformations).
"""

from __future__ import annotations

from typing import Any

from ..api import Compiled
from .common import header
from .grafana import _panel, datasource_variable

UID = "gpuwatch-jobs"
FILE = "jobs.json"
NEEDS = (
    "gpuwatch:job_gpu_utilization:ratio",
    "gpuwatch:job_gpu_power:watts",
    "gpuwatch:user_gpus:count",
    "gpuwatch:user_idle_gpus:count",
    "gpuwatch:user_target_share:ratio",
    "gpuwatch:user_cost:usd_per_hour",
    "gpuwatch:job_rule_evaluations:count",
)
JOB = 'job_id=~"$job_id"'
HELD = f"max by (instance, uuid) (gpuwatch_gpu_job_info{{{JOB}}})"
EVALS = "scalar(count_over_time(gpuwatch:job_rule_evaluations:count[$__range]))"


def wanted(c: Compiled) -> bool:
    recorded = {r.record for g in c.groups for r in g.recording}
    return all(n in recorded for n in NEEDS)


def _hours(series: str, by: str = "user") -> str:
    """GPU-hours over the dashboard range from a 'GPUs held now' recording."""
    return f"sum by ({by}) (sum_over_time({series}[$__range])) / {EVALS} * $__range_s / 3600"


def _table(pid: int, x: int, y: int, title: str, expr: str, description: str) -> dict[str, Any]:
    p = _panel(pid, x, y, title, expr, "short", None, None, description, kind="table")
    p["targets"][0].update({"format": "table", "instant": True})
    p["fieldConfig"]["defaults"]["decimals"] = 2
    p["options"] = {"showHeader": True, "sortBy": [{"displayName": "Value", "desc": True}]}
    return p


def dashboard(c: Compiled) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    series = [
        (
            "GPU utilization of the job's GPUs",
            f"gpuwatch:job_gpu_utilization:ratio{{{JOB}}}",
            "percentunit",
            "Utilization of each GPU while the job held it (recording rule gpuwatch:job_gpu_utilization:ratio).",
        ),
        (
            "GPU memory used by the job's GPUs",
            f"gpuwatch_gpu_memory_used_bytes * on (instance, uuid) group_left () {HELD}",
            "bytes",
            "Framebuffer memory used on each of the job's GPUs.",
        ),
        (
            "Power of the job's GPUs",
            f"gpuwatch:job_gpu_power:watts{{{JOB}}}",
            "watt",
            "Power draw of each GPU while the job held it (recording rule gpuwatch:job_gpu_power:watts).",
        ),
        (
            "XID events on the job's GPUs (per 5 min)",
            f"increase(gpuwatch_gpu_xid_events_total[5m]) * on (instance, uuid) group_left () {HELD}",
            "short",
            "XID events (driver-reported GPU errors) on the job's GPUs; see the GpuXidError runbook.",
        ),
    ]
    pid, y = 1, 0
    for i, (title, expr, unit, desc) in enumerate(series):
        panels.append(_panel(pid, (i % 2) * 12, y, title, expr, unit, "{{node}} GPU {{gpu}}", None, desc))
        pid += 1
        if i % 2:
            y += 8
    panels.append(
        _table(
            pid,
            0,
            y,
            "Idle GPU-hours per user (top 10, dashboard range)",
            f"topk(10, {_hours('gpuwatch:user_idle_gpus:count')})",
            "GPU-hours jobs held GPUs whose utilization was under the idle threshold.",
        )
    )
    pid += 1
    panels.append(
        _table(
            pid,
            12,
            y,
            "GPU-hours per user (top 10, dashboard range)",
            f"topk(10, {_hours('gpuwatch:user_gpus:count')})",
            "GPU-hours held by each user's jobs.",
        )
    )
    pid, y = pid + 1, y + 8
    recorded = _table(
        pid,
        0,
        y,
        "Cost per user (USD, top 10, dashboard range)",
        f"topk(10, {_hours('gpuwatch:user_cost:usd_per_hour')})",
        "Each GPU-hour at its node's price (gpuwatch_node_hourly_cost_usd, the GPU exporter's "
        "--gpu.hourly-cost-usd) divided by the node's GPUs (recording rule gpuwatch:user_cost:usd_per_hour). "
        "Nodes whose exporter does not export its price are only in the table by price label.",
    )
    recorded["fieldConfig"]["defaults"]["unit"] = "currencyUSD"
    panels.append(recorded)
    pid += 1
    cost = _table(
        pid,
        12,
        y,
        "Cost per user by price label (USD, dashboard range)",
        _hours("gpuwatch:user_target_share:ratio", by="user, hourly_cost_usd"),
        "From the targets' hourly_cost_usd label, for every node, those whose exporter does not export "
        "its price included (history from before): each GPU-hour at the label's price divided by the "
        "pod's GPUs; target-share hours per price times the price, summed per user (transformations).",
    )
    cost["transformations"] = [
        {"id": "labelsToFields", "options": {}},
        {
            "id": "convertFieldType",
            "options": {"conversions": [{"targetField": "hourly_cost_usd", "destinationType": "number"}]},
        },
        {
            "id": "calculateField",
            "options": {
                "alias": "cost_usd",
                "mode": "binary",
                "binary": {"left": "Value", "operator": "*", "right": "hourly_cost_usd"},
            },
        },
        {
            "id": "groupBy",
            "options": {
                "fields": {
                    "user": {"aggregations": [], "operation": "groupby"},
                    "cost_usd": {"aggregations": ["sum"], "operation": "aggregate"},
                }
            },
        },
        {"id": "sortBy", "options": {"sort": [{"field": "cost_usd (sum)", "desc": True}]}},
    ]
    cost["fieldConfig"]["defaults"]["unit"] = "currencyUSD"
    panels.append(cost)

    gen = header(["rules/pack/jobs.yml"]).splitlines()[0].lstrip("# ")
    return {
        "__comment": gen,
        "annotations": {"list": []},
        "description": f"GPU use and cost per Slurm job and per user (gpuwatch-jobstats' recording rules). {gen}",
        "editable": False,
        "graphTooltip": 1,
        "links": [],
        "panels": panels,
        "refresh": "1m",
        "schemaVersion": 39,
        "tags": ["gpuwatch", "jobs"],
        "templating": {
            "list": [
                datasource_variable(),
                {
                    "name": "job_id",
                    "label": "Slurm job",
                    "type": "query",
                    "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    "query": {"query": "label_values(gpuwatch_gpu_job_info, job_id)", "refId": "job_id"},
                    "definition": "label_values(gpuwatch_gpu_job_info, job_id)",
                    "refresh": 2,
                    "sort": 3,
                    "hide": 0,
                    "includeAll": False,
                    "multi": False,
                    "options": [],
                    "current": {},
                },
            ]
        },
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": "gpuwatch / Jobs",
        "uid": UID,
        "version": 1,
    }
