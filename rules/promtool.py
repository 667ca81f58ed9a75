"""Running promtool and amtool over compiled outputs (used by ``check`` when they are installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from . import model
from .durations import BadDuration, parse_ms
from .errors import Problem, RulesError


def which(name: str) -> str | None:
    return shutil.which(name)


def _run(args: list[str], cwd: Path | None = None) -> tuple[int, str]:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def promtool_check(outdir: Path) -> list[tuple[str, int, str]]:
    """(what, exit status, output) for promtool check rules and test rules."""
    tool = which("promtool")
    if tool is None:
        return []
    rules = sorted(str(p) for p in (outdir / "prometheus/rules").glob("*.yml"))
    tests = sorted(p.name for p in (outdir / "prometheus/tests").glob("*.yml"))
    out = [("promtool check rules", *_run([tool, "check", "rules", *rules]))]
    if tests:
        out.append(
            ("promtool test rules", *_run([tool, "test", "rules", *tests], cwd=outdir / "prometheus/tests"))
        )
    return out


def amtool_version() -> tuple[int, int] | None:
    """The installed amtool's Alertmanager version (None: not installed or not told)."""
    tool = which("amtool")
    if tool is None:
        return None
    rc, out = _run([tool, "--version"])
    m = re.search(r"version (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if rc == 0 and m else None


def amtool_check(outdir: Path, version: tuple[int, int] | None = None) -> list[tuple[str, int, str]]:
    """amtool check-config on the output; not run when the installed amtool is older than the
    Alertmanager ``version`` compiled for (it would refuse what that version accepts)."""
    tool = which("amtool")
    if tool is None:
        return []
    have = amtool_version() if version is not None else None
    if have is not None and version is not None and have < version:
        return []
    return [
        ("amtool check-config", *_run([tool, "check-config", str(outdir / "alertmanager/alertmanager.yml")]))
    ]


def raise_failures(results: list[tuple[str, int, str]], display: str) -> None:
    bad = [(w, rc, o) for w, rc, o in results if rc != 0]
    if bad:
        raise RulesError(
            problems=[Problem(display, None, None, f"{w} failed (exit {rc}):\n{o}") for w, rc, o in bad]
        )


_UNIT_FILE = re.compile(r"^Unit Testing:\s+(\S+)_test\.yml\s*$", re.M)
# promtool 2.x failure blocks: an alert_rule_test step (named) and a promql_expr_test (the ALERTS
# query a 'fires_at' without 'expect' compiles to)
_ALERT_FAIL = re.compile(
    r"^ {4}name: (?P<alert>[A-Za-z_][A-Za-z0-9_]*) \((?P<sev>[^)]*)\) test (?P<i>\d+),\s*\n"
    r"\s*alertname: \S+, time: (?P<time>[0-9a-z]+),",
    re.M,
)
_EXPR_FAIL = re.compile(
    r'^ {4}expr: "max\(ALERTS\{alertname=\\"(?P<alert>[A-Za-z_][A-Za-z0-9_]*)\\", '
    r'alertstate=\\"firing\\", severity=\\"(?P<sev>[^\\]*)\\"[^\n]*\}\)", time: (?P<time>[0-9a-z]+),',
    re.M,
)


def promtool_test_problems(output: str, alerts: list[model.Alert]) -> list[Problem]:
    """promtool's failed unit-test steps, each pointed at the alert test in the source it was
    compiled from (promtool names the generated file, which the user never edits), with what it
    expected and got. [] when a failure cannot be placed: the caller keeps promtool's words."""
    marks = sorted(
        [(m.start(), "file", m) for m in _UNIT_FILE.finditer(output)]
        + [(m.start(), "alert", m) for m in _ALERT_FAIL.finditer(output)]
        + [(m.start(), "expr", m) for m in _EXPR_FAIL.finditer(output)],
        key=lambda x: x[0],
    )
    fails = [x for x in marks if x[1] != "file"]
    if not fails:
        return []
    out: list[Problem] = []
    group = ""
    for n, (_, kind, m) in enumerate(marks):
        if kind == "file":
            group = m.group(1)
            continue
        end = marks[n + 1][0] if n + 1 < len(marks) else len(output)
        detail = " ".join(output[m.end() : end].split()).rstrip(",")
        detail = detail.replace("exp:[],", "expected no alert,").replace("got:[]", "got none")
        detail = detail.replace("exp:", "expected: ").replace("got:", "got: ")
        try:
            at = parse_ms(m.group("time"))
        except BadDuration:
            return []
        cands = [a for a in alerts if a.name == m.group("alert") and a.severity == m.group("sev")]
        cands = [a for a in cands if a.group == group] or cands
        test = None
        if kind == "alert" and len(cands) == 1 and int(m.group("i")) <= len(cands[0].tests):
            test = cands[0].tests[int(m.group("i")) - 1]
        elif kind == "expr":
            hits = [t for a in cands for t in a.tests if at in t.fires_at and not t.exact]
            test = hits[0] if len(hits) == 1 else None
            detail = "expected the alert firing, but it was not (never, still pending, or resolved)"
        if test is None:
            return []
        alert = cands[0] if len(cands) == 1 else next(a for a in cands if test in a.tests)
        out.append(
            Problem(
                alert.file,
                test.pos[0],
                test.pos[1],
                f"promtool test of {alert.name!r} fails at {m.group('time')}: {detail}",
            )
        )
    return out


_AM_UNKNOWN_FIELD = re.compile(r"field (\S+) not found in type (\S+)")


def _find_keys(node: Any, key: str, out: list) -> list:
    """Positions of every mapping key ``key`` in a loaded (position-keeping) document."""
    from .yamlsrc import Map, Seq

    if isinstance(node, Map):
        for k in node:
            if k == key:
                out.append(node.where_key(k))
            _find_keys(node[k], key, out)
    elif isinstance(node, Seq):
        for child in node:
            _find_keys(child, key, out)
    return out


def amtool_source_problems(output: str, notifications_file: str, notifications_display: str) -> list:
    """amtool's 'field X not found in type Y' lines, pointed at the notifications source's line
    (amtool names a line of the generated file, which the user never edits). [] when none map."""
    from .errors import Problem
    from .yamlsrc import load

    found = _AM_UNKNOWN_FIELD.findall(output)
    if not found or not notifications_file:
        return []
    try:
        doc = load(notifications_file, notifications_display)
    except Exception:  # noqa: BLE001 - the file compiled a moment ago; if it vanished, keep amtool's words
        return []
    out = []
    for key, _type in found:
        places = _find_keys(doc, key, [])
        if len(places) != 1:  # absent, or valid somewhere else too: keep amtool's own words
            return []
        pos = places[0]
        out.append(
            Problem(
                notifications_display,
                pos[0],
                pos[1],
                f"unknown field {key!r}: Alertmanager has no such field there (amtool check-config refuses it)",
            )
        )
    return out
