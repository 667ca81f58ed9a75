"""Building PromQL safely: string literals, regex alternations and several instant queries
answered in one request (each tagged with a ``stat`` label)."""

from __future__ import annotations

import re
from collections.abc import Iterable

JOB_INFO = "gpuwatch_gpu_job_info"
# the GPU exporter's own price (--gpu.hourly-cost-usd), per target and price label; preferred to
# the hourly_cost_usd label where exported (as the pack's cost recording rules do)
NODE_PRICE = "gpuwatch_node_hourly_cost_usd"
NODE_PRICE_BY = "avg by (instance, hourly_cost_usd)"
STAT = "__jobstats_stat"  # label naming which part of a combined query a sample answers


def quote(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def alternation(values: Iterable[str]) -> str:
    """A regex matcher value (quoted) matching exactly these strings."""
    return quote("|".join(re.escape(v) for v in sorted(set(values))))


def combined(parts: Iterable[tuple[str, str]]) -> str:
    """``label_replace(EXPR, STAT, NAME, "", "") or ...``: one request, samples told apart by STAT.

    Every part must return series whose labels (other than STAT) are distinct within the part.
    """
    return " or ".join(f'label_replace({expr}, "{STAT}", "{name}", "", "")' for name, expr in parts)


def split(result: list[dict]) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples of a :func:`combined` answer by part name: ``{name: [(labels, value)]}``."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for item in result:
        labels = dict(item.get("metric") or {})
        name = labels.pop(STAT, "")
        value = float(item["value"][1])
        out.setdefault(name, []).append((labels, value))
    return out
