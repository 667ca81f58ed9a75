"""Text, JSON and CSV output of the job report and the summary."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .timespec import human_duration, rfc3339

WIDTH = 80


def _rounded(v: Any) -> Any:
    """Floats to 6 decimals (0.6000000000000001 -> 0.6); whole byte counts stay integers."""
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {
            k: (int(x) if k.endswith("_bytes") and isinstance(x, float) else _rounded(x))
            for k, x in v.items()
        }
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v


def to_json(doc: Any) -> str:
    return json.dumps(_rounded(doc), indent=2, sort_keys=False) + "\n"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def _gib(v: float | None) -> str:
    return "-" if v is None else f"{v / 2**30:.1f} GiB"


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.2f}"


def _kwh(j: float | None) -> str:
    return "-" if j is None else f"{j / 3.6e6:.2f} kWh"


def _watts(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} W"


def _bar(ratio: float | None, width: int = 50) -> str:
    if ratio is None:
        return "[" + " " * width + "  n/a]"
    n = max(0, min(width, int(round(ratio * width))))
    return "[" + "|" * n + " " * (width - n) + f" {100 * ratio:3.0f}%]"


def _title(text: str) -> list[str]:
    return ["", text.center(WIDTH).rstrip(), "=" * WIDTH]


def job_text(r: dict[str, Any]) -> str:
    gpus = r["gpus"]
    nodes = sorted({g["node"] for g in gpus})
    lines = ["=" * WIDTH, "GPU Job Statistics".center(WIDTH).rstrip(), "=" * WIDTH]
    head = [
        ("Job ID", r["job_id"]),
        ("User", r["user"] or "-"),
        ("State", r["state"].upper()),
        ("Nodes", f"{len(nodes)} ({', '.join(nodes)})"),
        ("GPUs", str(len(gpus))),
        ("Start", r["start"]),
        ("End", r["end"] + ("  (still running)" if r["state"] == "running" else "")),
        ("Duration", human_duration(r["duration_seconds"])),
        ("GPU-hours", f"{r['gpu_hours']:.2f}"),
        ("Energy", _kwh(r["energy_joules"])),
        ("Cost", _money(r["cost_usd"])),
    ]
    lines += [f"{k:>15}: {v}" for k, v in head]
    lines += _title("Overall Utilization")
    lines.append(f"  GPU utilization  {_bar(r['utilization_mean'])}")
    mem = (
        r["memory_used_max_bytes"] / r["memory_total_bytes"]
        if r["memory_used_max_bytes"] is not None and r["memory_total_bytes"]
        else None
    )
    lines.append(f"  GPU memory usage {_bar(mem)}")
    lines += _title("Detailed Utilization")

    def name(g: dict[str, Any]) -> str:
        return f"{g['node']}/GPU {g['gpu']}"

    lines.append("  GPU utilization (mean / max):")
    for g in gpus:
        lines.append(f"      {name(g)}: {_pct(g['utilization_mean'])} / {_pct(g['utilization_max'])}")
    if any(g["sm_active_mean"] is not None or g["tensor_active_mean"] is not None for g in gpus):
        lines.append("  SM / tensor core activity (mean):")
        for g in gpus:
            lines.append(f"      {name(g)}: {_pct(g['sm_active_mean'])} / {_pct(g['tensor_active_mean'])}")
    lines.append("  GPU memory usage (max / total):")
    for g in gpus:
        used, total = g["memory_used_max_bytes"], g["memory_total_bytes"]
        share = f" ({_pct(used / total)})" if used is not None and total else ""
        lines.append(f"      {name(g)}: {_gib(used)} / {_gib(total)}{share}")
    lines.append("  Power (mean) / energy:")
    for g in gpus:
        lines.append(f"      {name(g)}: {_watts(g['power_mean_watts'])} / {_kwh(g['energy_joules'])}")
    lines.append("  GPU-hours / cost:")
    for g in gpus:
        lines.append(f"      {name(g)}: {g['gpu_hours']:.2f} / {_money(g['cost_usd'])}")
    lines.append("  GPUs:")
    for g in gpus:
        extra = "" if g["start"] == r["start"] and g["end"] == r["end"] else f"  {g['start']} .. {g['end']}"
        xid = f"  XIDs: {g['xid_events']}" if g["xid_events"] else ""
        lines.append(f"      {name(g)}: {g['model'] or '?'}  {g['uuid']}{extra}{xid}")
    if r["notes"]:
        lines += _title("Notes")
        for n in r["notes"]:
            lines += _wrap("  * ", n)
    return "\n".join(lines) + "\n"


def _wrap(prefix: str, text: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix)) or [prefix]


JOB_COLUMNS = (
    "job_id",
    "user",
    "gpus",
    "gpu_hours",
    "idle_gpu_hours",
    "utilization_mean",
    "energy_joules",
    "cost_usd",
)
# per user: the same figures as per job, with the user's job count in place of the job id
USER_COLUMNS = ("user", "jobs", *JOB_COLUMNS[2:])


def _csv_number(v: float) -> str:
    """Fixed point to 6 decimals, trailing zeros dropped: 11367000 J stays 11367000 (``%g`` wrote
    1.1367e+07 and dropped digits past the sixth), 1/3 is 0.333333, 0.1 + 0.2 is 0.3."""
    text = f"{v:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def summary_csv(doc: dict[str, list[dict[str, Any]]], by_user: bool) -> str:
    cols = USER_COLUMNS if by_user else JOB_COLUMNS
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for row in doc["users" if by_user else "jobs"]:
        w.writerow(
            [
                "" if row[c] is None else (_csv_number(row[c]) if isinstance(row[c], float) else row[c])
                for c in cols
            ]
        )
    return buf.getvalue()


def summary_text(
    doc: dict[str, list[dict[str, Any]]], by_user: bool, start: float, end: float, source: str = "rules"
) -> str:
    how = "recording rules" if source == "rules" else "raw series (no recording rules in the range)"
    lines = [
        f"GPU use from {rfc3339(start)} to {rfc3339(end)}, most idle GPU-hours first (idle: utilisation < 5 %)",
        f"Utilisation, idle time and energy from the {how}.",
        "",
    ]
    head = f"{'GPUs':>5} {'GPU-h':>9} {'idle GPU-h':>10} {'util':>5} {'energy':>11} {'cost':>11}"

    def nums(r: dict[str, Any]) -> str:
        return (
            f"{r['gpus']:>5} {r['gpu_hours']:>9.2f} {r['idle_gpu_hours']:>10.2f} {_pct(r['utilization_mean']):>5} "
            f"{_kwh(r['energy_joules']):>11} {_money(r['cost_usd']):>11}"
        )

    if not by_user:
        lines.append(f"{'JOB':<14} {'USER':<12} {head}")
        for r in doc["jobs"]:
            lines.append(f"{r['job_id']:<14} {r['user']:<12} {nums(r)}")
        lines += ["", "Totals per user:"]
    lines.append(f"{'USER':<14} {'JOBS':>12} {head}")
    for u in doc["users"]:
        lines.append(f"{u['user']:<14} {u['jobs']:>12} {nums(u)}")
    if not doc["jobs"]:
        lines.append("(no GPU jobs in this range)")
    return "\n".join(lines) + "\n"
