"""Long fuzzing: every hypothesis property under tests/ with many more examples.

``python bench/fuzz.py [--examples N] [--seconds-per-property S] [PATH ...]`` (``make fuzz``)
collects the property-based tests (functions decorated with ``@given``) in the given test files
(default: every test file under tests/ that uses hypothesis: the Slurm parsers, the alert loader,
the web config loader, ...), deselects everything else, raises each property's ``max_examples``
(an explicit ``@settings(max_examples=...)`` on the test included) and drops its deadline, and
runs them. Hypothesis keeps any failing example in its database (.hypothesis/, git-ignored), so
the ordinary ``make test`` replays it until fixed; a crash found here is then turned into an
explicit regression test (an ``@example(...)`` or a plain test beside the property).

Quick mode (``BENCH_QUICK=1`` / ``--quick``): 2,000 examples per property; default 20,000.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV_EXAMPLES = "GPUWATCH_FUZZ_EXAMPLES"


# --- the pytest plugin (loaded in the child pytest with ``-p fuzz``) ------------------------------


def pytest_collection_modifyitems(session, config, items):
    from hypothesis import HealthCheck, settings

    n = int(os.environ[ENV_EXAMPLES])
    keep, drop = [], []
    for item in items:
        fn = getattr(item, "obj", None)
        if fn is not None and getattr(fn, "is_hypothesis_test", False):
            current = getattr(fn, "_hypothesis_internal_use_settings", None) or settings()
            fn._hypothesis_internal_use_settings = settings(
                current, max_examples=n, deadline=None, suppress_health_check=list(HealthCheck)
            )
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep


# --- the driver ----------------------------------------------------------------------------------


def property_files() -> list[Path]:
    out = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"^\s*@given\(", text, re.M):
            out.append(path)
    return out


STATS = re.compile(r"(\d+) passing(?: examples?)?, (\d+) failing(?: examples?)?,? (?:and )?(\d+) invalid")


def run(quick: bool = False, examples: int | None = None, paths: list[str] | None = None) -> dict:
    n = examples or (2000 if quick else 20000)
    files = [Path(p) for p in paths] if paths else property_files()
    if not files:
        return {"summary": "no property-based tests found", "properties": []}
    env = dict(os.environ, **{ENV_EXAMPLES: str(n)})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory(prefix="gpuwatch-fuzz-") as tmp:
        junit = Path(tmp) / "junit.xml"
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "fuzz",
            "-q",
            "--timeout=0",
            "-p",
            "no:randomly",
            "--hypothesis-show-statistics",
            f"--junitxml={junit}",
            *map(str, files),
        ]
        t0 = time.monotonic()
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.monotonic() - t0
        props = []
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                failed = case.find("failure") is not None or case.find("error") is not None
                props.append(
                    {
                        "property": f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}".replace(
                            "tests/", "", 1
                        ),
                        "seconds": round(float(case.get("time", 0)), 1),
                        "result": "FAILED" if failed else "ok",
                    }
                )
    # per-test statistics from --hypothesis-show-statistics, in the same order as the tests ran
    blocks = re.split(r"\n(?=\S[^\n]*::\S+:\n)", "\n" + proc.stdout)
    counts, reasons = {}, {}
    for b in blocks:
        head = b.strip().splitlines()[0] if b.strip() else ""
        m = re.match(r"(\S+::\S+):$", head)
        if not m:
            continue
        passing = sum(int(x[0]) for x in STATS.findall(b))
        counts[m.group(1).split("::")[-1]] = passing
        stop = re.search(r"Stopped because ([^\n]+)", b)
        if stop:
            reasons[m.group(1).split("::")[-1]] = stop.group(1).strip()
    for p in props:
        name = p["property"].split("::")[-1]
        if name in counts:
            p["passing examples"] = counts[name]
        if name in reasons:
            p["stopped because"] = reasons[name]
    failures = [p for p in props if p["result"] != "ok"]
    out = {
        "title": "Fuzzing: hypothesis properties with many examples",
        "summary": (
            f"{len(props)} properties from {len(files)} test files, up to {n:,} examples each, "
            f"{len(failures)} failing, {wall:.0f} s in all."
        ),
        "examples per property": n,
        "properties": props,
    }
    if failures or proc.returncode not in (0, 5):
        out["pytest output (tail)"] = "\n".join(proc.stdout.splitlines()[-60:])
        out["failed"] = True
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description="run every hypothesis property with many examples")
    ap.add_argument("paths", nargs="*", help="test files (default: every test file using @given)")
    ap.add_argument("--examples", type=int)
    ap.add_argument(
        "--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0")
    )
    args = ap.parse_args()
    res = run(args.quick, args.examples, args.paths)
    print(res["summary"])
    for p in res["properties"]:
        print(
            f"  {p['result']:6} {p['seconds']:8.1f} s  {p.get('passing examples', '?'):>7}  {p['property']}"
        )
    if res.get("failed"):
        print(res.get("pytest output (tail)", ""))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
