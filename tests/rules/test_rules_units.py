"""Unit and property tests: the position-keeping YAML loader (fuzzed), PromQL label analysis,
template checks and the Go-compatible rendering used for promtool expectations."""

from __future__ import annotations

import string

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuwatch.rules import gotemplate, model, promql, yamlsrc
from gpuwatch.rules.errors import Problems, RulesError

# -- loader ------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(string.printable, max_size=12)
)
keys = st.text(string.ascii_letters + "_", min_size=1, max_size=8)
docs = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs)
def test_loader_round_trips_what_pyyaml_loads(doc) -> None:
    text = yaml.safe_dump(doc)
    assert yamlsrc.loads(text, "f.yml") == yaml.safe_load(text)


@settings(max_examples=300, deadline=None)
@given(st.text(string.printable, max_size=200))
def test_loader_and_schema_never_crash(text: str) -> None:
    """Any text: either a document or a RulesError with file and line, never another exception."""
    try:
        doc = yamlsrc.loads(text, "f.yml")
    except RulesError as exc:
        assert exc.file == "f.yml"
        assert str(exc).startswith("f.yml")
        return
    p = Problems()
    model.parse_group(doc, "f.yml", "f.yml", p, {})
    for prob in p.items:
        assert prob.file == "f.yml" and prob.message


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys.map(lambda k: "k_" + k), st.integers(), min_size=1, max_size=5), st.data())
def test_duplicate_keys_always_rejected_with_their_line(d, data) -> None:
    items = list(d.items())
    dup = data.draw(st.sampled_from(items))[0]
    lines = [f"{k}: {v}" for k, v in items] + [f"{dup}: 0"]
    with pytest.raises(RulesError) as ei:
        yamlsrc.loads("\n".join(lines) + "\n", "f.yml")
    assert ei.value.line == len(lines) and ei.value.col == 1
    assert f"duplicate key {dup!r}" in str(ei.value)


def test_positions_are_one_based() -> None:
    doc = yamlsrc.loads("a: 1\nb:\n  - x\n  - {y: 2}\n", "f.yml")
    assert doc.key_pos["b"] == (2, 1) and doc["b"].item_pos == [(3, 5), (4, 5)]
    assert doc["b"][1].where("y") == (4, 9)


# -- PromQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def an() -> promql.Analyzer:
    return promql.Analyzer()


@pytest.mark.parametrize(
    "expr,has,hasnt",
    [
        ("gpuwatch_gpu_temperature_celsius > 85", {"gpu", "uuid", "node", "instance"}, {"xid"}),
        ("max by (node) (gpuwatch_gpu_temperature_celsius) > 85", {"node"}, {"gpu", "instance"}),
        ("sum without (gpu, uuid) (gpuwatch_gpu_power_watts) > 1", {"node", "instance"}, {"gpu", "uuid"}),
        ("gpuwatch_gpu_up == 0 unless on (instance) gpuwatch_nvml_up == 0", {"gpu"}, set()),
        (
            "gpuwatch_gpu_utilization_ratio < 0.1 and on (instance, gpu) gpuwatch_gpu_job_info",
            {"gpu"},
            {"job_id"},
        ),
        (
            "gpuwatch_gpu_utilization_ratio * on (instance, gpu) group_left (job_id) gpuwatch_gpu_job_info > 0",
            {"job_id", "gpu"},
            {"user"},
        ),
        ("gpuwatch_gpu_up > on (node) gpuwatch_nvml_up", {"node"}, {"gpu"}),
        ('absent(gpuwatch_nvml_up{node="n1"})', {"node"}, {"instance"}),
        (
            'label_replace(gpuwatch_nvml_up, "host", "$1", "instance", "(.*):.*") == 0',
            {"host", "node"},
            set(),
        ),
        ("up == 0", {"anything"}, set()),
        ("sum by (job) (up) == 0", {"job"}, {"instance"}),
    ],
)
def test_result_labels(an: promql.Analyzer, expr: str, has: set[str], hasnt: set[str]) -> None:
    labels = an.analyze(expr).labels
    assert all(labels.has(x) for x in has), labels
    assert not any(labels.has(x) for x in hasnt), labels


@pytest.mark.parametrize(
    "expr,empty",
    [
        ("gpuwatch_nvml_up", False),
        ("vector(1)", False),
        ("sum(gpuwatch_nvml_up)", False),
        ("gpuwatch_nvml_up == bool 0", False),
        ("gpuwatch_nvml_up == 0", True),
        ("absent(gpuwatch_nvml_up)", True),
        ("gpuwatch_nvml_up and gpuwatch_gpu_up", True),
        ("gpuwatch_nvml_up or gpuwatch_gpu_up == 0", False),
        ("sum(gpuwatch_nvml_up == 0)", True),
        ("gpuwatch_nvml_up * (gpuwatch_gpu_up > 0)", True),
    ],
)
def test_may_be_empty(an: promql.Analyzer, expr: str, empty: bool) -> None:
    assert an.analyze(expr).may_be_empty is empty


def test_threshold_from_comparison(an: promql.Analyzer) -> None:
    assert an.analyze("gpuwatch_gpu_temperature_celsius > 85").threshold == (
        "gpuwatch_gpu_temperature_celsius",
        ">",
        85.0,
    )
    assert an.analyze("0.05 > gpuwatch_gpu_utilization_ratio").threshold == (
        "gpuwatch_gpu_utilization_ratio",
        "<",
        0.05,
    )
    assert an.analyze("gpuwatch_gpu_up == 0 unless on (instance) gpuwatch_nvml_up == 0").threshold[2] == 0.0
    assert an.analyze("gpuwatch_gpu_up > gpuwatch_nvml_up").threshold is None


def test_rate_over_gauge_and_info(an: promql.Analyzer) -> None:
    assert an.analyze("rate(gpuwatch_gpu_power_watts[5m]) > 0").rate_over_gauge == [
        ("rate", "gpuwatch_gpu_power_watts", "gauge")
    ]
    assert an.analyze("increase(gpuwatch_gpu_info[5m:1m]) > 0").rate_over_gauge[0][2] == "info"
    assert an.analyze("rate(gpuwatch_gpu_energy_joules_total[5m]) > 0").rate_over_gauge == []


def test_catalog_is_the_source_of_metric_names(an: promql.Analyzer) -> None:
    from gpuwatch.exporters import catalog

    for name in catalog.all_metrics():
        assert an.known_metric(name)
    assert an.known_metric("up") and an.known_metric("prometheus_rule_evaluation_failures_total")
    assert not an.known_metric("gpuwatch_gpu_temp_celsius")


# -- templates -----------------------------------------------------------------------------------


def test_template_checks() -> None:
    labels = promql.Labels(frozenset({"node"}), True)
    assert gotemplate.check("{{ $labels.node }} {{ $value | humanize }}", labels) == []
    assert "is never set" in gotemplate.check("{{ $labels.gpu }}", labels)[0]
    assert gotemplate.check("{{ if $labels.node }}x{{ end", labels) == ["'{{' without a closing '}}'"]
    assert gotemplate.check("{{ range $labels }}x", labels) == ["{{ range }} without {{ end }}"]
    assert gotemplate.check("{{ $nope }}", labels) == ["undefined variable $nope"]


@pytest.mark.parametrize(
    "v,go",
    [
        (90.0, "90"),
        (0.05, "0.05"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1e-5, "1e-05"),
        (2.5, "2.5"),
        (1234567.5, "1.2345675e+06"),
        (-3.0, "-3"),
    ],
)
def test_go_float_formatting(v: float, go: str) -> None:
    assert gotemplate.go_float(v) == go


def test_humanize_functions_match_prometheus() -> None:
    assert gotemplate.humanize(1234.0) == "1.234k"
    assert gotemplate.humanize(0.012) == "12m"
    assert gotemplate.humanize_duration(14780.0) == "4h 6m 20s"
    assert gotemplate.humanize_duration(90061.0) == "1d 1h 1m 1s"
    assert gotemplate.humanize_duration(0.5) == "500ms"
    assert (
        gotemplate.render('{{ printf "%.1f" $value }} {{ $value | humanizePercentage }}', {}, 0.1234)
        == "0.1 12.34%"
    )
    assert (
        gotemplate.render("{{ if $labels.x }}X={{ $labels.x }}{{ else }}none{{ end }}", {"x": "7"}, 0)
        == "X=7"
    )
    assert gotemplate.render("{{ if $labels.x }}X{{ else }}none{{ end }}", {}, 0) == "none"


# -- durations -----------------------------------------------------------------------------------


def test_durations_beyond_prometheus_range_are_rejected() -> None:
    """A duration Go cannot hold used to reach promtool and fail there without FILE:LINE."""
    from gpuwatch.rules import durations

    assert durations.parse_ms("292y") == 292 * 365 * 86400_000
    for text in ("293y", "99999999999999999999m", "9999999999999999999ms"):
        with pytest.raises(durations.BadDuration, match="longer than Prometheus can represent"):
            durations.parse_ms(text)


def test_render_comparisons_follow_go() -> None:
    """eq/ne/lt/le/gt/ge/not as Go's text/template has them (a templated severity label)."""
    sev = "{{ if gt $value 90.0 }}critical{{ else }}warning{{ end }}"
    assert gotemplate.render(sev, {}, 95.0) == "critical"
    assert gotemplate.render(sev, {}, 85.0) == "warning"
    assert gotemplate.render('{{ if eq $labels.mode "idle" }}i{{ end }}', {"mode": "idle"}, 0.0) == "i"
    assert gotemplate.render("{{ if not $labels.x }}none{{ end }}", {}, 0.0) == "none"
    with pytest.raises(gotemplate.TemplateError, match="incompatible types for comparison"):
        gotemplate.render("{{ if gt $value 90 }}c{{ end }}", {}, 95.0)  # Go: float64 against int
