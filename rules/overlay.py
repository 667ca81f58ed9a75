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
from typing import TYPE_CHECKING, Any

from .durations import BadDuration, fmt_ms, parse_ms
from .errors import Problems
from .yamlsrc import Map, Pos

if TYPE_CHECKING:
    from .model import Group

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


def _same_kind(base: Any, new: Any) -> str | None:
    """Why ``new`` cannot replace threshold ``base`` (a number by a number, a duration by a duration)."""

    def is_num(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if is_num(base):
        return None if is_num(new) else f"{new!r} is not a number"
    if isinstance(base, str):
        try:
            parse_ms(base)
        except BadDuration:
            return None  # free text (a regular expression, ...): anything goes
        try:
            parse_ms(new)
        except BadDuration as exc:
            return str(exc)
    return None


def apply_thresholds(ov: Overlay, thresholds: dict[str, Any], p: Problems) -> None:
    """The overlay's threshold overrides, before the rule files substitute them."""
    for k, v in ov.thresholds.items():
        if k not in thresholds:
            p.add(
                ov.file,
                ov.threshold_pos[k],
                f"overlay sets threshold {k!r}, which no thresholds file defines",
            )
        elif (why := _same_kind(thresholds[k], v)) is not None:
            p.add(
                ov.file,
                ov.threshold_pos[k],
                f"overlay threshold {k!r}: {why} (the thresholds file has {thresholds[k]!r})",
            )
        else:
            thresholds[k] = v


def apply(ov: Overlay, groups: list[Group], p: Problems) -> list[str]:
    """Stage 2 of the compiler: the overlay's per-alert ``for:`` and per-group intervals.

    Returns the alerts whose promtool tests are left out (the overlay changed their ``for:`` or
    thresholds, so the tests written for the defaults no longer hold)."""
    by_name: dict[str, list] = {}
    for grp in groups:
        for a in grp.alerts:
            by_name.setdefault(a.name, []).append(a)
    overridden: set[str] = set()
    for name, ms in ov.alert_for.items():
        if name not in by_name:
            p.add(ov.file, ov.alert_pos[name], f"overlay names alert {name!r}, which no rule file defines")
            continue
        for a in by_name[name]:
            a.for_ms = ms
        overridden.add(name)
    for name in ov.alert_pos:
        if name not in ov.alert_for and name not in by_name:
            p.add(ov.file, ov.alert_pos[name], f"overlay names alert {name!r}, which no rule file defines")
    gnames = {g.name for g in groups}
    for name in ov.group_interval:
        if name not in gnames:
            p.add(ov.file, ov.group_pos[name], f"overlay names group {name!r}, which no rule file defines")
    for grp in groups:
        if grp.name in ov.group_interval:
            grp.interval_ms = ov.group_interval[grp.name]
        elif ov.evaluation_interval_ms:
            grp.interval_ms = ov.evaluation_interval_ms
    changed_thresholds = set(ov.thresholds)
    dropped: list[str] = []
    for grp in groups:
        for a in grp.alerts:
            if a.tests and (a.name in overridden or a.thresholds_used & changed_thresholds):
                dropped.append(a.name)
                a.tests = []
    return sorted(set(dropped))
