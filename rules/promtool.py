"""Running promtool and amtool over compiled outputs (used by ``check`` when they are installed)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .errors import RulesError


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
            problems=[
                __import__("gpuwatch.rules.errors", fromlist=["Problem"]).Problem(
                    display, None, None, f"{w} failed (exit {rc}):\n{o}"
                )
                for w, rc, o in bad
            ]
        )


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
