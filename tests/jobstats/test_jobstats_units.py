"""Pure functions of gpuwatch-jobstats (no Prometheus): times, PromQL quoting, summary arithmetic,
output formats."""

from __future__ import annotations

import json

import pytest

from gpuwatch.jobstats import promql, render, summary, timespec


@pytest.mark.parametrize(
    "text,seconds", [("30d", 30 * 86400), ("1h30m", 5400), ("15s", 15), ("500ms", 0.5), ("1w", 604800)]
)
def test_durations(text, seconds):
    assert timespec.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "7", "7x", "1h 30m", "-1h"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        timespec.parse_duration(text)


def test_times():
    now = 1_800_000_000.0
    assert timespec.parse_time("now", now) == now
    assert timespec.parse_time("now-2d", now) == now - 2 * 86400
    assert timespec.parse_time("-1h30m", now) == now - 5400
    assert timespec.parse_time("1796385600", now) == 1796385600
    assert timespec.parse_time("2026-12-04T12:00:00Z", now) == 1796385600
    assert timespec.parse_time("2026-12-04T13:00:00+01:00", now) == 1796385600
    assert timespec.parse_time("2026-12-04", now) == 1796385600 - 12 * 3600
    with pytest.raises(ValueError, match="not a time"):
        timespec.parse_time("yesterday", now)
    for bad in ("nan", "inf", "-inf", "-5", "1e999", "-2x"):
        with pytest.raises(ValueError, match="not a time"):
            timespec.parse_time(bad, now)
    assert timespec.rfc3339(1796385600.4) == "2026-12-04T12:00:00Z"
    assert timespec.human_duration(93784) == "1-02:03:04"
    assert timespec.promql_duration(12600.0) == "12600s" and timespec.promql_duration(15.5) == "15500ms"


def test_promql_quoting():
    assert promql.quote('a"b\\c') == '"a\\"b\\\\c"'
    assert (
        promql.alternation(["GPU-1.2", "GPU-1.2", "x|y"]) == '"GPU\\\\-1\\\\.2|x\\\\|y"'
    )  # Go's RE2 takes any escaped punctuation
    q = promql.combined([("a", "up"), ("b", "vector(1)")])
    assert (
        q
        == 'label_replace(up, "__jobstats_stat", "a", "", "") or label_replace(vector(1), "__jobstats_stat", "b", "", "")'
    )
    parts = promql.split(
        [
            {"metric": {"__jobstats_stat": "a", "job": "x"}, "value": [1, "2.5"]},
            {"metric": {"__jobstats_stat": "b"}, "value": [1, "1"]},
        ]
    )
    assert parts == {"a": [({"job": "x"}, 2.5)], "b": [({}, 1.0)]}


def _lb(**kw):
    return {"job_id": "7", "user": "ann", "instance": "n1:9400", "uuid": "GPU-1", **kw}


def test_summary_rows_price_change_and_missing_price():
    parts = {
        # 121 samples at $8 and 120 at $12 on a 4-GPU target, 30 s apart: (241 - 1) x 30 s = 2 h
        "samples": [(_lb(hourly_cost_usd="8.00"), 121.0), (_lb(hourly_cost_usd="12.00"), 120.0)],
        "target_gpus": [({"instance": "n1:9400"}, 4.0)],
        "util_sum": [(_lb(), 120.5)],
        "util_count": [(_lb(), 241.0)],
        "idle_sum": [(_lb(), 60.25)],
        "idle_count": [(_lb(), 241.0)],
        "power_sum": [(_lb(), 241 * 300.0)],
    }
    doc = summary._rows(parts, 30.0, 30.0)
    [row] = doc["jobs"]
    assert row["gpu_hours"] == pytest.approx(2.0)
    assert row["idle_gpu_hours"] == pytest.approx(0.5)
    assert row["utilization_mean"] == pytest.approx(0.5)
    assert row["energy_joules"] == pytest.approx(241 * 300 * 30)
    assert row["cost_usd"] == pytest.approx(2.0 * (121 * 8 + 120 * 12) / 241 / 4)
    assert doc["users"][0]["user"] == "ann" and doc["users"][0]["jobs"] == 1
    parts["samples"].append((_lb(uuid="GPU-2"), 10.0))  # a target without hourly_cost_usd
    assert summary._rows(parts, 30.0, 30.0)["jobs"][0]["cost_usd"] is None


def test_summary_prefers_the_exporters_price_to_the_label():
    """gpuwatch_node_hourly_cost_usd (the exporter's --gpu.hourly-cost-usd), per target and price
    label, where exported; the hourly_cost_usd label for targets without it."""
    parts = {
        "samples": [
            (_lb(hourly_cost_usd="8.00"), 121.0),  # n1 exports $10/h under the "8.00" label
            (_lb(instance="n2:9400", uuid="GPU-9"), 121.0),  # n2: no label, exports $6/h
            (_lb(instance="n3:9400", uuid="GPU-7", hourly_cost_usd="2.00"), 121.0),  # n3: the label only
        ],
        "target_gpus": [
            ({"instance": "n1:9400"}, 4.0),
            ({"instance": "n2:9400"}, 2.0),
            ({"instance": "n3:9400"}, 1.0),
        ],
        "node_price": [
            ({"instance": "n1:9400", "hourly_cost_usd": "8.00"}, 10.0),
            ({"instance": "n2:9400"}, 6.0),
        ],
    }
    [row] = summary._rows(parts, 30.0, 30.0)["jobs"]  # 120 x 30 s = 1 h per GPU
    assert row["gpu_hours"] == pytest.approx(3.0)
    assert row["cost_usd"] == pytest.approx(10.0 / 4 + 6.0 / 2 + 2.0 / 1)
    q = summary.rules_query(None, 3600.0)
    assert (
        'label_replace(avg by (instance, hourly_cost_usd) (avg_over_time(gpuwatch_node_hourly_cost_usd[3600s])), "__jobstats_stat", "node_price"'
        in q
    )
    assert "gpuwatch_node_hourly_cost_usd[" in summary.raw_query(None, 3600.0, 30.0)


def test_job_report_cost_per_piece_prefers_the_exporters_price():
    """A GPU whose price label changed at 1 h: the first piece's target exports its price ($10/h,
    not the label's 8.00), the second does not (the label's 12.00); a 4-GPU target."""
    from gpuwatch.jobstats import job

    g = job.Gpu("n1:9400", "GPU-1", "n1", "0")
    g.pieces = [
        job.Piece({"hourly_cost_usd": "8.00"}, first=0.0, last=3570.0),
        job.Piece({"hourly_cost_usd": "12.00"}, first=3600.0, last=7200.0),
    ]
    parts = {
        "target_gpus": [({"instance": "n1:9400"}, 4.0)],
        "node_price": [({"instance": "n1:9400", "hourly_cost_usd": "8.00"}, 10.0)],
    }
    job._fill_stats([g], parts)
    assert job._gpu_report(g, 30.0, False)["cost_usd"] == pytest.approx(10.0 / 4 + 12.0 / 4)
    g.pieces[1].labels = {}  # no price at all for the second piece: unknown
    assert job._gpu_report(g, 30.0, False)["cost_usd"] is None


def test_summary_sorted_by_idle_then_gpu_hours():
    parts = {
        "samples": [
            (_lb(job_id=j, hourly_cost_usd="1"), n) for j, n in (("1", 11.0), ("2", 21.0), ("3", 11.0))
        ],
        "idle_sum": [(_lb(job_id="3"), 11.0)],
        "idle_count": [(_lb(job_id=j), n) for j, n in (("1", 11.0), ("2", 21.0), ("3", 11.0))],
    }
    assert [r["job_id"] for r in summary._rows(parts, 60.0, 60.0)["jobs"]] == ["3", "2", "1"]


def test_formats():
    doc = {
        "jobs": [
            {
                "job_id": "7",
                "user": "ann",
                "gpus": 2,
                "gpu_hours": 1 / 3,
                "idle_gpu_hours": 0.0,
                "utilization_mean": None,
                "energy_joules": None,
                "cost_usd": 0.1 + 0.2,
            }
        ],
        "users": [],
    }
    assert render.summary_csv(doc, False).splitlines() == [
        "job_id,user,gpus,gpu_hours,idle_gpu_hours,utilization_mean,energy_joules,cost_usd",
        "7,ann,2,0.333333,0,,,0.3",
    ]
    # Spreadsheet-friendly numbers: no exponent, no digits lost on large energies.
    doc["jobs"][0].update(energy_joules=12345678.9, cost_usd=-0.0000001, user="o'neil, ann")
    assert render.summary_csv(doc, False).splitlines()[1] == '7,"o\'neil, ann",2,0.333333,0,,12345678.9,0'
    assert json.loads(render.to_json({"x": 0.1 + 0.2, "memory_used_max_bytes": 2.0**31})) == {
        "x": 0.3,
        "memory_used_max_bytes": 2**31,
    }
    text = render.summary_text({"jobs": [], "users": []}, False, 0, 3600)
    assert "(no GPU jobs in this range)" in text
