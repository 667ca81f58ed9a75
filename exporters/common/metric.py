"""Metric declarations and the one family type both exporters build each collection.

:class:`MetricDef` declares one metric (name, type, one-sentence HELP, labels, and the longer
``doc`` that goes to ``docs/metrics.md``). :class:`MetricFamily` holds one collection's samples of
one declared metric; :class:`Families` builds families by metric name for a collector that adds
samples of several metrics. Both are written by :func:`gpuwatch.exporters.common.exposition.render_text`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

TYPES = ("gauge", "counter", "info", "histogram", "summary")

Labels = Sequence[str]


@dataclass(frozen=True)
class MetricDef:
    """One metric as PromQL sees it.

    ``name`` is the series name in queries: counters end in ``_total``; an ``info`` metric ends
    in ``_info`` and is a gauge of value 1. ``labels`` are the labels the exporter sets.
    ``help`` is the one sentence sent as ``# HELP`` on every scrape; ``doc`` the detail
    (value meaning, label values, caveats) for the generated reference page, docs/metrics.md.
    """

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()
    collector: str = ""  # the collector that exports it; "" for the exporter's own series
    doc: str = ""

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


def index(defs: Iterable[MetricDef]) -> dict[str, MetricDef]:
    """Declarations by name, in declaration order; a name declared twice is an error."""
    out: dict[str, MetricDef] = {}
    for d in defs:
        if d.name in out:
            raise ValueError(f"metric {d.name} declared twice")
        out[d.name] = d
    return out


class MetricFamily:
    """One collection's samples of a declared metric: rows of (label values, value).

    Label values are given in the order of ``definition.labels``. ``text`` holds sample lines
    already formatted (by :func:`~gpuwatch.exporters.common.exposition.sample_lines`, e.g. in a
    GPU's reader thread); they are written after ``rows``. Built fresh every collection, like
    client_python's ``GaugeMetricFamily``, but without a dict and a tuple per sample: a
    5,000-node cluster yields ~60,000 samples per cycle.
    """

    __slots__ = ("definition", "rows", "text")

    def __init__(self, definition: MetricDef) -> None:
        self.definition = definition
        self.rows: list[tuple[Labels, float]] = []
        self.text: list[str] = []

    @property
    def name(self) -> str:
        return self.definition.name

    def add_metric(self, labels: Labels, value: float) -> None:
        self.rows.append((labels, value))

    def __bool__(self) -> bool:
        return bool(self.rows or self.text)

    def to_prometheus(self):
        """The equivalent client_python family (for comparisons in tests; not on the hot path)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        d = self.definition
        fam: CounterMetricFamily | GaugeMetricFamily
        if d.type == "counter":
            fam = CounterMetricFamily(d.family, d.help, labels=list(d.labels))
        else:
            fam = GaugeMetricFamily(d.name, d.help, labels=list(d.labels))
        for labels, value in self.rows:
            fam.add_metric(list(labels), value)
        return fam


class Families:
    """Families of one collection, created on first use, by metric name.

    ``add(name, labels, value)`` adds a sample; iteration yields the non-empty families in
    declaration order (the order of ``defs``), which is the order they are exposed in.
    """

    __slots__ = ("defs", "by_name")

    def __init__(self, defs: Mapping[str, MetricDef]) -> None:
        self.defs = defs
        self.by_name: dict[str, MetricFamily] = {}

    def family(self, name: str) -> MetricFamily:
        fam = self.by_name.get(name)
        if fam is None:
            fam = self.by_name[name] = MetricFamily(self.defs[name])
        return fam

    def add(self, name: str, labels: Labels, value: float) -> None:
        fam = self.by_name.get(name)
        if fam is None:
            fam = self.by_name[name] = MetricFamily(self.defs[name])
        fam.rows.append((labels, value))

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __iter__(self) -> Iterator[MetricFamily]:
        by_name = self.by_name
        return iter([by_name[n] for n in self.defs if n in by_name and by_name[n]])
