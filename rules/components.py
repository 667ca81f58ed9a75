"""Components (gpu, slurm, meta) and the labels Prometheus' scrape config adds: one place.

A component is a part of the stack an alert is about; it becomes the alert's ``component``
label (routing and inhibition match on it) and picks the Grafana dashboard its panel goes to.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    # series name prefixes that belong to this component (for target labels)
    prefixes: tuple[str, ...]
    # labels Prometheus' scrape config puts on every series of this component's targets
    target_labels: frozenset[str]
    dashboard_uid: str
    dashboard_file: str
    dashboard_title: str
    dashboard_description: str


# Labels every scrape job carries (see compose/prometheus/prometheus.yml and the Ansible file_sd).
TARGET_LABELS = frozenset({"instance", "job"})
# GPU exporter targets also carry node/pod/role from file_sd.
GPU_TARGET_LABELS = frozenset({"instance", "job", "node", "pod", "role"})

GPU = Component(
    "gpu",
    ("gpuwatch_gpu_", "gpuwatch_nvml_"),
    GPU_TARGET_LABELS,
    "gpuwatch-gpu-fleet",
    "gpu-fleet.json",
    "GPU fleet",
    "GPU health, temperature, errors and use across all nodes.",
)
SLURM = Component(
    "slurm",
    ("gpuwatch_slurm_",),
    TARGET_LABELS,
    "gpuwatch-slurm-cluster",
    "slurm-cluster.json",
    "Slurm cluster",
    "Slurm node states, queue and job outcomes.",
)
META = Component(
    "meta",
    (),
    TARGET_LABELS,
    "gpuwatch-alerts",
    "alerts-overview.json",
    "Alerts overview",
    "What is firing now, and the monitoring stack's own health.",
)

ALL = (GPU, SLURM, META)
# every label the stack's scrape configs put on a target (what another exporter's series may carry)
ALL_TARGET_LABELS = frozenset().union(*(c.target_labels for c in ALL))
NAMES = tuple(c.name for c in ALL)
BY_NAME = {c.name: c for c in ALL}


def target_labels(series: str) -> frozenset[str]:
    """The scrape-target labels a series of this name carries."""
    for c in ALL:
        if c.prefixes and series.startswith(c.prefixes):
            return c.target_labels
    return TARGET_LABELS


def of_metric(series: str) -> str | None:
    """The component a series belongs to: gpuwatch's GPU or Slurm exporter, or the monitoring stack
    itself (Prometheus' and Alertmanager's own metrics, ``up``, ``scrape_*``, ``ALERTS``)."""
    for c in (GPU, SLURM):
        if series.startswith(c.prefixes):
            return c.name
    if series in META_NAMES or series.startswith(META_PREFIXES):
        return META.name
    return None


META_NAMES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
META_PREFIXES = ("prometheus_", "alertmanager_", "scrape_")


def infer(metrics: list[str]) -> str | None:
    """The component of an expression that reads only metrics of one component; else None."""
    found = {of_metric(m) for m in metrics}
    if len(found) == 1:
        only = found.pop()
        return only
    return None
