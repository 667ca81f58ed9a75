"""The one catalog of metric names that gpuwatch exports.

Each exporter declares its metrics in its own ``metrics`` module (``gpuwatch.exporters.slurm.metrics``,
``gpuwatch.exporters.gpu.metrics``) and its collectors build their families from those
declarations. The rule compiler reads this catalog to reject alert expressions that use a metric
nobody exports, so the two can never drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TYPES = ("gauge", "counter", "info", "histogram", "summary")


@dataclass(frozen=True)
class MetricDef:
    """One metric as PromQL sees it.

    ``name`` is the series name in queries: counters end in ``_total``; an ``info`` metric ends
    in ``_info`` and is a gauge of value 1. ``labels`` are the labels the exporter sets.
    """

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type}")
        if (self.type == "counter") != self.name.endswith("_total"):
            raise ValueError(f"{self.name}: only counters end in _total, and counters must")
        if self.type == "info" and not self.name.endswith("_info"):
            raise ValueError(f"{self.name}: info metrics end in _info")

    @property
    def family(self) -> str:
        """The family name prometheus_client wants (no ``_total`` / ``_info`` suffix)."""
        if self.type == "counter":
            return self.name[: -len("_total")]
        if self.type == "info":
            return self.name[: -len("_info")]
        return self.name

    @property
    def series_names(self) -> tuple[str, ...]:
        if self.type == "histogram":
            return (self.name + "_bucket", self.name + "_sum", self.name + "_count")
        if self.type == "summary":
            return (self.name, self.name + "_sum", self.name + "_count")
        return (self.name,)


# Series that Prometheus, Alertmanager and prometheus_client themselves produce.
EXTERNAL_NAMES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
EXTERNAL_PREFIXES = ("scrape_", "prometheus_", "alertmanager_", "process_", "python_", "promhttp_")


def index(defs: Iterable[MetricDef]) -> dict[str, MetricDef]:
    out: dict[str, MetricDef] = {}
    for d in defs:
        if d.name in out:
            raise ValueError(f"metric {d.name} declared twice")
        out[d.name] = d
    return out


def all_metrics() -> dict[str, MetricDef]:
    """Every metric gpuwatch's exporters can export, by series name (imports lazily)."""
    from .gpu import metrics as gpu
    from .slurm import metrics as slurm

    return index(list(slurm.METRICS) + list(gpu.METRICS))


def lookup(series: str) -> MetricDef | None:
    """The definition behind a series name, histogram/summary suffixes included."""
    metrics = all_metrics()
    if series in metrics:
        return metrics[series]
    for suffix in ("_bucket", "_sum", "_count"):
        base = series[: -len(suffix)] if series.endswith(suffix) else None
        if base and base in metrics and metrics[base].type in ("histogram", "summary"):
            return metrics[base]
    return None


def is_external(series: str) -> bool:
    return series in EXTERNAL_NAMES or series.startswith(EXTERNAL_PREFIXES)


_RECORDING = re.compile(r"^[a-zA-Z_]+:")


def is_recording_rule_name(series: str) -> bool:
    return bool(_RECORDING.match(series))
