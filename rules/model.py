"""The input format: one YAML file = one Prometheus rule group; plus the thresholds file.

``parse_group`` checks a loaded file against the schema (unknown, missing and badly typed fields,
durations, severities) and returns :class:`Group`; problems are collected, not raised one by one.
Thresholds (``%{name}`` in an expression, ``for:``, summary, description or dashboard query) are
substituted here, so every number the alerts and dashboards use lives in one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import components
from .durations import BadDuration, parse_ms
from .errors import Problems
from .yamlsrc import Map, Pos, Seq

SEVERITIES = ("critical", "warning", "info")
COMPONENTS = components.NAMES
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RECORD_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
THRESHOLD_REF = re.compile(r"%\{([^}]*)\}")
GROUP_KEYS = ("group", "interval", "limit", "component", "alerts", "recording")
ALERT_KEYS = (
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "severity",
    "component",
    "summary",
    "description",
    "runbook",
    "labels",
    "annotations",
    "dashboard",
    "tests",
    "always_fires",
)
RECORD_KEYS = ("record", "expr", "labels", "dashboard")
DASH_KEYS = ("title", "unit", "query", "legend")
TEST_KEYS = ("series", "interval", "fires_at", "not_at", "expect")
EXPECT_KEYS = ("labels", "value", "annotations")
RESERVED_LABELS = ("severity", "component", "alertname")
RESERVED_ANNOTATIONS = ("summary", "description", "runbook_url")


@dataclass
class Dashboard:
    title: str
    unit: str = "short"
    query: str | None = None
    legend: str | None = None


@dataclass
class Expect:
    labels: dict[str, str]
    value: float | None
    pos: Pos
    # the annotations promtool must see, verbatim (``import`` keeps a promtool test's
    # exp_annotations); the others are rendered from the templates
    annotations: dict[str, str] | None = None


@dataclass
class AlertTest:
    series: list[tuple[str, str]]
    interval_ms: int
    fires_at: list[int]
    not_at: list[int]
    expect: list[Expect]
    pos: Pos
    # False: 'fires_at' without 'expect' (any alert of this rule firing will do)
    exact: bool = True


@dataclass
class Rule:
    file: str
    pos: dict[str, Pos]
    expr: str
    labels: dict[str, str]
    dashboard: Dashboard | None
    thresholds_used: set[str] = field(default_factory=set)

    def where(self, key: str) -> Pos:
        return self.pos.get(key, self.pos["_"])


@dataclass
class Alert(Rule):
    name: str = ""
    for_ms: int = 0
    keep_firing_ms: int = 0
    severity: str = ""
    component: str = ""
    summary: str = ""
    description: str = ""
    runbook: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    tests: list[AlertTest] = field(default_factory=list)
    always_fires: bool = False
    group: str = ""
    # set by the check stage: the runbook link (None: no runbook_url annotation); 'component' is
    # inferred there from the metrics when neither the alert nor its file names one
    runbook_url: str | None = None


@dataclass
class Recording(Rule):
    record: str = ""


@dataclass
class Group:
    name: str
    file: str
    path: str
    interval_ms: int | None
    component: str | None
    alerts: list[Alert]
    recording: list[Recording]
    pos: dict[str, Pos]
    limit: int | None = None


class _Ctx:
    def __init__(self, file: str, problems: Problems, thresholds: dict[str, Any]) -> None:
        self.file = file
        self.p = problems
        self.thresholds = thresholds

    def err(self, pos: Pos | None, msg: str) -> None:
        self.p.add(self.file, pos, msg)

    def warn(self, pos: Pos | None, msg: str) -> None:
        self.p.warn(self.file, pos, msg)

    def mapping(
        self, value: Any, pos: Pos, what: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> Map | None:
        if not isinstance(value, Map):
            self.err(pos, f"{what} must be a mapping, not {_kind(value)}")
            return None
        for k in value:
            if k not in allowed:
                hint = _close(k, allowed)
                self.err(
                    value.where_key(k),
                    f"unknown field {k!r} in {what}"
                    + (f" (did you mean {hint!r}?)" if hint else "")
                    + f"; allowed: {', '.join(allowed)}",
                )
        for k in required:
            if k not in value:
                self.err(value.pos, f"{what} is missing required field {k!r}")
        return value

    def string(self, m: Map, key: str, what: str, allow_empty: bool = False) -> str | None:
        v = m.get(key)
        if v is None and key not in m:
            return None
        if not isinstance(v, str) or (not allow_empty and not v.strip()):
            self.err(m.where(key), f"{what} {key!r} must be a non-empty string, not {_kind(v)}")
            return None
        return v

    def subst(self, text: str, pos: Pos, used: set[str]) -> str:
        def repl(m: re.Match) -> str:
            name = m.group(1)
            if name not in self.thresholds:
                self.err(pos, f"unknown threshold %{{{name}}} (define it in thresholds.yml)")
                return m.group(0)
            used.add(name)
            v = self.thresholds[name]
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v)

        return THRESHOLD_REF.sub(repl, text)

    def duration(self, m: Map, key: str, what: str, used: set[str]) -> int | None:
        if key not in m:
            return None
        raw = m[key]
        if isinstance(raw, str):
            raw = self.subst(raw, m.where(key), used)
        try:
            return parse_ms(raw)
        except BadDuration as exc:
            self.err(m.where(key), f"{what} {key!r}: {exc}")
            return None

    def labels(self, m: Map, key: str, what: str) -> dict[str, str]:
        if key not in m:
            return {}
        v = m[key]
        if not isinstance(v, Map):
            self.err(m.where(key), f"{what} {key!r} must be a mapping of names to strings, not {_kind(v)}")
            return {}
        out = {}
        for k, val in v.items():
            if not isinstance(k, str) or not LABEL_RE.match(k):
                self.err(v.where_key(k), f"{what} {key!r}: {k!r} is not a valid label name")
                continue
            if isinstance(val, bool) or not isinstance(val, (str, int, float)):
                self.err(v.where(k), f"{what} {key!r}: value of {k!r} must be a string, not {_kind(val)}")
                continue
            out[k] = str(val)
        return out


def _as_label(key: str, v: Any) -> str:
    """The hint for a severity/component of the user's own: the plain label keeps any value."""
    if isinstance(v, str) and LABEL_VALUE_HINT.match(v):
        return f" (to keep {v!r}, drop '{key}:' and write labels: {{{key}: {v}}})"
    return ""


LABEL_VALUE_HINT = re.compile(r"^[A-Za-z0-9_.-]+$")


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, (int, float)):
        return f"a number ({v})"
    if isinstance(v, str):
        return f"a string ({v!r})"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def _close(word: Any, options: tuple[str, ...]) -> str | None:
    import difflib

    if not isinstance(word, str):
        return None
    m = difflib.get_close_matches(word, options, n=1, cutoff=0.75)
    return m[0] if m else None


def _times(ctx: _Ctx, t: Map, key: str) -> list[int]:
    if key not in t:
        return []
    v = t[key]
    items = list(zip(v, v.item_pos)) if isinstance(v, Seq) else [(v, t.where(key))]
    out = []
    for item, pos in items:
        try:
            out.append(parse_ms(item))
        except BadDuration as exc:
            ctx.err(pos, f"test {key!r}: {exc}")
    return out


def _dashboard(ctx: _Ctx, m: Map, used: set[str]) -> Dashboard | None:
    if "dashboard" not in m:
        return None
    d = ctx.mapping(m["dashboard"], m.where("dashboard"), "dashboard", DASH_KEYS, ("title",))
    if d is None:
        return None
    title = ctx.string(d, "title", "dashboard")
    unit = ctx.string(d, "unit", "dashboard") or "short"
    query = ctx.string(d, "query", "dashboard")
    if query is not None:
        query = ctx.subst(query, d.where("query"), used)
    legend = ctx.string(d, "legend", "dashboard")
    return Dashboard(title or "", unit, query, legend)


def _tests(ctx: _Ctx, m: Map) -> list[AlertTest]:
    if "tests" not in m:
        return []
    raw = m["tests"]
    if not isinstance(raw, Seq):
        ctx.err(m.where("tests"), f"'tests' must be a list, not {_kind(raw)}")
        return []
    out = []
    for i, item in enumerate(raw):
        t = ctx.mapping(item, raw.where(i), "test", TEST_KEYS, ("series",))
        if t is None:
            continue
        series: list[tuple[str, str]] = []
        s = t.get("series")
        if isinstance(s, Map) and s:
            for k, v in s.items():
                if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, (str, int, float)):
                    ctx.err(
                        s.where(k),
                        "test series must map a series selector string to a values string like '0 1x10'",
                    )
                    continue
                series.append((k, str(v)))
        elif isinstance(s, Seq) and s:  # promtool's own input_series form: [{series: ..., values: ...}]
            for j, item in enumerate(s):
                if (
                    not isinstance(item, Map)
                    or set(item) != {"series", "values"}
                    or not isinstance(item["series"], str)
                    or isinstance(item["values"], bool)
                    or not isinstance(item["values"], (str, int, float))
                ):
                    ctx.err(
                        s.where(j), "a test series in promtool's form is {series: SELECTOR, values: '0 1x10'}"
                    )
                    continue
                series.append((item["series"], str(item["values"])))
        elif "series" in t:
            ctx.err(
                t.where("series"),
                "test 'series' must be a non-empty mapping of series to values "
                "(or promtool's list of {series, values})",
            )
        interval = 60_000
        if "interval" in t:
            try:
                interval = parse_ms(t["interval"])
                if interval <= 0:
                    raise BadDuration("the test interval must be above zero")
            except BadDuration as exc:
                ctx.err(t.where("interval"), f"test 'interval': {exc}")
        fires, not_at = _times(ctx, t, "fires_at"), _times(ctx, t, "not_at")
        if not fires and not not_at and "fires_at" not in t and "not_at" not in t:
            ctx.err(t.pos, "a test needs 'fires_at' and/or 'not_at'")
        expect: list[Expect] = []
        if "expect" in t:
            ev = t["expect"]
            if not isinstance(ev, Seq):
                ctx.err(t.where("expect"), f"test 'expect' must be a list, not {_kind(ev)}")
            else:
                for j, e in enumerate(ev):
                    em = ctx.mapping(e, ev.where(j), "expected alert", EXPECT_KEYS, ())
                    if em is None:
                        continue
                    value = None
                    if "value" in em:
                        vv = em["value"]
                        if isinstance(vv, bool) or not isinstance(vv, (int, float)):
                            ctx.err(em.where("value"), f"expected 'value' must be a number, not {_kind(vv)}")
                        else:
                            value = float(vv)
                    anns = ctx.labels(em, "annotations", "expected alert") if "annotations" in em else None
                    expect.append(
                        Expect(ctx.labels(em, "labels", "expected alert"), value, ev.where(j), anns)
                    )
        # 'fires_at' without 'expect': the test only asks that the alert fires then, whatever its
        # labels (promtool checks ALERTS{alertname=..., alertstate="firing"})
        out.append(AlertTest(series, interval, fires, not_at, expect, raw.where(i), "expect" in t))
    return out


def parse_group(
    doc: Any, file: str, path: str, problems: Problems, thresholds: dict[str, Any]
) -> Group | None:
    ctx = _Ctx(file, problems, thresholds)
    top = ctx.mapping(doc, getattr(doc, "pos", (1, 1)), "rule file", GROUP_KEYS, ("group",))
    if top is None:
        return None
    name = ctx.string(top, "group", "rule file") or ""
    if name and not NAME_RE.match(name.replace("-", "_").replace(".", "_")):
        ctx.err(top.where("group"), f"group name {name!r} must be letters, digits, '_', '-' or '.'")
    interval = ctx.duration(top, "interval", "group", set())
    if interval == 0:
        ctx.err(top.where("interval"), "group 'interval' must be above zero")
    component = None
    if "component" in top:
        component = top["component"]
        if component not in COMPONENTS:
            ctx.err(
                top.where("component"),
                f"component must be one of {', '.join(COMPONENTS)}, not {_kind(component)}",
            )
    if "alerts" not in top and "recording" not in top:
        ctx.err(top.pos, "rule file has neither 'alerts' nor 'recording'")
    group = Group(name, file, path, interval, component, [], [], {"_": top.pos, **top.key_pos})
    if "limit" in top:
        lim = top["limit"]
        if isinstance(lim, bool) or not isinstance(lim, int) or lim < 0:
            ctx.err(top.where("limit"), f"group 'limit' must be a whole number >= 0, not {_kind(lim)}")
        else:
            group.limit = lim

    for key in ("alerts", "recording"):
        if key not in top:
            continue
        items = top[key]
        if not isinstance(items, Seq):
            ctx.err(top.where(key), f"{key!r} must be a list, not {_kind(items)}")
            continue
        for i, item in enumerate(items):
            if key == "alerts":
                a = _alert(ctx, item, items.where(i), group)
                if a:
                    group.alerts.append(a)
            else:
                r = _recording(ctx, item, items.where(i))
                if r:
                    group.recording.append(r)
    return group


def _alert(ctx: _Ctx, item: Any, pos: Pos, group: Group) -> Alert | None:
    raw_labels = item.get("labels") if isinstance(item, Map) else None
    in_labels = set(raw_labels) if isinstance(raw_labels, Map) else set()
    required = ("alert", "expr", "summary") + (() if "severity" in in_labels else ("severity",))
    m = ctx.mapping(item, pos, "alert", ALERT_KEYS, required)
    if m is None:
        return None
    used: set[str] = set()
    name = ctx.string(m, "alert", "alert") or ""
    if name and not NAME_RE.match(name):
        if not name.isprintable():
            ctx.err(m.where("alert"), f"alert name {name!r} has control characters or line breaks")
        else:  # Prometheus takes any name; matchers, silences and amtool need it quoted
            ctx.warn(
                m.where("alert"),
                f"alert name {name!r} is not a plain name like DiskFull ([A-Za-z_][A-Za-z0-9_]*): "
                "it works, but matchers, silences and amtool need it quoted",
            )
    expr = ctx.string(m, "expr", "alert") or ""
    expr = ctx.subst(expr, m.where("expr"), used)
    for_ms = ctx.duration(m, "for", "alert", used) or 0
    keep_firing_ms = ctx.duration(m, "keep_firing_for", "alert", used) or 0
    severity = m.get("severity")
    if "severity" in m and severity not in SEVERITIES:
        ctx.err(
            m.where("severity"),
            f"severity must be one of {', '.join(SEVERITIES)}, not {_kind(severity)}"
            + _as_label("severity", severity),
        )
    component = m.get("component", group.component)
    if "component" in m and component not in COMPONENTS:
        ctx.err(
            m.where("component"),
            f"component must be one of {', '.join(COMPONENTS)}, not {_kind(component)}"
            + _as_label("component", component),
        )
    # no component: the check stage infers one from the metrics the expression reads
    summary = ctx.string(m, "summary", "alert") or ""
    summary = ctx.subst(summary, m.where("summary"), used)
    description = ctx.string(m, "description", "alert") or ""
    description = ctx.subst(description, m.where("description"), used)
    runbook = ctx.string(m, "runbook", "alert")
    labels = ctx.labels(m, "labels", "alert")
    for k in labels:
        # severity/component may be plain labels (any value, kept as written) when their own
        # field is not set: that is how an imported rule keeps e.g. severity="none"
        if k in RESERVED_LABELS and (k == "alertname" or k in m or (k == "component" and group.component)):
            ctx.err(m["labels"].where_key(k), f"label {k!r} is set by its own field, not under 'labels'")
    annotations = ctx.labels(m, "annotations", "alert")
    for k in annotations:
        if k in RESERVED_ANNOTATIONS:
            ctx.err(
                m["annotations"].where_key(k),
                f"annotation {k!r} is set by its own field, not under 'annotations'",
            )
    always = m.get("always_fires", False)
    if not isinstance(always, bool):
        ctx.err(m.where("always_fires"), f"'always_fires' must be true or false, not {_kind(always)}")
        always = False
    dash = _dashboard(ctx, m, used)
    tests = _tests(ctx, m)
    return Alert(
        file=ctx.file,
        pos={"_": m.pos, **m.val_pos},
        expr=expr,
        labels=labels,
        dashboard=dash,
        thresholds_used=used,
        name=name,
        for_ms=for_ms,
        keep_firing_ms=keep_firing_ms,
        severity=severity or labels.get("severity", ""),
        component=component or "",
        summary=summary,
        description=description,
        runbook=runbook,
        annotations=annotations,
        tests=tests,
        always_fires=always,
        group=group.name,
    )


def _recording(ctx: _Ctx, item: Any, pos: Pos) -> Recording | None:
    m = ctx.mapping(item, pos, "recording rule", RECORD_KEYS, ("record", "expr"))
    if m is None:
        return None
    used: set[str] = set()
    record = ctx.string(m, "record", "recording rule") or ""
    if record and not RECORD_RE.match(record):
        ctx.err(m.where("record"), f"{record!r} is not a valid metric name")
    expr = ctx.subst(ctx.string(m, "expr", "recording rule") or "", m.where("expr"), used)
    return Recording(
        file=ctx.file,
        pos={"_": m.pos, **m.val_pos},
        expr=expr,
        labels=ctx.labels(m, "labels", "recording rule"),
        dashboard=_dashboard(ctx, m, used),
        thresholds_used=used,
        record=record,
    )


def parse_thresholds(doc: Any, file: str, problems: Problems) -> dict[str, Any]:
    """``thresholds.yml``: a flat mapping of names to numbers, durations or strings (regexes).

    A duration is checked where it is used (``for:`` must be one)."""
    if doc is None:
        return {}
    if not isinstance(doc, Map):
        problems.add(
            file,
            getattr(doc, "pos", None),
            "thresholds file must be a mapping of names to numbers, durations or strings",
        )
        return {}
    out = {}
    for k, v in doc.items():
        if not isinstance(k, str) or not NAME_RE.match(k):
            problems.add(file, doc.where_key(k), f"threshold name {k!r} must match [A-Za-z_][A-Za-z0-9_]*")
        elif isinstance(v, bool) or not isinstance(v, (int, float, str)):
            problems.add(
                file, doc.where(k), f"threshold {k!r} must be a number, duration or string, not {_kind(v)}"
            )
        else:
            out[k] = v
    return out
