"""The Prometheus text exposition format (0.0.4), written from declared metric families.

One writer for both exporters. With the default style it writes byte for byte what
prometheus_client's ``generate_latest`` writes for the equivalent families (a test compares the
two): ``# HELP``/``# TYPE`` per family (counters under their ``_total`` name, ``info`` as gauge),
label names sorted, label and HELP values escaped, values formatted like Go.

Why not ``generate_latest`` itself: it builds and sorts a sample object per series (~15 ms per
scrape for 8 GPUs on a loaded machine, far more for a 5,000-node cluster). Here label names are
formatted once per family and repeated values once per render.

:data:`DECLARED` keeps labels in declaration order (``gpu``, ``uuid`` first) and writes values
as Python's ``repr``: the GPU exporter's format, where each GPU's reader formats its own lines
once per read (:func:`sample_lines`) and a scrape only joins the fragments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from .metric import Labels, MetricDef, MetricFamily


def escape(value: str) -> str:
    """A label value escaped for the text format (backslash, double quote, newline)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def repr_value(v: float) -> str:
    if v != v:
        return "NaN"
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    return repr(float(v))


@dataclass(frozen=True)
class Style:
    """How sample lines are written: label order and number format (both valid exposition)."""

    sort_labels: bool
    format_value: Callable[[float], str]
    cache_values: bool  # memoise formatted values (worth it when many samples repeat, e.g. 0 and 1)


#: What prometheus_client's ``generate_latest`` writes (Slurm exporter).
CLIENT_PYTHON = Style(sort_labels=True, format_value=floatToGoString, cache_values=True)
#: Labels in declaration order, values as Python floats (GPU exporter).
DECLARED = Style(sort_labels=False, format_value=repr_value, cache_values=False)


def header(d: MetricDef) -> str:
    """``# HELP`` and ``# TYPE`` lines of a declared metric."""
    kind = d.type if d.type in ("counter", "histogram", "summary") else "gauge"
    help_text = d.help.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {d.name} {help_text}\n# TYPE {d.name} {kind}\n"


def sample_lines(
    d: MetricDef,
    rows: Iterable[tuple[Labels, float]],
    style: Style = CLIENT_PYTHON,
    cache: dict[float, str] | None = None,
) -> str:
    """Sample lines of one metric; ``rows`` are (label values in declaration order, value)."""
    name, names = d.name, d.labels
    fmt = style.format_value
    order: Sequence[int] = range(len(names))
    if style.sort_labels:
        order = sorted(order, key=lambda i: names[i])
    prefixes = [f'{names[i]}="' for i in order]
    out: list[str] = []
    append = out.append
    for labels, value in rows:
        if cache is None:
            v = fmt(value)
        else:
            hit = cache.get(value)
            if hit is None:
                hit = fmt(value)
                if len(cache) < 4096:
                    cache[value] = hit
            v = hit
        if prefixes:
            lab = '",'.join([p + escape(labels[i]) for p, i in zip(prefixes, order)])
            append(f'{name}{{{lab}"}} {v}\n')
        else:
            append(f"{name} {v}\n")
    return "".join(out)


def render_text(families: Iterable[MetricFamily], style: Style = CLIENT_PYTHON) -> bytes:
    """The exposition of ``families``, in the order given (empty families are written too)."""
    cache: dict[float, str] | None = {} if style.cache_values else None
    out: list[str] = []
    for fam in families:
        d = fam.definition
        out.append(header(d))
        if fam.rows:
            out.append(sample_lines(d, fam.rows, style, cache))
        out.extend(fam.text)
    return "".join(out).encode("utf-8")
