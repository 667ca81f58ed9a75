"""Text exposition writer for the Slurm exporter's :class:`~.metrics.Family` objects.

Writes exactly what client_python's ``generate_latest`` writes for the equivalent
``GaugeMetricFamily``/``CounterMetricFamily`` (a test compares both on real and synthetic output):
``# HELP``/``# TYPE`` per family (counters with their ``_total`` name),
label names sorted, label values escaped, values formatted like Go. Label names are formatted
once per family and repeated values once per cycle, which makes it several times faster.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from .metrics import Family


def _esc(v: str) -> str:
    if "\\" in v or "\n" in v or '"' in v:
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return v


def render_text(families: Iterable[Family]) -> bytes:
    out: list[str] = []
    append = out.append
    fmt_cache: dict[float, str] = {}
    for fam in families:
        d = fam.definition
        # client_python's text format names counters' HELP/TYPE with the _total suffix too
        head, mtype = d.name, ("counter" if d.type == "counter" else "gauge")
        doc = d.help.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {head} {doc}\n# TYPE {head} {mtype}\n")
        name = d.name
        labelnames = d.labels
        order = sorted(range(len(labelnames)), key=lambda i: labelnames[i])
        prefixes = [f'{labelnames[i]}="' for i in order]
        for labels, value in fam.rows:
            v = fmt_cache.get(value)
            if v is None:
                v = floatToGoString(value)
                if len(fmt_cache) < 4096:
                    fmt_cache[value] = v
            if order:
                lab = '",'.join([p + _esc(labels[i]) for p, i in zip(prefixes, order)])
                append(f'{name}{{{lab}"}} {v}\n')
            else:
                append(f"{name} {v}\n")
    return "".join(out).encode("utf-8")
