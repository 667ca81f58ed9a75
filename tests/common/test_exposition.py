"""The shared exposition writer against prometheus_client's ``generate_latest`` (public API only)."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gpuwatch.exporters.common.exposition import DECLARED, render_text, sample_lines
from gpuwatch.exporters.common.metric import Families, MetricDef, MetricFamily, index

DEFS = index(
    [
        MetricDef("t_up", "gauge", "1 when up."),
        MetricDef("t_node_reason_info", "info", 'Odd "help" with \\ and\nnewline.', ("node", "reason")),
        MetricDef("t_events_total", "counter", "Events by kind.", ("kind", "b_label", "a_label")),
        MetricDef("t_bytes", "gauge", "Sizes.", ("node",)),
        MetricDef("t_empty", "gauge", "Declared, no samples this time.", ("x",)),
    ]
)
NUMBERS = (0, 1, -2, 1.5, 0.1, 1e9, 1e-7, 123456789012.0, 2**53 + 1, 1e22, math.inf, -math.inf, math.nan)


def client_python(fams: list[MetricFamily]) -> bytes:
    class Fixed:
        def collect(self):
            return [f.to_prometheus() for f in fams]

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    return generate_latest(registry)


def families(seed: int) -> list[MetricFamily]:
    rnd = random.Random(seed)
    out = Families(DEFS)
    out.add("t_up", (), 1)
    for i in range(100):
        text = "".join(rnd.choice('ab"\\\n é|{}=,#') for _ in range(rnd.randrange(12)))
        out.add("t_node_reason_info", (f"n{i}", text), 1)
    for i, v in enumerate(NUMBERS):
        out.add("t_bytes", (f"n{i}",), v)
        out.add("t_events_total", ("k", str(i), "z" * i), abs(v))
    return [*out, MetricFamily(DEFS["t_empty"])]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_writer_equals_generate_latest(seed):
    fams = families(seed)
    assert render_text(fams) == client_python(fams)


def test_declared_style_keeps_label_order_and_parses_to_the_same_samples():
    fams = families(7)
    declared = render_text(fams, DECLARED).decode()
    assert 't_events_total{kind="k",b_label="0",a_label=""} 0.0\n' in declared
    assert 't_bytes{node="n5"} 1000000000.0\n' in declared  # Python float, not Go's 1e+09

    def samples(text: str):
        return sorted(
            (s.name, tuple(sorted(s.labels.items())), repr(s.value))
            for f in text_string_to_metric_families(text)
            for s in f.samples
        )

    assert samples(declared) == samples(render_text(fams).decode())


def test_preformatted_lines_follow_rows():
    fam = MetricFamily(DEFS["t_bytes"])
    fam.add_metric(("a",), 1)
    fam.text.append(sample_lines(DEFS["t_bytes"], [(("b",), 2.0)], DECLARED))
    assert render_text([fam], DECLARED).decode().splitlines()[2:] == [
        't_bytes{node="a"} 1.0',
        't_bytes{node="b"} 2.0',
    ]


def test_families_iterate_in_declaration_order_and_skip_empty():
    out = Families(DEFS)
    out.add("t_bytes", ("a",), 1)
    out.add("t_up", (), 1)
    out.family("t_empty")
    assert [f.name for f in out] == ["t_up", "t_bytes"]
    with pytest.raises(KeyError):
        out.add("t_undeclared", (), 1)
