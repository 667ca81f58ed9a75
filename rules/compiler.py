"""Load, validate and compile a set of sources into the output files (in memory).

:func:`compile_sources` is everything ``check`` and ``compile`` share: it returns a
:class:`Compiled` with every output file's text keyed by (root, relative path), or raises one
:class:`RulesError` listing every problem found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import emit, model, notifications, promql, sources, templates, yamlsrc
from . import overlay as overlay_mod
from .durations import fmt_ms
from .errors import Problems, RulesError

DEFAULT_SCRAPE_MS = 15_000
_SERIES_VALUES = re.compile(
    r"^\s*(?:(?:_|stale|[-+]?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|Inf|NaN))(?:[-+]\d+(?:\.\d+)?(?:e[-+]?\d+)?)?(?:x\d+)?\s*)+$"
)


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
    notifications_path: str = (
        ""  # the notifications source on disk (``check`` maps amtool's complaints back to it)
    )
    runbook_base: str = ""
    threshold_files: dict[str, str] = field(default_factory=dict)


def _load(src: sources.Source) -> Any:
    return yamlsrc.load(str(src.path), src.display)


def compile_sources(opts: Options) -> Compiled:
    p = Problems()
    srcs = sources.collect(opts.srcs)

    ov = overlay_mod.Overlay("")
    if opts.overlay:
        ov_src = sources.Source(sources.Path(opts.overlay), sources.display_name(sources.Path(opts.overlay)))
        ov = overlay_mod.parse(_load(ov_src), ov_src.display, p)
    scrape_ms = opts.scrape_interval_ms or ov.scrape_interval_ms or DEFAULT_SCRAPE_MS

    # thresholds: one namespace over all sources, then the overlay's overrides
    thresholds: dict[str, Any] = {}
    defined_at: dict[str, str] = {}
    for t in srcs.thresholds:
        doc = _load(t)
        for k, v in model.parse_thresholds(doc, t.display, p).items():
            if k in thresholds:
                p.add(t.display, doc.where_key(k), f"threshold {k!r} is already defined in {defined_at[k]}")
                continue
            thresholds[k], defined_at[k] = v, t.display
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

    groups: list[model.Group] = []
    for g in srcs.groups:
        doc = _load(g)
        grp = model.parse_group(doc, g.display, str(g.path), p, thresholds)
        if grp is not None:
            groups.append(grp)

    # the overlay's per-alert and per-group overrides
    by_name: dict[str, list[model.Alert]] = {}
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
    for name, ms in ov.group_interval.items():
        if name not in gnames:
            p.add(ov.file, ov.group_pos[name], f"overlay names group {name!r}, which no rule file defines")
    for grp in groups:
        if grp.name in ov.group_interval:
            grp.interval_ms = ov.group_interval[grp.name]
        elif ov.evaluation_interval_ms:
            grp.interval_ms = ov.evaluation_interval_ms
    changed_thresholds = {k for k in ov.thresholds}
    dropped: list[str] = []
    for grp in groups:
        for a in grp.alerts:
            if a.tests and (a.name in overridden or a.thresholds_used & changed_thresholds):
                dropped.append(a.name)
                a.tests = []

    seen_groups: dict[str, model.Group] = {}
    for grp in groups:
        if grp.name in seen_groups:
            first = seen_groups[grp.name]
            p.add(grp.file, grp.pos.get("group"), f"group {grp.name!r} is already defined in {first.file}")
        else:
            seen_groups[grp.name] = grp

    alerts = [a for g in groups for a in g.alerts]
    recordings = [r for g in groups for r in g.recording]
    _check_duplicates(alerts, recordings, p)

    an = promql.Analyzer()
    analyses: dict[int, promql.Analysis] = {}
    recorded_names = {r.record for r in recordings}
    for r in recordings:
        res = _analyze(an, r, r.record, recorded_names, p)
        if res is not None:
            analyses[id(r)] = res
    for a in alerts:
        res = _analyze(an, a, None, recorded_names, p)
        _check_tests(a, res, p)
        if res is None:
            continue
        analyses[id(a)] = res
        _check_alert(a, res, scrape_ms, p)
    for r in recordings + alerts:
        if r.dashboard and r.dashboard.query:
            where = r.where("dashboard")
            try:
                res = an.analyze(r.dashboard.query)
            except promql.PromQLError as exc:
                p.add(r.file, where, f"dashboard query: PromQL: {exc}")
                continue
            # a panel that reads a metric nobody exports draws nothing, silently: same checks as alerts
            for name in res.metrics:
                if not an.known_metric(name) and name not in recorded_names:
                    p.add(
                        r.file,
                        where,
                        f"dashboard query: unknown metric {name!r}: no gpuwatch exporter declares it, "
                        "Prometheus/Alertmanager do not export it, and no recording rule defines it",
                    )
            for metric, label, carried in res.unknown_labels:
                p.add(
                    r.file,
                    where,
                    f"dashboard query: {metric!r} has no label {label!r} (its labels: {', '.join(carried)})",
                )

    runbook_base = _runbooks(srcs, alerts, opts, p)

    # notifications: the pack's or the user's replacement
    if opts.notifications:
        n_src = sources.Source(
            sources.Path(opts.notifications), sources.display_name(sources.Path(opts.notifications))
        )
    elif srcs.notifications:
        if len(srcs.notifications) > 1:
            raise RulesError(
                "more than one notifications file in the sources; pass one with --notifications",
                srcs.notifications[1].display,
            )
        n_src = srcs.notifications[0]
    else:
        n_src = sources.Source(sources.PACK_DIR / "notifications.yml", "rules/pack/notifications.yml")

    def has_label(label: str) -> bool:
        for a in alerts:
            if id(a) not in analyses:
                return True  # an expression that did not analyse could carry it: say nothing more
            if label in a.labels or label in ("alertname", "severity", "component"):
                return True
            res = analyses.get(id(a))
            if res is not None and label in res.labels.known - {"__name__"}:
                return True
            if res is not None and not res.labels.closed and label not in res.labels.removed:
                return True
        return False

    notif = notifications.load(
        _load(n_src),
        n_src.display,
        p,
        version=opts.alertmanager_version,
        secrets_dir=opts.secrets_dir,
        alert_has_label=has_label,
        route_overlay=ov.route,
        env=opts.env,
    )
    p.raise_if_any()
    assert notif is not None

    out = Compiled(
        groups,
        alerts,
        recordings,
        analyses,
        notif,
        n_src.display,
        scrape_ms,
        secrets=notif.secrets,
        dropped_tests=sorted(set(dropped)),
        runbook_base=runbook_base,
        threshold_files=defined_at,
        notifications_path=str(n_src.path),
    )
    p2 = Problems()
    out.files = emit.render_all(out, opts, p2)
    p2.raise_if_any()
    return out


def _same_kind(base: Any, new: Any) -> str | None:
    """Why ``new`` cannot replace threshold ``base`` (a number by a number, a duration by a duration)."""
    from .durations import BadDuration, parse_ms

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


def _check_duplicates(alerts: list[model.Alert], recordings: list[model.Recording], p: Problems) -> None:
    seen: dict[str, list[model.Alert]] = {}
    for a in alerts:
        prev = seen.setdefault(a.name, [])
        for b in prev:
            if b.severity == a.severity or b.group != a.group:
                why = "same severity" if b.severity == a.severity else "in another group"
                p.add(
                    a.file,
                    a.where("alert"),
                    f"duplicate alert name {a.name!r} ({why}; first at "
                    f"{b.file}:{b.where('alert')[0]}); tiers of one alert need different severities in one group",
                )
                break
        prev.append(a)
    rec: dict[str, model.Recording] = {}
    for r in recordings:
        if r.record in rec:
            b = rec[r.record]
            p.add(
                r.file,
                r.where("record"),
                f"recording rule {r.record!r} defined twice (first at {b.file}:{b.where('record')[0]})",
            )
        rec[r.record] = r


def _analyze(
    an: promql.Analyzer, rule: model.Rule, record: str | None, recorded: set[str], p: Problems
) -> promql.Analysis | None:
    if not rule.expr.strip() or model.THRESHOLD_REF.search(rule.expr):
        return None  # missing, or an unknown threshold: already reported
    pos = rule.where("expr")
    try:
        res = an.analyze(rule.expr, record)
    except promql.PromQLError as exc:
        p.add(rule.file, pos, f"PromQL: {exc}")
        return None
    for name in res.metrics:
        if not an.known_metric(name) and name not in recorded:
            p.add(
                rule.file,
                pos,
                f"unknown metric {name!r}: no gpuwatch exporter declares it "
                "(gpuwatch.exporters.catalog), Prometheus/Alertmanager do not export it, and no recording rule defines it",
            )
    for metric, label, carried in res.unknown_labels:
        p.add(
            rule.file,
            pos,
            f"{metric!r} has no label {label!r}, so this selector never matches what the "
            f"exporter emits (its labels: {', '.join(carried)})",
        )
    for fn, metric, kind in res.rate_over_gauge:
        p.add(
            rule.file,
            pos,
            f"{fn}() over {metric!r}, which is a {kind}: {fn}() only makes sense for counters "
            "(use delta(), deriv() or *_over_time() for gauges)",
        )
    for k, v in rule.labels.items():
        if "{{" in v:
            p.add(rule.file, rule.where("labels"), f"label {k!r}: templates in labels are not supported")
    return res


def _check_alert(a: model.Alert, res: promql.Analysis, scrape_ms: int, p: Problems) -> None:
    if a.always_fires:
        if res.may_be_empty:
            p.add(a.file, a.where("always_fires"), "always_fires is set but the expression can be empty")
    elif not res.may_be_empty:
        p.add(
            a.file,
            a.where("expr"),
            "this expression can never be empty, so the alert would always fire: "
            "add a comparison (> N), absent() or an and/unless filter (or always_fires: true for a Watchdog)",
        )
    if 0 < a.for_ms < 2 * scrape_ms:
        p.add(
            a.file,
            a.where("for"),
            f"for: {fmt_ms(a.for_ms)} is shorter than two scrape intervals "
            f"({fmt_ms(2 * scrape_ms)} at --scrape-interval {fmt_ms(scrape_ms)}): one missed scrape resets it",
        )
    for field_name in ("summary", "description"):
        text = getattr(a, field_name)
        for msg in templates.check(text, res.labels):
            p.add(a.file, a.where(field_name), f"{field_name} template: {msg}")
    for k, v in a.annotations.items():
        for msg in templates.check(v, res.labels):
            p.add(a.file, a.where("annotations"), f"annotation {k!r} template: {msg}")


def _check_tests(a: model.Alert, res: promql.Analysis | None, p: Problems) -> None:
    uses_value = any("$value" in t for t in [a.summary, a.description, *a.annotations.values()])
    for t in a.tests:
        for sel, values in t.series:
            try:
                node = promql.parse(sel)
            except promql.PromQLError as exc:
                p.add(a.file, t.pos, f"test series {sel!r}: {exc}")
                continue
            if type(node).__name__ != "VectorSelector":
                p.add(a.file, t.pos, f'test series {sel!r} must be a plain series like name{{label="v"}}')
            if not _SERIES_VALUES.match(values):
                p.add(
                    a.file,
                    t.pos,
                    f"test series values {values!r} are not promtool notation like '0 1x10' or '_x3 1+1x5'",
                )
        for e in t.expect:
            if uses_value and e.value is None:
                p.add(a.file, e.pos, "the annotations use $value: give the expected alert's 'value'")
            if res is not None:
                for msg in _label_mismatch(e.labels, res.labels):
                    p.add(a.file, e.pos, msg)


def _label_mismatch(labels: dict[str, str], have: promql.Labels) -> list[str]:
    return [
        f"expected label {k!r} cannot be on this alert: the expression's result has no such label"
        for k in labels
        if k != "__name__" and not have.has(k)
    ]


def _runbooks(srcs: sources.Sources, alerts: list[model.Alert], opts: Options, p: Problems) -> str:
    anchors: set[str] = set()
    base = opts.runbook_url or ""
    for rb in srcs.runbooks:
        anchors |= sources.runbook_anchors(sources.read_text(rb))
        if not base:
            base = rb.display
    if srcs.runbooks:
        for a in alerts:
            if a.runbook is None and a.name.lower() not in anchors:
                p.add(
                    a.file,
                    a.where("alert"),
                    f"alert {a.name!r} has no runbook: add a '## {a.name}' section to "
                    f"{srcs.runbooks[0].display} or a 'runbook:' URL",
                )
    else:
        for a in alerts:
            if a.runbook is None and not base:
                p.add(
                    a.file,
                    a.where("alert"),
                    f"alert {a.name!r} has no runbook: add RUNBOOK.md beside the rule "
                    "files, a 'runbook:' URL, or --runbook-url",
                )
    return base
