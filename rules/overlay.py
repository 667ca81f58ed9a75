"""Overlays: per-deployment overrides of ``for:``, thresholds, evaluation and notification timing.

```yaml
scrape_interval: 1s          # default for --scrape-interval
evaluation_interval: 1s      # every group's interval
thresholds: {gpu_temperature_celsius: 80}
alerts:
  GpuTemperatureHigh: {for: 3s}
groups:
  gpu: {interval: 2s}
route: {group_wait: 1s, group_interval: 2s, repeat_interval: 1m}
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .durations import BadDuration, fmt_ms, parse_ms
from .errors import Problems
from .yamlsrc import Map, Pos

TOP = ("scrape_interval", "evaluation_interval", "thresholds", "alerts", "groups", "route")
ROUTE = ("group_wait", "group_interval", "repeat_interval")


@dataclass
class Overlay:
    file: str
    scrape_interval_ms: int | None = None
    evaluation_interval_ms: int | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    threshold_pos: dict[str, Pos] = field(default_factory=dict)
    alert_for: dict[str, int] = field(default_factory=dict)
    alert_pos: dict[str, Pos] = field(default_factory=dict)
    group_interval: dict[str, int] = field(default_factory=dict)
    group_pos: dict[str, Pos] = field(default_factory=dict)
    route: dict[str, str] = field(default_factory=dict)


def _dur(p: Problems, file: str, m: Map, key: str, what: str, positive: bool = True) -> int | None:
    try:
        ms = parse_ms(m[key])
    except BadDuration as exc:
        p.add(file, m.where(key), f"{what}: {exc}")
        return None
    if positive and ms <= 0:
        p.add(file, m.where(key), f"{what} must be above zero")
        return None
    return ms


def _map(p: Problems, file: str, parent: Map, key: str) -> Map | None:
    v = parent[key]
    if not isinstance(v, Map):
        p.add(file, parent.where(key), f"overlay {key!r} must be a mapping")
        return None
    return v


def parse(doc: Any, file: str, p: Problems) -> Overlay:
    ov = Overlay(file)
    if doc is None:
        return ov
    if not isinstance(doc, Map):
        p.add(file, getattr(doc, "pos", None), "an overlay must be a mapping")
        return ov
    for k in doc:
        if k not in TOP:
            p.add(file, doc.where_key(k), f"unknown field {k!r} in overlay; allowed: {', '.join(TOP)}")
    if "scrape_interval" in doc:
        ov.scrape_interval_ms = _dur(p, file, doc, "scrape_interval", "overlay scrape_interval")
    if "evaluation_interval" in doc:
        ov.evaluation_interval_ms = _dur(p, file, doc, "evaluation_interval", "overlay evaluation_interval")
    if "thresholds" in doc and (t := _map(p, file, doc, "thresholds")) is not None:
        for k, v in t.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                p.add(file, t.where(k), f"threshold {k!r} must be a number or a duration")
                continue
            ov.thresholds[k] = v
            ov.threshold_pos[k] = t.where_key(k)
    if "alerts" in doc and (a := _map(p, file, doc, "alerts")) is not None:
        for name, spec in a.items():
            ov.alert_pos[name] = a.where_key(name)
            if not isinstance(spec, Map):
                p.add(file, a.where(name), f"overlay for alert {name!r} must be a mapping like {{for: 5s}}")
                continue
            for k in spec:
                if k != "for":
                    p.add(
                        file,
                        spec.where_key(k),
                        f"unknown field {k!r} in overlay for {name!r}; allowed: for "
                        "(thresholds go under 'thresholds')",
                    )
            if "for" in spec:
                ms = _dur(p, file, spec, "for", f"overlay for {name!r}", positive=False)
                if ms is not None:
                    ov.alert_for[name] = ms
    if "groups" in doc and (g := _map(p, file, doc, "groups")) is not None:
        for name, spec in g.items():
            ov.group_pos[name] = g.where_key(name)
            if not isinstance(spec, Map) or set(spec) - {"interval"}:
                p.add(file, g.where(name), f"overlay for group {name!r} must be {{interval: DURATION}}")
                continue
            if "interval" in spec and (
                ms := _dur(p, file, spec, "interval", f"overlay interval of {name!r}")
            ):
                ov.group_interval[name] = ms
    if "route" in doc and (r := _map(p, file, doc, "route")) is not None:
        for k in r:
            if k not in ROUTE:
                p.add(
                    file, r.where_key(k), f"unknown field {k!r} in overlay route; allowed: {', '.join(ROUTE)}"
                )
            else:
                ms = _dur(p, file, r, k, f"overlay route {k}", positive=(k != "group_wait"))
                if ms is not None:
                    ov.route[k] = fmt_ms(ms)
    return ov
