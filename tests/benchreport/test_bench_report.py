"""bench/run_all.py: discovery, the generic rendering of results, plots and the machine section
(on synthetic results; the benchmarks themselves are not run in CI)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run_all():
    spec = importlib.util.spec_from_file_location("bench_run_all", ROOT / "bench" / "run_all.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_discovers_benchmarks_with_run_and_skips_helpers():
    found = _run_all().discover()
    assert "load" in found and "faults" in found
    for helper in ("run_all", "fuzz"):
        assert helper not in found


def test_report_tables_plots_and_machine(tmp_path):
    ra = _run_all()
    runs = [
        {
            "name": "demo",
            "status": "ok",
            "seconds": 1.5,
            "error": None,
            "result": {
                "title": "Demo benchmark",
                "summary": "What it measures.",
                "goal_met": True,
                "rows": [
                    {"jobs": 100, "parse_ms": 1.0, "rss_mb": 20.0},
                    {"jobs": 1000, "parse_ms": 9.5, "rss_mb": 21.0},
                    {"jobs": 10000, "parse_ms": 101.0, "rss_mb": 30.0},
                ],
                "sizes": {"100": {"compile_s": 0.1}, "1000": {"compile_s": 1.2}},
                "variants": {"a": {"p50_ms": 1.0, "errors": 0}, "b": {"p50_ms": 2.0, "errors": 3}},
                "notes": ["a note"],
            },
        },
        {
            "name": "broken",
            "status": "failed",
            "seconds": 0.1,
            "error": "RuntimeError: boom\n",
            "result": None,
        },
    ]
    out = tmp_path / "RESULTS.md"
    info = ra.machine()
    plots = ra.write_report(
        runs, info, quick=True, skipped=["`bench/x.py` is not present yet: skipped"], out=out
    )
    text = out.read_text()
    for key in ("cpu", "cores", "memory", "python", "slurm", "date"):
        assert f"| {key} |" in text, key
    assert "## Demo benchmark (`bench/demo.py`)" in text
    assert "| jobs | parse_ms | rss_mb |" in text and "| 10000 | 101 | 30.00 |" in text.replace(
        "10,000", "10000"
    )
    assert "| size | compile_s |" in text
    assert "|  | p50_ms | errors |" in text and "| b | 2.00 | 3 |" in text
    assert "RuntimeError: boom" in text and "**Quick mode**" in text and "not present yet" in text
    assert "- a note" in text
    assert len(plots) == 2 and all(p.exists() and p.read_bytes()[:4] == b"\x89PNG" for p in plots)
    for p in plots:
        assert f"]({p.name})" in text


def test_rewriting_keeps_the_hand_maintained_tail(tmp_path):
    """Numbers measured outside `make bench` (below KEPT_MARKER) survive a rewrite of the report."""
    ra = _run_all()
    out = tmp_path / "RESULTS.md"
    out.write_text(f"# old report\n\n| stale | 1 |\n\n{ra.KEPT_MARKER}\n## Measured outside\n\n- e2e 4.2 s\n")
    runs = [{"name": "demo", "status": "ok", "seconds": 1.0, "error": None, "result": {"p50_ms": 3.0}}]
    ra.write_report(runs, {"cores": 2}, quick=False, skipped=[], out=out)
    text = out.read_text()
    assert "stale" not in text and "## demo (`bench/demo.py`)" in text
    assert text.endswith(f"{ra.KEPT_MARKER}\n## Measured outside\n\n- e2e 4.2 s\n")
    assert text.index("## demo") < text.index(ra.KEPT_MARKER)
    out.unlink()
    ra.write_report(runs, {"cores": 2}, quick=False, skipped=[], out=out)
    assert ra.KEPT_MARKER not in out.read_text()


def test_committed_results_keep_their_tail_and_docs_link_there():
    """bench/RESULTS.md holds the hand-kept section the docs point at."""
    ra = _run_all()
    text = (ROOT / "bench" / "RESULTS.md").read_text()
    assert ra.KEPT_MARKER in text
    assert "## Measured outside `make bench`" in text.split(ra.KEPT_MARKER, 1)[1]
