"""Running promtool and amtool over compiled outputs (used by ``check`` when they are installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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
        out.append(("promtool test rules", *_run([tool, "test", "rules", *tests], cwd=outdir / "prometheus/tests")))
    return out


def amtool_check(outdir: Path) -> list[tuple[str, int, str]]:
    tool = which("amtool")
    if tool is None:
        return []
    return [("amtool check-config", *_run([tool, "check-config", str(outdir / "alertmanager/alertmanager.yml")]))]


def raise_failures(results: list[tuple[str, int, str]], display: str) -> None:
    bad = [(w, rc, o) for w, rc, o in results if rc != 0]
    if bad:
        raise RulesError(problems=[__import__("gpuwatch.rules.errors", fromlist=["Problem"]).Problem(
            display, None, None, f"{w} failed (exit {rc}):\n{o}") for w, rc, o in bad])
