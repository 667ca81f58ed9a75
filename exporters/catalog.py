"""The one catalog of metric names that gpuwatch exports.

Each exporter declares its metrics in its own ``metrics`` module (``gpuwatch.exporters.slurm.metrics``,
``gpuwatch.exporters.gpu.metrics``) and its collectors build their families from those
declarations. The rule compiler reads this catalog to reject alert expressions that use a metric
nobody exports, so the two can never drift apart.
"""

from __future__ import annotations

import re

from .common.metric import MetricDef, index
from .gpu import metrics as gpu_metrics
from .slurm import metrics as slurm_metrics

# Series that Prometheus, Alertmanager and prometheus_client themselves produce.
EXTERNAL_NAMES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
EXTERNAL_PREFIXES = ("scrape_", "prometheus_", "alertmanager_", "process_", "python_", "promhttp_")


def all_metrics() -> dict[str, MetricDef]:
    """Every metric gpuwatch's exporters can export, by series name."""
    return index(list(slurm_metrics.METRICS) + list(gpu_metrics.METRICS))


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
