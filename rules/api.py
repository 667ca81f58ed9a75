"""What the compiler takes (:class:`Options`) and what it gives back (:class:`Compiled`).

Kept apart from the stages so that the loader, the checks and the emitters can all name these
types without importing one another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import model, notifications, promql
from .errors import Problem


@dataclass
class Options:
    srcs: list[str] = field(default_factory=list)
    scrape_interval_ms: int | None = None
    alertmanager_version: tuple[int, int] = (0, 33)  # the Alertmanager compose/ pins
    notifications: str | None = None
    overlay: str | None = None
    secrets_dir: str | None = None
    runbook_url: str | None = None
    datasource_url: str = "http://prometheus:9090"
    dashboards_path: str = "/var/lib/grafana/dashboards"
    env: dict[str, str] | None = None
    strict: bool = False  # warnings stop the compile like errors
    catalogs: list[str] = field(default_factory=list)  # --catalog files (besides pack.yml's)
    default_catalogs: bool = True  # the shipped node_exporter/Prometheus/Alertmanager catalogs


@dataclass
class Compiled:
    groups: list[model.Group]
    alerts: list[model.Alert]
    recordings: list[model.Recording]
    analyses: dict[int, promql.Analysis]
    notifications: notifications.Notifications
    notifications_src: str
    scrape_interval_ms: int
    files: dict[tuple[str, str], str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    dropped_tests: list[str] = field(default_factory=list)
    # the notifications source on disk (``check`` maps amtool's complaints back to it)
    notifications_path: str = ""
    runbook_base: str = ""
    threshold_files: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        n_tests = sum(len(a.tests) for a in self.alerts)
        names = {a.name for a in self.alerts}
        n_dash = sum(1 for root, _ in self.files if root == "grafana" and _.startswith("dashboards/"))
        return ", ".join(
            [
                _n(len(self.groups), "rule group"),
                f"{_n(len(names), 'alert')} ({_n(len(self.alerts), 'rule')})",
                _n(len(self.recordings), "recording rule"),
                _n(n_tests, "promtool test"),
                _n(len(self.notifications.receivers), "receiver"),
                _n(n_dash, "dashboard"),
            ]
        )


def _n(k: int, what: str) -> str:
    return f"{k} {what}{'' if k == 1 else 's'}"
