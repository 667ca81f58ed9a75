"""``gpuwatch-rules import``: standard Prometheus rule files -> gpuwatch rule files.

Reads what Prometheus reads (``groups:`` with alerting and recording rules; a prometheus-operator
``PrometheusRule`` object's ``spec.groups`` too) and returns one gpuwatch rule file per group, in
the format :mod:`.model` parses. What compiles from them is the input again: the same groups,
rule names, expressions (kept byte for byte), ``for``, ``keep_firing_for``, labels and
annotations. The mapping:

* the ``severity`` label -> ``severity:`` (critical, warning, info); another value stays a label;
  none -> ``severity: warning`` and a warning;
* annotations ``summary``, ``description``, ``runbook_url`` -> ``summary:``, ``description:``,
  ``runbook:``; every other label and annotation stays under ``labels:`` / ``annotations:``;
* an expression that can never be empty (a dead man's switch on ``vector(1)``) -> ``always_fires: true``;
* a promtool test file (``--tests``) -> per-alert ``tests:``: ``series``, ``not_at`` for steps
  that expect no alert, ``fires_at`` + ``expect`` (labels, and the annotations promtool expects)
  for the others.

Input Prometheus would refuse is refused here with file and line; what works but gpuwatch cannot
represent exactly (a promtool ``promql_expr_test``) is left out with a warning.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import model, promql, yamlsrc
from .durations import BadDuration, fmt_ms, parse_ms
from .errors import Problem, Problems, RulesError
from .yamlsrc import Map, Pos, Seq

GROUP_KEYS = ("name", "interval", "limit", "labels", "rules")
# Accepted by newer Prometheus releases, not representable in a gpuwatch rule file yet.
GROUP_KEYS_UNSUPPORTED = {"query_offset": "2.53"}
RULE_KEYS = ("alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations")
TEST_FILE_KEYS = ("rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare")
TEST_KEYS = (
    "name",
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
)
# File names the compiler reads as something other than a rule group.
_RESERVED_FILES = {"thresholds", "notifications", "pack", "RUNBOOK"}
_FILE_SAFE = re.compile(r"[^A-Za-z0-9_.-]")
_NUMBER_RE = re.compile(r"^-?\d+$")


@dataclass
class Result:
    """What an import produced: file name -> text, warnings, and counts for the summary."""

    files: dict[str, str] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    groups: int = 0
    alerts: int = 0
    recordings: int = 0
    tests: int = 0
    sources: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{plural(self.groups, 'group')}, {plural(self.alerts, 'alerting rule')}, "
            f"{plural(self.recordings, 'recording rule')}, {plural(self.tests, 'promtool test')} "
            f"from {plural(len(self.sources), 'file')}"
        )


def plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


@dataclass
class _Alert:
    out: dict[str, Any]  # the gpuwatch alert, in the order it is written
    static_labels: dict[str, str]  # labels of the compiled rule (severity included)
    annotations: dict[str, str]  # annotations of the input rule
    group: str
    pos: Pos
    file: str


class _Importer:
    def __init__(self) -> None:
        self.p = Problems()
        self.warnings: list[Problem] = []
        self.groups: list[tuple[str, str, Pos, dict[str, Any]]] = []  # (name, file, pos, doc)
        self.alerts: dict[str, list[_Alert]] = {}
        self.an = promql.Analyzer()
        self.eval_ms = 60_000

    def err(self, file: str, pos: Pos | None, msg: str) -> None:
        self.p.add(file, pos, msg)

    def warn(self, file: str, pos: Pos | None, msg: str) -> None:
        line, col = pos if pos else (None, None)
        self.warnings.append(Problem(file, line, col, msg, warning=True))

    # -- rule files ------------------------------------------------------------------------------
    def rule_file(self, path: str) -> None:
        doc = yamlsrc.load(path, path)
        if doc is None:
            self.warn(path, None, "empty rule file: nothing to import")
            return
        if not isinstance(doc, Map):
            self.err(path, getattr(doc, "pos", None), "a rule file must be a mapping with 'groups:'")
            return
        if doc.get("kind") == "PrometheusRule":  # prometheus-operator's custom resource
            spec = doc.get("spec")
            if not isinstance(spec, Map) or "groups" not in spec:
                self.err(path, doc.where("spec"), "PrometheusRule without spec.groups")
                return
            doc = spec
        for k in doc:
            if k != "groups":
                self.err(path, doc.where_key(k), f"unknown field {k!r} in rule file; allowed: groups")
        groups = doc.get("groups")
        if groups is None:
            if "groups" not in doc:
                self.err(path, doc.pos, "rule file has no 'groups:'")
            return
        if not isinstance(groups, Seq):
            self.err(path, doc.where("groups"), "'groups' must be a list")
            return
        seen: dict[str, Pos] = {}
        for i, g in enumerate(groups):
            self.group(path, g, groups.where(i), seen)

    def group(self, file: str, g: Any, pos: Pos, seen: dict[str, Pos]) -> None:
        if not isinstance(g, Map):
            self.err(file, pos, "a group must be a mapping with 'name' and 'rules'")
            return
        for k in g:
            if k in GROUP_KEYS_UNSUPPORTED:
                self.err(
                    file,
                    g.where_key(k),
                    f"group field {k!r} (Prometheus {GROUP_KEYS_UNSUPPORTED[k]}) is not supported by "
                    "gpuwatch rule files yet",
                )
            elif k not in GROUP_KEYS:
                self.err(
                    file, g.where_key(k), f"unknown field {k!r} in group; allowed: {', '.join(GROUP_KEYS)}"
                )
        name = g.get("name")
        if not isinstance(name, str) or not name.strip():
            self.err(file, g.where("name"), "group needs a 'name' (a non-empty string)")
            return
        if name in seen:
            self.err(
                file,
                g.where("name"),
                f"group {name!r} defined twice in this file (first at line {seen[name][0]})",
            )
            return
        seen[name] = g.where("name")
        out: dict[str, Any] = {"group": name}
        if "interval" in g:
            self.duration(file, g, "interval", "group", positive=True)
            out["interval"] = g["interval"]
        if "limit" in g:
            lim = g["limit"]
            if isinstance(lim, bool) or not isinstance(lim, int) or lim < 0:
                self.err(file, g.where("limit"), f"group 'limit' must be a whole number >= 0, not {lim!r}")
            elif lim:
                out["limit"] = lim
        rules = g.get("rules")
        if rules is None:
            rules = Seq()
        if not isinstance(rules, Seq):
            self.err(file, g.where("rules"), "group 'rules' must be a list")
            return
        alerts: list[dict[str, Any]] = []
        recording: list[dict[str, Any]] = []
        # Prometheus 3's group labels apply to every rule (a rule's own label wins): a gpuwatch
        # file has none, so they are written on each rule, which gives the same series and alerts
        group_labels = self.strmap(file, g, "labels", "group")
        if group_labels:
            self.warn(
                file,
                g.where("labels"),
                f"group {name!r}: its labels ({', '.join(sorted(group_labels))}) are written on each rule",
            )
        copies: dict[tuple[str, str, str], int] = {}
        for i, r in enumerate(rules):
            key = _copy_key(r)
            if key is not None and key in copies:
                # Prometheus runs both, to no effect; the compiler refuses a copy: leave it out
                self.warn(
                    file,
                    rules.where(i),
                    f"rule {key[0]!r} is a copy of the one at line {copies[key]} (same name, labels and "
                    "expression): left out",
                )
                continue
            if key is not None:
                copies[key] = rules.where(i)[0]
            self.rule(file, name, r, rules.where(i), alerts, recording, group_labels)
        if not alerts and not recording:
            self.warn(file, g.where("name"), f"group {name!r} has no rules: not imported")
            return
        if recording:
            out["recording"] = recording
        if alerts:
            out["alerts"] = alerts
        self.groups.append((name, file, g.where("name"), out))

    def duration(self, file: str, m: Map, key: str, what: str, positive: bool = False) -> int | None:
        try:
            ms = parse_ms(m[key])
        except BadDuration as exc:
            self.err(file, m.where(key), f"{what} {key!r}: {exc}")
            return None
        if positive and ms <= 0:
            self.err(file, m.where(key), f"{what} {key!r} must be above zero")
        return ms

    def strmap(self, file: str, m: Map, key: str, what: str) -> dict[str, str]:
        if key not in m or m[key] is None:
            return {}
        v = m[key]
        if not isinstance(v, Map):
            self.err(file, m.where(key), f"{what} {key!r} must be a mapping of names to strings")
            return {}
        out: dict[str, str] = {}
        for k, val in v.items():
            if not isinstance(k, str) or not model.LABEL_RE.match(k):
                self.err(file, v.where_key(k), f"{what} {key!r}: {k!r} is not a valid label name")
            elif isinstance(val, (Map, Seq)) or val is None:
                self.err(file, v.where(k), f"{what} {key!r}: the value of {k!r} must be a string")
            else:
                out[k] = val if isinstance(val, str) else _scalar_text(val)
        return out

    def rule(
        self,
        file: str,
        group: str,
        r: Any,
        pos: Pos,
        alerts: list[dict[str, Any]],
        recording: list[dict[str, Any]],
        group_labels: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(r, Map):
            self.err(file, pos, "a rule must be a mapping with 'alert' or 'record', and 'expr'")
            return
        for k in r:
            if k not in RULE_KEYS:
                self.err(
                    file, r.where_key(k), f"unknown field {k!r} in rule; allowed: {', '.join(RULE_KEYS)}"
                )
        if ("alert" in r) == ("record" in r):
            self.err(file, r.pos, "a rule needs exactly one of 'alert' and 'record'")
            return
        expr = r.get("expr")
        if isinstance(expr, (int, float)) and not isinstance(expr, bool):
            expr = _scalar_text(expr)
        if not isinstance(expr, str) or not expr.strip():
            self.err(
                file, r.where("expr") if "expr" in r else r.pos, "rule needs 'expr' (a PromQL expression)"
            )
            return
        where_expr = r.where("expr")
        try:
            analysis = self.an.analyze(expr)
        except promql.PromQLError as exc:
            self.err(file, where_expr, f"PromQL: {exc}")
            for key in ("for", "keep_firing_for"):  # report the rule's other faults in the same run
                if key in r:
                    self.duration(file, r, key, "rule")
            self.strmap(file, r, "labels", "rule")
            return
        labels = {**(group_labels or {}), **self.strmap(file, r, "labels", "rule")}
        if "record" in r:
            name = r["record"]
            for k in ("for", "keep_firing_for", "annotations"):
                if k in r:
                    self.err(file, r.where_key(k), f"a recording rule cannot have {k!r}")
            if not isinstance(name, str) or not model.RECORD_RE.match(name):
                self.err(file, r.where("record"), f"recording rule name {name!r} is not a valid metric name")
                return
            self._no_threshold_refs(file, where_expr, expr, "expr")
            d: dict[str, Any] = {"record": name, "expr": expr}
            if labels:
                d["labels"] = labels
            recording.append(d)
            return
        self.alert(file, group, r, expr, analysis, labels, alerts)

    def _no_threshold_refs(self, file: str, pos: Pos, text: str, what: str) -> bool:
        if model.THRESHOLD_REF.search(text):
            self.err(
                file,
                pos,
                f"{what} contains '%{{...}}', which gpuwatch rule files read as a threshold reference; "
                "it cannot be imported unchanged",
            )
            return False
        return True

    def alert(
        self,
        file: str,
        group: str,
        r: Map,
        expr: str,
        analysis: promql.Analysis,
        labels: dict[str, str],
        alerts: list[dict[str, Any]],
    ) -> None:
        name = r["alert"]
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            self.err(file, r.where("alert"), f"alert name {name!r}: a name on one line is needed")
            return
        self._no_threshold_refs(file, r.where("expr"), expr, "expr")
        out: dict[str, Any] = {"alert": name, "expr": expr}
        for key in ("for", "keep_firing_for"):
            if key in r:
                ms = self.duration(file, r, key, "alert")
                if ms is not None:
                    out[key] = r[key] if isinstance(r[key], str) else fmt_ms(ms)
        sev = labels.pop("severity", None)
        static = dict(labels)
        if sev is None:
            self.warn(
                file, r.where("alert"), f"alert {name!r} has no severity label: imported as severity: warning"
            )
            out["severity"] = "warning"
            static["severity"] = "warning"
        elif sev in model.SEVERITIES:
            out["severity"] = sev
            static["severity"] = sev
        else:
            labels = {"severity": sev, **labels}  # kept verbatim as a label
            static["severity"] = sev
        comp = labels.get("component")
        if comp is not None and comp in model.COMPONENTS:
            out["component"] = labels.pop("component")
        annotations = self.strmap(file, r, "annotations", "rule")
        ann = dict(annotations)
        where_ann = r.where("annotations")
        summary = ann.pop("summary", None)
        if summary is None or not summary.strip():
            self.warn(
                file,
                r.where("alert"),
                f"alert {name!r} has no summary annotation, which gpuwatch requires: imported with the alert name as summary",
            )
            summary = name
        if self._no_threshold_refs(file, where_ann, summary, "annotation 'summary'"):
            out["summary"] = summary
        for key, dest in (("description", "description"), ("runbook_url", "runbook")):
            text = ann.pop(key, None)
            if text is None:
                continue
            if not text.strip():
                self.warn(file, where_ann, f"alert {name!r}: empty {key} annotation left out")
            elif key == "runbook_url" or self._no_threshold_refs(
                file, where_ann, text, f"annotation {key!r}"
            ):
                out[dest] = text
        if labels:
            out["labels"] = labels
        if ann:
            out["annotations"] = ann
        if not analysis.may_be_empty:
            out["always_fires"] = True
            if not _is_constant(expr):
                self.warn(
                    file,
                    r.where("expr"),
                    f"alert {name!r}: the expression has no comparison or filter, so it fires whenever its "
                    "series exist: imported with always_fires: true",
                )
        alerts.append(out)
        self.alerts.setdefault(name, []).append(_Alert(out, static, annotations, group, r.pos, file))

    # -- promtool tests -------------------------------------------------------------------------
    def test_file(self, path: str) -> int:
        doc = yamlsrc.load(path, path)
        if not isinstance(doc, Map):
            self.err(path, getattr(doc, "pos", None), "a promtool test file must be a mapping with 'tests:'")
            return 0
        for k in doc:
            if k not in TEST_FILE_KEYS:
                self.err(
                    path,
                    doc.where_key(k),
                    f"unknown field {k!r} in test file; allowed: {', '.join(TEST_FILE_KEYS)}",
                )
        self.eval_ms = 60_000
        if "evaluation_interval" in doc:
            ms = self.duration(path, doc, "evaluation_interval", "test file", positive=True)
            self.eval_ms = ms or 60_000
            if ms is not None and ms != 60_000:
                self.warn(
                    path,
                    doc.where("evaluation_interval"),
                    "evaluation_interval is not 1m: the compiled tests evaluate rules every 1m",
                )
        if "group_eval_order" in doc:
            self.warn(path, doc.where_key("group_eval_order"), "group_eval_order is not imported")
        tests = doc.get("tests")
        if not isinstance(tests, Seq):
            self.err(
                path, doc.where("tests") if "tests" in doc else doc.pos, "test file needs 'tests:' (a list)"
            )
            return 0
        n = 0
        for i, t in enumerate(tests):
            n += self.test_case(path, t, tests.where(i))
        return n

    def test_case(self, file: str, t: Any, pos: Pos) -> int:
        if not isinstance(t, Map):
            self.err(file, pos, "a test must be a mapping with input_series and alert_rule_test")
            return 0
        for k in t:
            if k not in TEST_KEYS:
                self.err(
                    file, t.where_key(k), f"unknown field {k!r} in test; allowed: {', '.join(TEST_KEYS)}"
                )
        label = f"test {t['name']!r}" if isinstance(t.get("name"), str) else f"test at line {pos[0]}"
        for k in ("external_labels", "external_url"):
            if k in t:
                self.warn(
                    file, t.where_key(k), f"{label}: {k} is not imported (the compiled tests run without it)"
                )
        if "promql_expr_test" in t:
            self.warn(
                file,
                t.where_key("promql_expr_test"),
                f"{label}: promql_expr_test is not imported (gpuwatch tests are per alert)",
            )
        # promtool's default series interval is the file's evaluation_interval
        interval_ms: int | None = self.eval_ms
        if "interval" in t:
            interval_ms = self.duration(file, t, "interval", "test", positive=True)
        interval = "1m" if not interval_ms or interval_ms == 60_000 else fmt_ms(interval_ms)
        series: dict[str, str] = {}
        raw = t.get("input_series", Seq())
        if not isinstance(raw, Seq):
            self.err(file, t.where("input_series"), "'input_series' must be a list")
            return 0
        for i, s in enumerate(raw):
            if not isinstance(s, Map) or not isinstance(s.get("series"), str):
                self.err(
                    file, raw.where(i), "an input series needs 'series' (a selector string) and 'values'"
                )
                continue
            vals = s.get("values", "")
            sel = s["series"]
            if sel in series:
                self.err(file, raw.where(i), f"series {sel!r} given twice in one test")
                continue
            series[sel] = vals if isinstance(vals, str) else _scalar_text(vals)
        steps = t.get("alert_rule_test", Seq())
        if not isinstance(steps, Seq):
            self.err(file, t.where("alert_rule_test"), "'alert_rule_test' must be a list")
            return 0
        # per alert name: expected alerts (as a hashable key) -> eval times; and the not-firing times
        per_alert: dict[
            str, tuple[dict[str, list[str]], list[str], dict[str, list[dict[str, Any]]], Pos]
        ] = {}
        for i, step in enumerate(steps):
            if not isinstance(step, Map):
                self.err(file, steps.where(i), "an alert_rule_test entry must be a mapping")
                continue
            name, at = step.get("alertname"), step.get("eval_time")
            if not isinstance(name, str):
                self.err(file, steps.where(i), "alert_rule_test needs 'alertname'")
                continue
            if name not in self.alerts:
                self.err(
                    file,
                    step.where("alertname"),
                    f"alert_rule_test names alert {name!r}, which no imported rule file defines",
                )
                continue
            if "eval_time" not in step:
                self.err(file, steps.where(i), "alert_rule_test needs 'eval_time'")
                continue
            if self.duration(file, step, "eval_time", "alert_rule_test") is None:
                continue
            at_text = at if isinstance(at, str) else fmt_ms(parse_ms(at))
            fires, not_at, expects, _ = per_alert.setdefault(name, ({}, [], {}, steps.where(i)))
            exp = step.get("exp_alerts") or Seq()
            if not isinstance(exp, Seq):
                self.err(file, step.where("exp_alerts"), "'exp_alerts' must be a list")
                continue
            if not exp:
                not_at.append(at_text)
                continue
            converted = self.expected(file, name, exp)
            if converted is None:
                continue
            key = repr(converted)
            fires.setdefault(key, []).append(at_text)
            expects[key] = converted
        n = 0
        for name, (fires, not_at, expects, where) in per_alert.items():
            targets = self.alerts[name]
            tests: list[dict[str, Any]] = []
            for key, times in fires.items():
                test: dict[str, Any] = {"series": dict(series)}
                if interval != "1m":
                    test["interval"] = interval
                times = sorted(times, key=parse_ms)
                test["fires_at"] = times if len(times) > 1 else times[0]
                test["expect"] = expects[key]
                tests.append(test)
            if not_at:
                not_at = sorted(not_at, key=parse_ms)
                if tests:
                    tests[0]["not_at"] = not_at if len(not_at) > 1 else not_at[0]
                else:
                    test = {"series": dict(series)}
                    if interval != "1m":
                        test["interval"] = interval
                    test["not_at"] = not_at if len(not_at) > 1 else not_at[0]
                    tests.append(test)
            # an alert name with several rules (tiers by severity): the test goes to the rule whose
            # severity its expected alerts carry, else to the first
            for test in tests:
                target = targets[0]
                sevs = {e.get("_severity") for e in test.get("expect", [])}
                tiers = [a for a in targets if a.static_labels.get("severity") in sevs]
                if len(tiers) > 1:
                    self.warn(
                        file,
                        where,
                        f"alert {name!r}: a step at {test['fires_at']} expects several of its rules "
                        "(severity tiers) firing at once, which a gpuwatch test (one rule each) cannot "
                        "say: not imported",
                    )
                    continue
                if tiers:
                    target = tiers[0]
                for e in test.get("expect", []):
                    e.pop("_severity", None)
                    for k, v in target.static_labels.items():
                        if e["labels"].get(k) == v:
                            del e["labels"][k]
                target.out.setdefault("tests", []).append(_order_test(test))
                n += 1
            if not tests:
                self.warn(file, where, f"no alert_rule_test steps for {name!r} could be imported")
        return n

    def expected(self, file: str, name: str, exp: Seq) -> list[dict[str, Any]] | None:
        out = []
        for j, e in enumerate(exp):
            if not isinstance(e, Map):
                self.err(file, exp.where(j), "an exp_alerts entry must be a mapping")
                return None
            for k in e:
                if k not in ("exp_labels", "exp_annotations"):
                    self.err(
                        file,
                        e.where_key(k),
                        f"unknown field {k!r} in exp_alerts; allowed: exp_labels, exp_annotations",
                    )
            labels = self.strmap(file, e, "exp_labels", "exp_alerts")
            anns = self.strmap(file, e, "exp_annotations", "exp_alerts")
            d: dict[str, Any] = {"labels": labels, "annotations": anns, "_severity": labels.get("severity")}
            out.append(d)
        return out

    # -- output ---------------------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        out: dict[str, str] = {}
        names: dict[str, tuple[str, Pos]] = {}
        used_files: dict[str, str] = {}
        given = {g[0] for g in self.groups}
        for name, file, pos, doc in self.groups:
            if name in names:  # Prometheus takes one name in two files; a pack's groups name its files
                first = names[name]
                n = 2
                while f"{name}_{n}" in names or f"{name}_{n}" in given:
                    n += 1
                new = f"{name}_{n}"
                self.warn(
                    file,
                    pos,
                    f"group {name!r} is also defined in {first[0]}:{first[1][0]}: imported as {new!r} "
                    "(a gpuwatch pack needs unique group names; they name the compiled files)",
                )
                doc["group"] = name = new
            names[name] = (file, pos)
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name):
                new = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
                new = new if re.match(r"[A-Za-z_]", new) else "_" + new
                self.warn(
                    file,
                    pos,
                    f"group {name!r} imported as {new!r}: gpuwatch group names are letters, digits, "
                    "'_', '-' and '.' (they name the compiled files)",
                )
                doc["group"] = name = new
                if name in names:
                    self.err(file, pos, f"group {name!r} (renamed) is also defined in {names[name][0]}")
                    continue
                names[name] = (file, pos)
            stem = _FILE_SAFE.sub("_", name)
            if stem in _RESERVED_FILES or stem.lower().endswith((".yml", ".yaml")):
                stem += "-rules"
            fname = f"{stem}.yml"
            if fname.lower() in used_files:
                self.err(
                    file,
                    pos,
                    f"group {name!r} would be written to {fname}, as group {used_files[fname.lower()]!r}",
                )
                continue
            used_files[fname.lower()] = name
            head = (
                f"# Imported from {file} (group {name!r}) by gpuwatch-rules import.\n"
                "# Compile with: gpuwatch-rules compile DIR -o OUT (this file is a source: edit it freely).\n"
            )
            out[fname] = head + dump(doc)
        return out


def _scalar_text(v: Any) -> str:
    """A YAML scalar as Prometheus (Go's YAML decoder into a string) reads it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v)) if "e" not in repr(v) else repr(v)
    return str(v)


def _is_constant(expr: str) -> bool:
    """``vector(1)`` and the like: an expression that reads no series at all."""
    try:
        node = promql.parse(expr)
    except promql.PromQLError:
        return False
    return not any(type(n).__name__ == "VectorSelector" for n in promql._walk(node))


def _order_test(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("series", "interval", "not_at", "fires_at", "expect")
    return {k: t[k] for k in keys if k in t}


# -- YAML out -------------------------------------------------------------------------------------


class _D(yaml.SafeDumper):  # the Python emitter: libyaml's ignores increase_indent
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # "  - alert: ..." under its key, as the pack is written


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.Node:
    style = "|" if "\n" in s and not s.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_D.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_D, sort_keys=False, default_flow_style=False, width=1_000_000, allow_unicode=True
    )


# -- entry points ---------------------------------------------------------------------------------


def convert(rule_files: list[str], test_files: list[str] = ()) -> Result:  # type: ignore[assignment]
    """Import ``rule_files`` (and promtool ``test_files``); raises :class:`RulesError` listing
    every problem found, or returns the files to write and the warnings."""
    imp = _Importer()
    res = Result(sources=list(rule_files) + list(test_files))
    for f in rule_files:
        try:
            imp.rule_file(f)
        except RulesError as exc:  # YAML syntax, unreadable: reported with the others
            imp.p.extend(exc)
    imp.p.raise_if_any()
    for f in test_files:
        try:
            res.tests += imp.test_file(f)
        except RulesError as exc:
            imp.p.extend(exc)
    files = imp.files()
    imp.p.raise_if_any()
    res.files = files
    res.warnings = imp.warnings
    res.groups = len(files)
    res.alerts = sum(len(v) for v in imp.alerts.values())
    res.recordings = sum(len(doc.get("recording", [])) for _, _, _, doc in imp.groups)
    return res


def write(files: dict[str, str], outdir: str, force: bool = False) -> list[Path]:
    """Write ``files`` into ``outdir`` all or nothing: staged in a temporary folder beside it,
    then moved in. Existing files are replaced only with ``force``."""
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise RulesError("output exists and is not a folder", outdir)
    clash = sorted(n for n in files if (out / n).exists())
    if clash and not force:
        raise RulesError(f"would overwrite {', '.join(clash)}; pass --force to replace them", outdir)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=parent))
    except OSError as exc:
        raise RulesError(f"cannot create a staging folder: {exc.strerror}", str(parent)) from None
    try:
        for name, text in files.items():
            (stage / name).write_text(text, encoding="utf-8")
        if not out.exists():
            os.rename(stage, out)
            stage = None  # type: ignore[assignment]
        else:
            for name in files:
                os.replace(stage / name, out / name)
    except OSError as exc:
        raise RulesError(f"cannot write: {exc.strerror}", outdir) from None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    return [out / n for n in files]


def _copy_key(r: Any) -> tuple[str, str, str] | None:
    """(name, expression, labels) of a well-formed rule, to find copies within a group."""
    name = r.get("alert", r.get("record")) if isinstance(r, Map) else None
    if not isinstance(name, str):
        return None
    labels = r.get("labels")
    lab = sorted((str(k), str(v)) for k, v in labels.items()) if isinstance(labels, Map) else []
    return (name, " ".join(str(r.get("expr", "")).split()), repr(lab))
