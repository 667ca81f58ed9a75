"""Prometheus outputs: one rule file per group, and its promtool unit tests."""

from __future__ import annotations

from typing import Any

from .. import gotemplate, model
from ..api import Compiled
from ..durations import fmt_ms, parse_ms
from ..errors import Problems
from .common import alert_annotations, dump_yaml, expr_text, header, static_labels


def rule_file(c: Compiled, g: model.Group) -> str:
    rules: list[dict[str, Any]] = []
    for r in g.recording:
        d: dict[str, Any] = {"record": r.record, "expr": expr_text(r.expr)}
        if r.labels:
            d["labels"] = dict(r.labels)
        rules.append(d)
    for a in g.alerts:
        d = {"alert": a.name, "expr": expr_text(a.expr)}
        if a.for_ms:
            d["for"] = fmt_ms(a.for_ms)
        if a.keep_firing_ms:
            d["keep_firing_for"] = fmt_ms(a.keep_firing_ms)
        d["labels"] = static_labels(a)
        d["annotations"] = alert_annotations(c, a)
        rules.append(d)
    grp: dict[str, Any] = {"name": g.name}
    if g.interval_ms:
        grp["interval"] = fmt_ms(g.interval_ms)
    if g.limit:
        grp["limit"] = g.limit
    grp["rules"] = rules
    return header([g.file] + _threshold_sources(c, g)) + dump_yaml({"groups": [grp]})


def _threshold_sources(c: Compiled, g: model.Group) -> list[str]:
    used = (
        set().union(*(r.thresholds_used for r in [*g.alerts, *g.recording]))
        if (g.alerts or g.recording)
        else set()
    )
    return sorted({c.threshold_files[t] for t in used if t in c.threshold_files})


def test_file(c: Compiled, g: model.Group, rule_files: list[str], p: Problems) -> str | None:
    tests: list[dict[str, Any]] = []
    for a in g.alerts:
        for i, t in enumerate(a.tests, 1):
            steps: list[dict[str, Any]] = []
            for at in t.not_at:
                steps.append({"eval_time": fmt_ms(at), "alertname": a.name, "exp_alerts": []})
            exprs: list[dict[str, Any]] = []
            for at in t.fires_at if not t.exact else []:
                # 'fires_at' without 'expect': some alert of this rule is firing then, whatever its
                # labels; promtool's alert tests compare exact label sets, so ask ALERTS instead
                exprs.append(
                    {
                        "expr": f"max({firing_selector(a)})",
                        "eval_time": fmt_ms(at),
                        "exp_samples": [{"labels": "{}", "value": 1}],
                    }
                )
            for at in t.fires_at if t.exact else []:
                exp = []
                for e in t.expect:
                    labels = {k: v for k, v in e.labels.items()}
                    value = e.value if e.value is not None else 0.0
                    given = e.annotations or {}  # expected verbatim (import keeps exp_annotations)
                    try:
                        # a templated label (severity by $value, ...) as Prometheus renders it
                        labels.update(
                            {
                                k: gotemplate.render(v, e.labels, value) if "{{" in v else v
                                for k, v in static_labels(a).items()
                            }
                        )
                        ann = {
                            k: given[k] if k in given else gotemplate.render(v, e.labels, value)
                            for k, v in alert_annotations(c, a).items()
                        }
                    except gotemplate.TemplateError as exc:
                        p.add(
                            a.file,
                            t.pos,
                            f"cannot compute the expected labels and annotations for promtool: {exc}",
                        )
                        continue
                    exp.append({"exp_labels": labels, "exp_annotations": ann})
                steps.append({"eval_time": fmt_ms(at), "alertname": a.name, "exp_alerts": exp})
            test: dict[str, Any] = {
                "name": f"{a.name} ({a.severity}) test {i}",
                "interval": fmt_ms(t.interval_ms),
                "input_series": [{"series": s, "values": v} for s, v in t.series],
            }
            if steps:
                test["alert_rule_test"] = sorted(steps, key=lambda s: _ms(s["eval_time"]))
            if exprs:
                test["promql_expr_test"] = exprs
            tests.append(test)
    if not tests:
        return None
    doc = {"rule_files": rule_files, "evaluation_interval": "1m", "tests": tests}
    return header([g.file], "Run with: promtool test rules " + f"{g.name}_test.yml") + dump_yaml(doc)


def firing_selector(a: model.Alert) -> str:
    """``ALERTS{...}`` for this rule's firing alerts (tiers of one alert differ in severity)."""
    fixed = {k: v for k, v in static_labels(a).items() if "{{" not in v}  # templated: any value
    matchers = {"alertname": a.name, "alertstate": "firing", **fixed}
    return "ALERTS{" + ", ".join(f"{k}={_quote(v)}" for k, v in matchers.items()) + "}"


def _quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _ms(text: str) -> int:
    return parse_ms(text)
