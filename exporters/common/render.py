"""Render metric families to the Prometheus text format."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry


class _Fixed(Collector):
    def __init__(self, families: Iterable[Metric]):
        self._families = list(families)

    def collect(self):
        return iter(self._families)


def render_families(families: Iterable[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry)
