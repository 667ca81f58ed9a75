"""The Prometheus text format (0.0.4), written directly from the metric declarations.

Why not prometheus_client's ``generate_latest``: with 8 GPUs (~700 series) it costs ~15 ms per
scrape on a loaded machine, most of it building and sorting sample objects. Here each GPU's
reader formats its own lines once per read (in the background), and a scrape only joins the
fragments family by family: see bench/gpu_scrape.py. Labels come out in declaration order
(``gpu``, ``uuid`` first); HELP and TYPE are those of ``metrics.py``.
"""

from __future__ import annotations

import math

from ..catalog import MetricDef


def escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def fmt_value(v: float) -> str:
    if v != v:
        return "NaN"
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    return repr(float(v))


def lines(d: MetricDef, rows) -> str:
    """Sample lines of one metric: ``rows`` are (label values in declaration order, value)."""
    name, names = d.name, d.labels
    out = []
    for labels, value in rows:
        if names:
            inner = ",".join(f'{k}="{escape(v)}"' for k, v in zip(names, labels))
            out.append(f"{name}{{{inner}}} {fmt_value(value)}\n")
        else:
            out.append(f"{name} {fmt_value(value)}\n")
    return "".join(out)


def header(d: MetricDef) -> str:
    kind = "gauge" if d.type == "info" else d.type
    help_text = d.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {d.name} {help_text}\n# TYPE {d.name} {kind}\n"
