"""What the compiler knows about metric names: gpuwatch's own exporters (authoritative), and
catalogs of other exporters' metrics (name, type, labels).

A catalog file is either

* simple YAML::

      description: node_exporter 1.8, common collectors   # optional
      target_labels: [instance, job, cluster]             # optional; labels your scrape config adds
                                                          # (instance, job, node, pod, role always)
      metrics:
        - name: node_filesystem_avail_bytes
          type: gauge                                     # counter, gauge, histogram, summary, info, ...
          labels: [device, fstype, mountpoint]            # optional; omitted: not checked
          help: Filesystem space available to non-root users in bytes.   # optional

* or the JSON of Prometheus' ``/api/v1/metadata`` (``curl -s http://prometheus:9090/api/v1/metadata
  > node.json``), which has types but no labels: label checks then do not apply.

The shipped catalogs (this folder: node_exporter, Prometheus, Alertmanager) are used unless
``--no-default-catalogs``. ``gpuwatch_*`` names always come from gpuwatch's exporters: an entry for
one in another catalog is ignored, so a typo in our own namespace stays an error.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...exporters import catalog as exporter_catalog
from .. import components
from ..errors import Problems, RulesError
from ..yamlsrc import Map, Seq, load

HERE = Path(__file__).resolve().parent
DEFAULT_FILES = ("node_exporter.yml", "prometheus.yml", "alertmanager.yml")
GPUWATCH = "gpuwatch"
GPUWATCH_PREFIX = "gpuwatch_"
TYPES = (
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
    "untyped",
)
FILE_KEYS = ("description", "target_labels", "metrics")
METRIC_KEYS = ("name", "type", "labels", "help", "unit")
# Series Prometheus' rule manager writes itself, whatever it scrapes.
BUILTIN = ("ALERTS", "ALERTS_FOR_STATE")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: frozenset[str] | None  # None: the catalog does not say (label checks do not apply)
    source: str  # GPUWATCH, or the catalog file that declares it
    target_labels: frozenset[str] = components.TARGET_LABELS

    @property
    def is_gpuwatch(self) -> bool:
        return self.source == GPUWATCH


class Catalog:
    """Metric names by series name; :meth:`lookup` also resolves ``_bucket``/``_sum``/``_count``
    of histograms and summaries and the ``_total``/``_info`` forms of OpenMetrics families."""

    def __init__(self, metrics: Iterable[Metric] = (), site_labels: frozenset[str] = frozenset()) -> None:
        self.metrics: dict[str, Metric] = {}
        # labels the site's scrape configs add to every target (pack.yml 'target_labels'): any
        # series, gpuwatch's included, may carry them
        self.site_labels = site_labels
        for m in metrics:
            self.add(m)

    def add(self, m: Metric) -> None:
        if m.name.startswith(GPUWATCH_PREFIX) and not m.is_gpuwatch:
            return  # gpuwatch's exporters are the only authority on gpuwatch_* (see module doc)
        self.metrics.setdefault(m.name, m)

    def __contains__(self, name: str) -> bool:
        return self.lookup(name) is not None

    def lookup(self, series: str) -> Metric | None:
        m = self.metrics.get(series)
        if m is not None:
            return m
        for suffix in ("_bucket", "_sum", "_count"):
            if series.endswith(suffix):
                base = self.metrics.get(series[: -len(suffix)])
                if base is not None and base.type in ("histogram", "summary", "gaugehistogram"):
                    if suffix == "_bucket" and base.type == "summary":
                        continue
                    return base
        for suffix, kind in (("_total", "counter"), ("_info", "info")):
            if series.endswith(suffix):
                base = self.metrics.get(series[: -len(suffix)])
                if base is not None and base.type == kind and not base.is_gpuwatch:
                    return base
        return None


def gpuwatch_metrics() -> list[Metric]:
    return [
        Metric(d.name, d.type, frozenset(d.labels), GPUWATCH, components.target_labels(d.name))
        for d in exporter_catalog.all_metrics().values()
    ]


def builtin_metrics() -> list[Metric]:
    return [Metric(n, "gauge", None, "Prometheus", components.ALL_TARGET_LABELS) for n in BUILTIN]


def default_paths() -> list[Path]:
    return [HERE / f for f in DEFAULT_FILES]


def build(files: Iterable[tuple[Path, str]], p: Problems, site_labels: Iterable[str] = ()) -> Catalog:
    """gpuwatch's metrics, Prometheus' built-in series, then each (path, display name) in order
    (the first catalog that declares a name wins)."""
    cat = Catalog([*gpuwatch_metrics(), *builtin_metrics()], frozenset(site_labels))
    for path, display in files:
        for m in load_file(path, display, p):
            cat.add(m)
    return cat


def load_file(path: Path, display: str, p: Problems) -> list[Metric]:
    if path.parent == HERE and path.name in DEFAULT_FILES:
        return _shipped(path, display)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read catalog: {exc}", display) from None
    if path.suffix == ".json" or text.lstrip().startswith("{"):
        return _from_metadata_json(text, display, p)
    return _from_yaml(path, display, p)


def _from_metadata_json(text: str, display: str, p: Problems) -> list[Metric]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RulesError(f"JSON syntax: {exc.msg}", display, exc.lineno, exc.colno) from None
    if isinstance(doc, dict) and "data" in doc and isinstance(doc.get("status"), str):
        if doc["status"] != "success":
            raise RulesError(f"the metadata answer says status {doc['status']!r}, not 'success'", display)
        doc = doc["data"]
    if not isinstance(doc, dict):
        raise RulesError(
            "not a Prometheus /api/v1/metadata answer: expected {metric name: [{type, help, unit}]}", display
        )
    out = []
    for name, entries in sorted(doc.items()):
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            p.add(display, None, f"metadata of {name!r} must be a list of {{type, help, unit}}")
            continue
        types = {str(e.get("type", "unknown")) for e in entries}
        kind = types.pop() if len(types) == 1 else "unknown"  # targets disagree: do not check the type
        if kind not in TYPES:
            p.add(display, None, f"metric {name!r} has unknown type {kind!r}; known: {', '.join(TYPES)}")
            continue
        out.append(Metric(name, kind, None, display, components.ALL_TARGET_LABELS))
    return out


@functools.cache
def _shipped(path: Path, display: str) -> list[Metric]:
    """The shipped catalogs, read without positions (3x faster; a test holds them to the checked
    loader below)."""
    try:
        loader: type = yaml.CSafeLoader
    except AttributeError:  # pragma: no cover
        loader = yaml.SafeLoader
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    target = frozenset(doc.get("target_labels", ())) | components.ALL_TARGET_LABELS
    return [
        Metric(m["name"], m["type"], frozenset(m["labels"]) if "labels" in m else None, display, target)
        for m in doc["metrics"]
    ]


def _from_yaml(path: Path, display: str, p: Problems) -> list[Metric]:
    doc = load(str(path), display)
    if not isinstance(doc, Map) or not isinstance(doc.get("metrics"), Seq):
        raise RulesError(
            "a catalog is a mapping with 'metrics:', a list of {name, type, labels}",
            display,
            *getattr(doc, "pos", (None, None)),
        )
    for k in doc:
        if k not in FILE_KEYS:
            p.add(
                display, doc.where_key(k), f"unknown field {k!r} in catalog; allowed: {', '.join(FILE_KEYS)}"
            )
    target = components.ALL_TARGET_LABELS
    if "target_labels" in doc:
        tl = doc["target_labels"]
        if isinstance(tl, Seq) and all(isinstance(x, str) for x in tl):
            target = frozenset(tl) | components.ALL_TARGET_LABELS
        else:
            p.add(display, doc.where("target_labels"), "'target_labels' must be a list of label names")
    out: list[Metric] = []
    seen: set[str] = set()
    items = doc["metrics"]
    for i, m in enumerate(items):
        pos = items.where(i)
        if not isinstance(m, Map):
            p.add(display, pos, "a catalog entry must be a mapping with name, type and labels")
            continue
        for k in m:
            if k not in METRIC_KEYS:
                p.add(
                    display,
                    m.where_key(k),
                    f"unknown field {k!r} in catalog entry; allowed: {', '.join(METRIC_KEYS)}",
                )
        name, kind = m.get("name"), m.get("type", "unknown")
        if not isinstance(name, str) or not name:
            p.add(display, m.where("name") if "name" in m else pos, "catalog entry needs a 'name'")
            continue
        if name in seen:
            p.add(display, m.where("name"), f"metric {name!r} is listed twice")
            continue
        seen.add(name)
        if kind not in TYPES:
            p.add(
                display,
                m.where("type"),
                f"metric {name!r}: type must be one of {', '.join(TYPES)}, not {kind!r}",
            )
            continue
        labels: frozenset[str] | None = None
        if "labels" in m:
            lv = m["labels"]
            if isinstance(lv, Seq) and all(isinstance(x, str) for x in lv):
                labels = frozenset(lv)
            else:
                p.add(display, m.where("labels"), f"metric {name!r}: 'labels' must be a list of label names")
        out.append(Metric(name, str(kind), labels, display, target))
    return out
