"""The habits the repository keeps: CI lints before it tests, the pre-commit hooks run what
`make lint` runs, and `make test-fast` leaves out exactly the tests that need real programs."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT

FAST_MARKERS = {"slurm", "prometheus", "e2e", "ansible", "load"}


def _recipe(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text()
    m = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", text, re.M)
    assert m, f"Makefile has no recipe for {target}"
    return [line.strip() for line in m.group(1).splitlines()]


def test_ci_runs_lint_before_the_tests():
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make lint" in lines and "make test" in lines
    assert lines.index("make lint") < lines.index("make test")


def test_pre_commit_runs_what_make_lint_runs():
    lint = _recipe("lint")
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    assert [r["repo"] for r in hooks] == ["local"]  # nothing fetched
    entries = [h["entry"] for h in hooks[0]["hooks"]]

    def tool_args(cmd: str) -> str:
        return re.sub(r"\$\(VENV\)|\.venv", "VENV", cmd).replace(" --force-exclude", "").removesuffix(" .")

    assert sorted(tool_args(e) for e in entries) == sorted(tool_args(c) for c in lint)


def test_test_fast_leaves_out_every_real_program_marker():
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    declared = {m.split(":", 1)[0] for m in markers}
    assert FAST_MARKERS <= declared
    recipe = " ".join(_recipe("test-fast"))
    assert "GPUWATCH_TEST_FAST=1" in recipe  # require_programs() fails an unmarked test
    fast = re.search(r"^FAST_MARKERS := (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert fast and set(re.findall(r"not (\w+)", fast.group(1))) == FAST_MARKERS
