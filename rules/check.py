"""Stage 3 of the compiler: everything that needs the whole pack: duplicate names, the analysis of
every expression (alerts, recording rules and dashboard queries, by one function), the alerts'
templates and tests, runbooks, and the notifications file against the alerts' labels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import catalogs, components, gotemplate, model, notifications, promql, sources
from .api import Options
from .durations import fmt_ms
from .emit.common import static_labels
from .errors import Problems
from .load import Loaded

DEFAULT_SCRAPE_MS = 15_000
_SERIES_VALUES = re.compile(
    r"^\s*(?:(?:_|stale|[-+]?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|Inf|NaN))(?:[-+]\d+(?:\.\d+)?(?:e[-+]?\d+)?)?(?:x\d+)?\s*)+$"
)


@dataclass
class Checked:
    alerts: list[model.Alert]
    recordings: list[model.Recording]
    analyses: dict[int, promql.Analysis]
    notifications: notifications.Notifications | None
    scrape_interval_ms: int
    runbook_base: str


def check(loaded: Loaded, opts: Options, p: Problems) -> Checked:
    ov = loaded.overlay
    scrape_ms = opts.scrape_interval_ms or ov.scrape_interval_ms or DEFAULT_SCRAPE_MS
    groups = loaded.groups

    seen_groups: dict[str, model.Group] = {}
    for grp in groups:
        if grp.name in seen_groups:
            first = seen_groups[grp.name]
            p.add(grp.file, grp.pos.get("group"), f"group {grp.name!r} is already defined in {first.file}")
        else:
            seen_groups[grp.name] = grp

    alerts = [a for g in groups for a in g.alerts]
    recordings = [r for g in groups for r in g.recording]

    an = promql.Analyzer(loaded.catalog)
    analyses: dict[int, promql.Analysis] = {}
    recorded = {r.record for r in recordings}
    for r in recordings:
        res = _analyze_rule(an, r, r.record, recorded, p)
        if res is not None:
            analyses[id(r)] = res
    for a in alerts:
        res = _analyze_rule(an, a, None, recorded, p)
        _check_tests(a, res, p)
        if res is None:
            continue
        analyses[id(a)] = res
        _check_alert(a, res, scrape_ms, p)
    _infer_components(alerts, recordings, analyses)
    _check_duplicates(groups, p)  # after inference: 'component' is one of the static labels
    rules: list[model.Rule] = [*recordings, *alerts]
    for rule in rules:
        if rule.dashboard and rule.dashboard.query:
            analyze(
                an, rule.dashboard.query, rule.file, rule.where("dashboard"), recorded, p, "dashboard query: "
            )

    runbook_base = _runbooks(loaded.srcs, alerts, opts, p)

    def has_label(label: str) -> bool:
        if not alerts:
            return True  # nothing to inhibit: nothing to say
        for a in alerts:
            if id(a) not in analyses:
                return True  # an expression that did not analyse could carry it: say nothing more
            if (
                label in a.labels
                or label in ("alertname", "severity")
                or (label == "component" and a.component)
            ):
                return True
            res = analyses.get(id(a))
            if res is not None and label in res.labels.known - {"__name__"}:
                return True
            if res is not None and not res.labels.closed and label not in res.labels.removed:
                return True
        return False

    notif = notifications.load(
        loaded.notifications_doc,
        loaded.notifications_src.display,
        p,
        version=opts.alertmanager_version,
        secrets_dir=opts.secrets_dir,
        alert_has_label=has_label,
        route_overlay=ov.route,
        env=opts.env,
        alert_names={a.name for a in alerts},
    )
    return Checked(alerts, recordings, analyses, notif, scrape_ms, runbook_base)


def analyze(
    an: promql.Analyzer,
    expr: str,
    file: str,
    pos: model.Pos,
    recorded: set[str],
    p: Problems,
    what: str = "",
    record: str | None = None,
) -> promql.Analysis | None:
    """Parse and analyse one expression and report what can never work: the one place for the
    metric, label and function checks, used for alert and recording rules and dashboard queries.
    ``what`` prefixes the messages (``"dashboard query: "``)."""
    try:
        res = an.analyze(expr, record)
    except promql.PromQLError as exc:
        p.add(file, pos, f"{what}PromQL: {exc}")
        return None
    for name in res.metrics:
        if an.known_metric(name) or name in recorded:
            continue
        if name.startswith(catalogs.GPUWATCH_PREFIX):  # our own namespace: a typo, never data
            p.add(
                file,
                pos,
                f"{what}unknown metric {name!r}: no gpuwatch exporter declares it "
                "(gpuwatch.exporters.catalog) and no recording rule defines it",
            )
        else:
            p.warn(
                file,
                pos,
                f"{what}unknown metric {name!r}: no catalog declares it and no recording rule defines it "
                "(name the exporter's catalog with --catalog FILE or 'catalogs:' in pack.yml)",
            )
    for metric, label, carried, source in res.unknown_labels:
        if source == catalogs.GPUWATCH:
            p.add(
                file,
                pos,
                f"{what}{metric!r} has no label {label!r}, so this selector never matches what the "
                f"exporter emits (its labels: {', '.join(carried)}; a label your scrape config adds "
                "to every target goes under 'target_labels:' in pack.yml)",
            )
        else:  # another exporter's catalog may lag the version a site runs
            p.warn(
                file,
                pos,
                f"{what}{metric!r} has no label {label!r} in {source}, so this selector may never match "
                f"(its labels there: {', '.join(carried)}; a label your scrape config adds to every "
                "target goes under 'target_labels:' in pack.yml)",
            )
    for fn, metric, kind in res.rate_over_gauge:
        p.add(
            file,
            pos,
            f"{what}{fn}() over {metric!r}, which is a {kind}: {fn}() only makes sense for counters "
            "(use delta(), deriv() or *_over_time() for gauges)",
        )
    return res


def _analyze_rule(
    an: promql.Analyzer, rule: model.Rule, record: str | None, recorded: set[str], p: Problems
) -> promql.Analysis | None:
    if not rule.expr.strip() or model.THRESHOLD_REF.search(rule.expr):
        return None  # missing, or an unknown threshold: already reported
    res = analyze(an, rule.expr, rule.file, rule.where("expr"), recorded, p, record=record)
    if res is not None:
        for k, v in rule.labels.items():
            if "{{" not in v:
                continue
            if record is not None:  # Prometheus expands templates in alert labels only
                p.add(
                    rule.file,
                    rule.where("labels"),
                    f"label {k!r}: Prometheus does not expand templates in recording rule labels",
                )
                continue
            for msg in gotemplate.check(v, res.labels):
                (p.warn if gotemplate.is_warning(msg) else p.add)(
                    rule.file, rule.where("labels"), f"label {k!r} template: {msg}"
                )
    return res


def _same_expr(a: model.Rule, b: model.Rule) -> bool:
    return " ".join(a.expr.split()) == " ".join(b.expr.split())


def _check_duplicates(groups: list[model.Group], p: Problems) -> None:
    """Rules that share a name. Prometheus (and ``promtool check rules``, whose duplicate-rule lint
    only warns) accepts them all; what can never work is a copy: the same name, static labels and
    expression in one group, whose alerts or series can never be told apart from the first's.
    The same name and labels in one group with another expression, or the same name in another
    group, works when the results differ in their labels: a warning. Tiers (the same alert name
    with other static labels, e.g. severities) in one group are the normal case: nothing."""
    seen: dict[tuple[str, str], list[tuple[str, model.Rule, dict[str, str]]]] = {}
    for grp in groups:
        rules: list[tuple[str, str, model.Rule, dict[str, str]]] = [
            ("recording rule", r.record, r, dict(r.labels)) for r in grp.recording
        ]
        rules += [("alert", a.name, a, static_labels(a)) for a in grp.alerts]
        for kind, name, rule, labels in rules:
            key_field = "record" if kind == "recording rule" else "alert"
            prev = seen.setdefault((kind, name), [])
            here = rule.where(key_field)
            copy = same = elsewhere = None
            for gname, other, olabels in prev:
                if gname != grp.name:
                    if kind == "alert" or olabels == labels:  # other labels: another series
                        elsewhere = elsewhere or (gname, other)
                elif olabels == labels:
                    if _same_expr(rule, other):
                        copy = copy or other
                    same = same or other
            if copy is not None:
                p.add(
                    rule.file,
                    here,
                    f"{kind} {name!r} is a copy of the one at {copy.file}:{copy.where(key_field)[0]} "
                    "(same group, labels and expression): what it gives can never be told apart "
                    "from the first's; delete one",
                )
            elif same is not None:
                out = "alerts" if kind == "alert" else "series"
                p.warn(
                    rule.file,
                    here,
                    f"{kind} {name!r} has the same labels as the one at {same.file}:"
                    f"{same.where(key_field)[0]} in this group: their {out} are told apart only by "
                    "the labels of the results (give each a label of its own, e.g. a severity tier)",
                )
            elif elsewhere is not None:
                gname, other = elsewhere
                p.warn(
                    rule.file,
                    here,
                    f"{kind} {name!r} is also defined in group {gname!r} (at {other.file}:"
                    f"{other.where(key_field)[0]}): "
                    + (
                        "routes, inhibitions, silences and overlays by alertname treat both as one"
                        if kind == "alert"
                        else "with the same labels, both write the same series unless their results' "
                        "labels differ"
                    ),
                )
            prev.append((grp.name, rule, labels))


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
        p.warn(
            a.file,
            a.where("for"),
            f"for: {fmt_ms(a.for_ms)} is shorter than two scrape intervals "
            f"({fmt_ms(2 * scrape_ms)} at --scrape-interval {fmt_ms(scrape_ms)}): one missed scrape resets it",
        )
    if not a.description.strip():
        p.warn(
            a.file,
            a.where("alert"),
            f"alert {a.name!r} has no description: say what it means and what to look at first",
        )
    for field_name in ("summary", "description"):
        text = getattr(a, field_name)
        for msg in gotemplate.check(text, res.labels):
            (p.warn if gotemplate.is_warning(msg) else p.add)(
                a.file, a.where(field_name), f"{field_name} template: {msg}"
            )
    for k, v in a.annotations.items():
        for msg in gotemplate.check(v, res.labels):
            (p.warn if gotemplate.is_warning(msg) else p.add)(
                a.file, a.where("annotations"), f"annotation {k!r} template: {msg}"
            )


def _infer_components(
    alerts: list[model.Alert], recordings: list[model.Recording], analyses: dict[int, promql.Analysis]
) -> None:
    """An alert without ``component`` gets the one its metrics all belong to (through recording
    rules too); mixed or foreign metrics: no component label."""
    by_record = {r.record: analyses[id(r)].metrics for r in recordings if id(r) in analyses}

    def base_metrics(names: list[str], seen: frozenset[str] = frozenset()) -> list[str]:
        out: list[str] = []
        for n in names:
            if n in by_record and n not in seen:
                out += base_metrics(by_record[n], seen | {n})
            else:
                out.append(n)
        return out

    for a in alerts:
        if a.component or id(a) not in analyses:
            continue
        inferred = components.infer(base_metrics(analyses[id(a)].metrics))
        if inferred is not None:
            a.component = inferred


def _check_tests(a: model.Alert, res: promql.Analysis | None, p: Problems) -> None:
    texts = {"summary": a.summary, "description": a.description, **a.annotations}
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
            given = e.annotations or {}  # expected verbatim (import): not rendered, no value needed
            if e.value is None and any("$value" in v for k, v in texts.items() if k not in given):
                p.add(a.file, e.pos, "the annotations use $value: give the expected alert's 'value'")
            elif e.value is None and any("$value" in v for v in a.labels.values()):
                p.add(a.file, e.pos, "a label's template uses $value: give the expected alert's 'value'")
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
    """Sets each alert's runbook link: its 'runbook:' URL, else BASE#alertname where BASE is
    --runbook-url or the RUNBOOK.md beside the rules (and, with a RUNBOOK.md, only when it has a
    section for the alert). No link is a warning, and no runbook_url annotation (no dead links)."""
    anchors: set[str] = set()
    base = opts.runbook_url or ""
    for rb in srcs.runbooks:
        anchors |= sources.runbook_anchors(sources.read_text(rb))
        if not base:
            base = rb.display
    for a in alerts:
        if a.runbook is not None:
            a.runbook_url = a.runbook
        elif srcs.runbooks and sources.anchor(a.name) not in anchors:
            p.warn(
                a.file,
                a.where("alert"),
                f"alert {a.name!r} has no runbook: add a '## {a.name}' section to "
                f"{srcs.runbooks[0].display} or a 'runbook:' URL",
            )
        elif not base:
            p.warn(
                a.file,
                a.where("alert"),
                f"alert {a.name!r} has no runbook: add RUNBOOK.md beside the rule "
                "files, a 'runbook:' URL, or --runbook-url",
            )
        else:
            a.runbook_url = f"{base}#{sources.anchor(a.name)}"
    return base
