"""Run every benchmark under bench/ and write bench/RESULTS.md (+ PNG plots).

A benchmark is any ``bench/*.py`` with a top-level ``run(quick: bool) -> dict``. ``BENCH_QUICK=1``
(or ``--quick``) asks each for its short form. ``--only NAME`` runs a subset. A benchmark that
fails is reported with its error and the others still run (exit status 1 then).

What ``run`` returns is rendered generically, so benchmark authors need no renderer:

- a dict of scalars becomes a two-column table; a dict of such dicts becomes one table with a row
  per key; a list of dicts becomes a table with their keys as columns; deeper nesting becomes
  sub-sections;
- optional keys with a fixed meaning: ``title`` (section heading), ``summary`` (a paragraph),
  ``notes`` (list of lines), ``tables`` (list of ``{"title", "columns", "rows"}``), ``plots``
  (list of ``{"title", "x", "x_label", "y_label", "lines": {name: [y, ...]}, "log": bool}``);
- a list of dicts with a size column (``jobs``, ``nodes``, ``gpus``, ``size``, ``n``, ...) and
  numeric cost columns is also plotted as cost against size, log-log, one PNG per list.

Raw results go to ``bench/out/results.json`` (git-ignored).

Numbers measured outside ``make bench`` (printed by tests, taken by hand) live in RESULTS.md too,
below the line ``KEPT_MARKER``: that part of the existing file is carried over unchanged whenever
the report is rewritten, so RESULTS.md stays the one place with measured numbers.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOT_BENCHMARKS = {"run_all", "fuzz"}
# What the issue asks `make bench` to cover, by file pattern (written by several helpers).
EXPECTED = {
    "slurm_*.py": "Slurm RPCs per cycle, cycle time against bare commands, parse scaling",
    "gpu_scrape.py": "GPU scrape cost",
    "rules_compile.py": "alert pack compile time",
    "load.py": "50 concurrent scrapers per exporter",
    "faults.py": "long fault runs",
    "jobstats_bench.py": "gpuwatch-jobstats summary over a backfilled week of 1,000 jobs",
}
# Everything from this line to the end of an existing report is kept when the report is rewritten.
KEPT_MARKER = "<!-- kept by bench/run_all.py: hand-maintained from here to the end -->"
SIZE_KEYS = (
    "jobs",
    "nodes",
    "gpus",
    "size",
    "n",
    "cluster_size",
    "array_size",
    "alerts",
    "rules",
    "users",
    "partitions",
)


# --- discovery and running -----------------------------------------------------------------------


def discover() -> dict[str, Path]:
    found = {}
    for path in sorted(HERE.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name in NOT_BENCHMARKS:
            continue
        if re.search(r"^def run\(", path.read_text(encoding="utf-8"), re.M):
            found[name] = path
    return found


def load_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_one(name: str, path: Path, quick: bool) -> dict:
    t0 = time.monotonic()
    try:
        mod = load_module(name, path)
        result = mod.run(quick=quick)
        status = "ok"
        error = None
    except Exception as exc:  # noqa: BLE001 (one failing benchmark must not hide the others)
        result, status = None, "failed"
        error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=6)
    return {
        "name": name,
        "status": status,
        "seconds": round(time.monotonic() - t0, 1),
        "result": result,
        "error": error,
    }


# --- the machine ---------------------------------------------------------------------------------


def _cmd(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (
        (out.stdout or out.stderr).strip().splitlines()[0]
        if out.returncode == 0 and (out.stdout or out.stderr)
        else None
    )


def machine() -> dict:
    info = {"date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = m.group(1).strip() if m else platform.processor() or platform.machine()
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    info["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        kb = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
        info["memory"] = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        info["memory"] = "unknown"
    try:
        osr = Path("/etc/os-release").read_text()
        info["os"] = re.search(r'^PRETTY_NAME="?([^"\n]+)', osr, re.M).group(1)
    except (OSError, AttributeError):
        info["os"] = platform.platform()
    info["kernel"] = platform.release()
    info["python"] = platform.python_version()
    info["slurm"] = _cmd(["sinfo", "--version"]) or _cmd(["/usr/sbin/slurmctld", "-V"]) or "not installed"
    info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info["commit"] = _cmd(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "unknown"
    return info


# --- rendering -----------------------------------------------------------------------------------


def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 1:
            return f"{v:.2f}"
        return f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={fmt(x)}" for k, x in v.items()) or "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt(x) for x in v)
    if v is None:
        return "-"
    return str(v).replace("|", "\\|").replace("\n", " ")


def is_scalar(v) -> bool:
    """A value for a two-column key/value row: a leaf, or a short list of leaves."""
    return is_scalar_leaf(v) or (
        isinstance(v, (list, tuple)) and len(v) <= 6 and all(is_scalar_leaf(x) for x in v)
    )


def is_cell(v) -> bool:
    """A value for a table cell: a scalar, or a small dict of leaves (``{"TimeoutError": 3}``)."""
    return is_scalar(v) or (
        isinstance(v, dict) and len(v) <= 6 and all(is_scalar_leaf(x) for x in v.values())
    )


def is_scalar_leaf(v) -> bool:
    return v is None or isinstance(v, (str, int, float, bool))


UNITS = (
    ("_ms", "milliseconds"),
    ("_s", "seconds"),
    ("seconds", "seconds"),
    ("_bytes", "bytes"),
    ("_mb", "MB"),
    ("_kb", "KB"),
    ("_kib", "KiB"),
    ("rps", "per second"),
    ("_ratio", "ratio"),
)


def _unit(column: str) -> str:
    c = column.lower()
    for suffix, unit in UNITS:
        if c.endswith(suffix) or f"{suffix}_" in c:
            return unit
    return "count"


def _all_numbers(rows: list[dict], col: str, positive: bool = False) -> bool:
    vals = [r.get(col) for r in rows]
    return all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and (v > 0 or not positive) for v in vals
    )


def _is_number(k) -> bool:
    if isinstance(k, bool):
        return False
    if isinstance(k, (int, float)):
        return True
    try:
        float(str(k).replace(",", "").replace("_", ""))
        return True
    except ValueError:
        return False


def _num(k):
    v = float(str(k).replace(",", "").replace("_", ""))
    return int(v) if v.is_integer() else v


def _singular(word: str) -> str:
    word = word.strip().lower()
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def table(columns: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(fmt(c) for c in columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return out + [""]


class Renderer:
    def __init__(self, name: str, plot_dir: Path):
        self.name = name
        self.plot_dir = plot_dir
        self.plots: list[Path] = []

    def render(self, value, depth: int, title: str | None = None) -> list[str]:
        lines: list[str] = []
        if title:
            lines += [f"{'#' * min(depth, 6)} {title}", ""]
        if isinstance(value, dict):
            value = dict(value)
            for key in ("summary",):
                if isinstance(value.get(key), str):
                    lines += [value.pop(key), ""]
            value.pop("title", None)
            notes = value.pop("notes", None)
            for t in value.pop("tables", None) or []:
                lines += [f"**{t.get('title', '')}**", ""] if t.get("title") else []
                lines += table(t["columns"], t["rows"])
            for p in value.pop("plots", None) or []:
                lines += self.explicit_plot(p)
            if (
                value
                and all(_is_number(k) for k in value)
                and all(isinstance(v, dict) for v in value.values())
            ):
                # {size: {metric: value}}: a table with the size as first column, plotted against it
                xname = _singular(title or "size")
                lines += self._rows([{xname: _num(k), **v} for k, v in value.items()], xname, title)
                value = {}
            scalars = {k: v for k, v in value.items() if is_scalar(v)}
            if scalars:
                lines += table(["", ""], [[k, v] for k, v in scalars.items()])
            rest = {k: v for k, v in value.items() if k not in scalars}
            if (
                rest
                and all(
                    isinstance(v, dict) and v and all(is_cell(x) for x in v.values()) for v in rest.values()
                )
                and not any(all(_is_number(k) for k in v) for v in rest.values())
            ):
                cols = []
                for v in rest.values():
                    cols += [c for c in v if c not in cols]
                lines += table([""] + cols, [[k] + [v.get(c) for c in cols] for k, v in rest.items()])
            else:
                for k, v in rest.items():
                    lines += self.render(v, depth + 1, str(k))
            if notes:
                lines += [f"- {n}" for n in (notes if isinstance(notes, list) else [notes])] + [""]
        elif isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            lines += self._rows(value, None, title)
        else:
            lines += [fmt(value), ""]
        return lines

    def _rows(self, rows: list[dict], size: str | None, title: str | None) -> list[str]:
        cols: list[str] = []
        for row in rows:
            cols += [c for c in row if c not in cols]
        return table(cols, [[row.get(c) for c in cols] for row in rows]) + self.auto_plot(
            title or self.name, rows, cols, size
        )

    def _save(self, fig, title: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", f"{self.name}-{title}".lower()).strip("-")[:80]
        path = self.plot_dir / f"{slug}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.plots.append(path)
        return path

    def auto_plot(self, title: str, rows: list[dict], cols: list[str], size: str | None = None) -> list[str]:
        """Cost columns against each size column that varies, holding the other columns fixed."""
        sizes = [size] if size else [c for c in cols if c.lower() in SIZE_KEYS]
        out: list[str] = []
        for x in sizes:
            others = [c for c in cols if c != x and (c.lower() in SIZE_KEYS or not _all_numbers(rows, c))]
            groups: dict[tuple, list[dict]] = {}
            for r in rows:
                groups.setdefault(tuple(str(r.get(c)) for c in others), []).append(r)
            key, group = max(groups.items(), key=lambda kv: len({r.get(x) for r in kv[1]}))
            if len({r.get(x) for r in group}) < 2:
                continue
            group = sorted(group, key=lambda r: r.get(x))
            fixed = ", ".join(f"{c}={v}" for c, v in zip(others, key) if v not in ("None", ""))
            ys = {
                c: [r.get(c) for r in group]
                for c in cols
                if c != x and c.lower() not in SIZE_KEYS and _all_numbers(group, c, positive=True)
            }
            if ys:
                out += self._plot(title, x, [r.get(x) for r in group], ys, fixed)
        return out

    def _plot(self, title: str, x: str, xs: list, ys: dict[str, list], fixed: str) -> list[str]:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in xs):
            return []
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        groups: dict[str, dict[str, list]] = {}
        for c, vals in ys.items():
            groups.setdefault(_unit(c), {})[c] = vals
        fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 4.0), squeeze=False)
        for ax, (unit, series) in zip(axes[0], groups.items()):
            for c, vals in series.items():
                ax.plot(xs, vals, marker="o", label=c)
            ax.set_xscale("log")
            allv = [v for vals in series.values() for v in vals]
            if max(allv) / min(allv) > 10:
                ax.set_yscale("log")
            else:
                ax.set_ylim(bottom=0, top=max(allv) * 1.15)
            ax.set_xticks(xs)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(x)
            ax.set_ylabel(unit)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
        sub = f" ({fixed})" if fixed else ""
        fig.suptitle(f"{self.name}: {title}: cost against {x}{sub}", fontsize="medium")
        path = self._save(fig, f"{title}-{x}")
        return [f"![{self.name}: {title} against {x}]({path.name})", ""]

    def explicit_plot(self, p: dict) -> list[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for label, ys in p["lines"].items():
            ax.plot(p["x"], ys, marker="o", label=label)
        if p.get("log", True):
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(p.get("x_label", ""))
        ax.set_ylabel(p.get("y_label", ""))
        ax.set_title(p.get("title", self.name))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
        path = self._save(fig, p.get("title", "plot"))
        return [f"![{p.get('title', self.name)}]({path.name})", ""]


def write_report(runs: list[dict], info: dict, quick: bool, skipped: list[str], out: Path) -> list[Path]:
    lines = [
        "# gpuwatch benchmark results",
        "",
        "Generated by `make bench` (`bench/run_all.py`). DO NOT EDIT: rerun to refresh."
        + (" **Quick mode** (`BENCH_QUICK=1`): short runs, numbers are indicative only." if quick else ""),
        "",
        "## Machine",
        "",
    ]
    lines += table(["", ""], [[k, v] for k, v in info.items()])
    lines += ["## Overview", ""]
    lines += table(
        ["benchmark", "status", "wall time (s)"], [[r["name"], r["status"], r["seconds"]] for r in runs]
    )
    for s in skipped:
        lines += [f"- {s}"]
    lines += [""] if skipped else []
    plots: list[Path] = []
    for r in runs:
        res = r["result"]
        title = res.get("title") if isinstance(res, dict) and isinstance(res.get("title"), str) else r["name"]
        lines += [f"## {title} (`bench/{r['name']}.py`)", ""]
        if r["status"] != "ok":
            lines += ["Failed:", "", "```", r["error"].rstrip(), "```", ""]
            continue
        rend = Renderer(r["name"], out.parent)
        lines += rend.render(res, 3)
        plots += rend.plots
    kept = _kept_section(out)
    if kept:
        lines += ["", *kept]
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return plots


def _kept_section(report: Path) -> list[str]:
    """The hand-maintained tail of an existing report (from KEPT_MARKER on), or []."""
    try:
        old = report.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return old[old.index(KEPT_MARKER) :] if KEPT_MARKER in old else []


def _drop_stale_plots(report: Path, plots: list[Path]) -> None:
    """Remove PNGs of earlier runs next to the report that this report no longer shows."""
    if report.parent.resolve() != HERE:
        return
    keep = {p.resolve() for p in plots}
    for png in HERE.glob("*.png"):
        if png.resolve() not in keep:
            png.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="run every benchmark and write bench/RESULTS.md")
    ap.add_argument(
        "--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0")
    )
    ap.add_argument("--only", action="append", help="benchmark name (file stem); repeatable")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"))
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the report and plots from bench/out/results.json without running anything",
    )
    args = ap.parse_args(argv)
    out = Path(args.output)
    if args.render_only:
        saved = json.loads((HERE / "out" / "results.json").read_text())
        plots = write_report(saved["runs"], saved["machine"], saved["quick"], saved.get("skipped", []), out)
        _drop_stale_plots(out, plots)
        print(f"bench: wrote {out} and {len(plots)} plot(s) from bench/out/results.json", file=sys.stderr)
        return 0
    found = discover()
    skipped = [
        f"`bench/{pattern}` ({what}) is not present yet: skipped"
        for pattern, what in EXPECTED.items()
        if not any(Path(n + ".py").match(pattern) for n in found)
    ]
    names = [n for n in found if not args.only or n in args.only]
    info = machine()
    runs = []
    for name in names:
        print(f"bench: {name} ({'quick' if args.quick else 'full'}) ...", file=sys.stderr, flush=True)
        r = run_one(name, found[name], args.quick)
        print(f"bench: {name} {r['status']} in {r['seconds']} s", file=sys.stderr, flush=True)
        if r["error"]:
            print(r["error"], file=sys.stderr)
        runs.append(r)
    plots = write_report(runs, info, args.quick, skipped, out)
    _drop_stale_plots(out, plots)
    raw = HERE / "out"
    raw.mkdir(exist_ok=True)
    (raw / "results.json").write_text(
        json.dumps(
            {"machine": info, "quick": args.quick, "skipped": skipped, "runs": runs}, indent=2, default=str
        )
    )
    print(f"bench: wrote {out} and {len(plots)} plot(s)", file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
