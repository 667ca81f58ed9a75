"""Metrics from outside gpuwatch: the shipped catalogs (node_exporter, Prometheus, Alertmanager),
--catalog FILE in the simple YAML or Prometheus' /api/v1/metadata JSON, pack.yml 'catalogs:', and
--no-default-catalogs; component inference and alerts without a component on the dashboards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules import catalogs, compiler
from gpuwatch.rules.catalogs import from_metrics
from gpuwatch.rules.cli import cli
from gpuwatch.rules.errors import Problems

try:  # conftest's module name depends on pytest's import mode
    from conftest import FIXTURES
except ImportError:  # pragma: no cover
    from tests.conftest import FIXTURES

NOTIF = FIXTURES / "rules" / "minimal" / "notifications.yml"
METADATA = FIXTURES / "rules" / "catalogs" / "prometheus-2.42-metadata.json"
COMMON = ["--notifications", str(NOTIF), "--runbook-url", "https://runbooks.example.org/x"]


def alert(name: str, expr: str, extra: str = "") -> str:
    return (
        f"  - alert: {name}\n    expr: '{expr}'\n    severity: warning\n"
        f"    summary: s\n    description: d\n{extra}"
    )


def pack(tmp_path: Path, *alerts: str, files: dict[str, str] | None = None) -> Path:
    d = tmp_path / "pack"
    d.mkdir(exist_ok=True)
    (d / "g.yml").write_text("group: g\nalerts:\n" + "".join(alerts))
    for name, text in (files or {}).items():
        (d / name).write_text(text)
    return d


def run(src: Path, *args: str):
    out = src.parent / "out"
    r = CliRunner().invoke(cli, ["compile", str(src), *COMMON, "-o", str(out), *args])
    return r, out


def test_node_filesystem_alert_compiles_strict_with_the_shipped_catalog(tmp_path: Path) -> None:
    src = pack(
        tmp_path,
        alert(
            "DiskFull",
            'node_filesystem_avail_bytes{fstype!="tmpfs", mountpoint="/"} / node_filesystem_size_bytes < 0.1',
            "    summary: '{{ $labels.mountpoint }} on {{ $labels.instance }}'\n",
        ).replace("    summary: s\n", "", 1),
    )
    r, out = run(src, "--strict")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    rule = yaml.safe_load((out / "prometheus/rules/g.yml").read_text())["groups"][0]["rules"][0]
    assert rule["labels"] == {"severity": "warning"}  # node_* belongs to no gpuwatch component


def test_label_the_catalog_does_not_declare_is_reported(tmp_path: Path) -> None:
    src = pack(tmp_path, alert("DiskFull", 'node_filesystem_avail_bytes{mount_point="/"} < 1e9'))
    r, out = run(src)
    assert r.exit_code == 0, r.stderr  # another exporter's catalog may lag: a warning
    assert (
        "g.yml:4:11: warning: 'node_filesystem_avail_bytes' has no label 'mount_point' in "
        "rules/catalogs/node_exporter.yml" in r.stderr
    )
    assert "fstype" in r.stderr and "mountpoint" in r.stderr  # the labels it does have
    r, _ = run(src, "--strict")
    assert r.exit_code == 1


def test_without_default_catalogs_a_foreign_metric_is_a_warning(tmp_path: Path) -> None:
    src = pack(tmp_path, alert("DiskFull", 'node_filesystem_avail_bytes{mountpoint="/"} < 1e9'))
    r, out = run(src, "--no-default-catalogs")
    assert r.exit_code == 0, r.stderr
    assert "warning: unknown metric 'node_filesystem_avail_bytes': no catalog declares it" in r.stderr
    assert (out / "prometheus/rules/g.yml").exists()
    r, _ = run(src, "--no-default-catalogs", "--strict")
    assert r.exit_code == 1


def test_unknown_gpuwatch_name_stays_an_error_whatever_the_catalogs(tmp_path: Path) -> None:
    cat = tmp_path / "mine.yml"
    cat.write_text("metrics:\n  - {name: gpuwatch_gpu_temp_celsius, type: gauge, labels: [gpu]}\n")
    src = pack(tmp_path, alert("Hot", "gpuwatch_gpu_temp_celsius > 85"))
    r, out = run(src, "--catalog", str(cat))
    assert r.exit_code == 1
    assert "unknown metric 'gpuwatch_gpu_temp_celsius': no gpuwatch exporter declares it" in r.stderr
    assert ": warning:" not in r.stderr
    assert not out.exists()


DCGM = """\
description: dcgm-exporter 3.3, the fields this site enables
metrics:
  - {name: DCGM_FI_DEV_GPU_TEMP, type: gauge, labels: [gpu, UUID, device, modelName, Hostname]}
  - {name: DCGM_FI_DEV_XID_ERRORS, type: gauge, labels: [gpu, UUID, device, modelName, Hostname, err_code]}
  - name: DCGM_FI_PROF_PIPE_TENSOR_ACTIVE
    type: gauge
"""


def test_yaml_catalog_from_the_pack_file(tmp_path: Path) -> None:
    src = pack(
        tmp_path,
        alert("DcgmHot", 'DCGM_FI_DEV_GPU_TEMP{modelName=~"H100.*"} > 85'),
        alert("DcgmXidBurst", "rate(DCGM_FI_DEV_XID_ERRORS[5m]) > 0"),
        alert("DcgmBadLabel", 'DCGM_FI_DEV_GPU_TEMP{gpu_uuid="x"} > 85'),
        alert("TensorIdle", 'DCGM_FI_PROF_PIPE_TENSOR_ACTIVE{anything="x"} < 0.01'),
        files={"pack.yml": "catalogs: [catalogs/dcgm.yml]\n"},
    )
    (src / "catalogs").mkdir()
    (src / "catalogs/dcgm.yml").write_text(DCGM)
    r, out = run(src)
    lines = r.stderr.splitlines()
    assert r.exit_code == 1  # rate() over a gauge is an error, from any catalog
    assert any(
        "rate() over 'DCGM_FI_DEV_XID_ERRORS', which is a gauge" in x and ": warning:" not in x for x in lines
    )
    assert any(
        "warning: 'DCGM_FI_DEV_GPU_TEMP' has no label 'gpu_uuid' in " in x and "catalogs/dcgm.yml" in x
        for x in lines
    )
    assert not any("TENSOR" in x for x in lines)  # no labels declared: none checked
    assert not any("g.yml:4:" in x for x in lines)  # DcgmHot: modelName is declared
    assert len(lines) == 3  # the error, the warning, the tally


def test_pack_file_errors_name_the_line(tmp_path: Path) -> None:
    src = pack(tmp_path, alert("A", "up == 0"), files={"pack.yml": "catalogs:\n  - nope.yml\nextra: 1\n"})
    r, _ = run(src)
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0].endswith(
        "pack.yml:2:5: catalog 'nope.yml': no such file (paths are relative to pack.yml)"
    )
    assert lines[1].endswith(
        "pack.yml:3:1: unknown field 'extra' in pack.yml; allowed: catalogs, target_labels"
    )


def test_site_target_labels_in_pack_file(tmp_path: Path) -> None:
    """Labels the site's scrape configs add to every target (kube-prometheus' namespace, a cluster
    label): declared once in pack.yml, matchers on them pass for every metric, gpuwatch's too."""
    exprs = [
        alert("Hot", 'gpuwatch_gpu_temperature_celsius{cluster="a"} > 85'),
        alert("Reload", 'prometheus_config_last_reload_successful{namespace="monitoring"} == 0'),
    ]
    src = pack(tmp_path, *exprs)
    r, out = run(src)
    assert r.exit_code == 1 and not out.exists()
    assert "'gpuwatch_gpu_temperature_celsius' has no label 'cluster'" in r.stderr
    assert (
        "a label your scrape config adds to every target goes under 'target_labels:' in pack.yml" in r.stderr
    )
    assert "warning: 'prometheus_config_last_reload_successful' has no label 'namespace'" in r.stderr
    (src / "pack.yml").write_text("target_labels: [cluster, namespace]\n")
    r, out = run(src, "--strict")
    assert r.exit_code == 0, r.stderr
    (src / "pack.yml").write_text("target_labels: cluster\n")
    r, _ = run(src)
    assert r.exit_code == 1 and "pack.yml:1:16: 'target_labels' must be a list of label names" in r.stderr


def test_bad_catalog_entries_are_errors_with_lines(tmp_path: Path) -> None:
    cat = tmp_path / "bad.yml"
    cat.write_text(
        "metrics:\n"
        "  - {name: a_total, type: countr}\n"
        "  - {name: b, type: gauge, labels: x}\n"
        "  - {name: b, type: gauge}\n"
        "  - {type: gauge, colour: red}\n"
    )
    src = pack(tmp_path, alert("A", "up == 0"))
    r, _ = run(src, "--catalog", str(cat))
    assert r.exit_code == 1
    msgs = [x.split(": ", 1)[1] for x in r.stderr.splitlines()[:-1]]
    assert [x.split(":")[1:3] for x in r.stderr.splitlines()[:-1]] == [
        ["2", "27"],
        ["3", "36"],
        ["4", "12"],
        ["5", "5"],
        ["5", "19"],
    ]
    assert msgs[0].startswith("metric 'a_total': type must be one of counter, gauge")
    assert msgs[1] == "metric 'b': 'labels' must be a list of label names"
    assert msgs[2] == "metric 'b' is listed twice"
    assert msgs[3] == "catalog entry needs a 'name'"
    assert msgs[4].startswith("unknown field 'colour' in catalog entry")


def test_prometheus_metadata_json_catalog(tmp_path: Path) -> None:
    """The answer of a real Prometheus' /api/v1/metadata: types without labels."""
    meta = json.loads(METADATA.read_text())
    assert meta["status"] == "success" and "prometheus_tsdb_head_series" in meta["data"]
    src = pack(
        tmp_path,
        alert("TooManySeries", 'prometheus_tsdb_head_series{whatever="x"} > 1e6'),
        alert("HeadRate", "rate(prometheus_tsdb_head_series[5m]) > 100"),
        alert("SamplesAppended", "rate(prometheus_tsdb_head_samples_appended_total[5m]) == 0"),
    )
    r, _ = run(src, "--no-default-catalogs", "--catalog", str(METADATA))
    lines = r.stderr.splitlines()
    assert r.exit_code == 1
    assert len(lines) == 2, lines  # only the rate() over a gauge; labels unknown: not checked
    assert "rate() over 'prometheus_tsdb_head_series', which is a gauge" in lines[0]


def test_metadata_json_errors(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    src = pack(tmp_path, alert("A", "up == 0"))
    bad.write_text('{"status": "success", "data": {"x": [{"type": "gauge"}],\n "y": 3')
    r, _ = run(src, "--catalog", str(bad))
    assert r.exit_code == 1 and f"{bad}:2:8: JSON syntax:" in r.stderr
    bad.write_text('{"status": "error", "data": {}}')
    r, _ = run(src, "--catalog", str(bad))
    assert r.exit_code == 1 and "status 'error'" in r.stderr


def test_counter_families_without_total_from_openmetrics_metadata(tmp_path: Path) -> None:
    meta = tmp_path / "om.json"
    meta.write_text(
        json.dumps({"status": "success", "data": {"dcgm_xid": [{"type": "counter", "help": "", "unit": ""}]}})
    )
    src = pack(tmp_path, alert("Xid", "increase(dcgm_xid_total[5m]) > 0"))
    r, _ = run(src, "--strict", "--catalog", str(meta))
    assert r.exit_code == 0, r.stderr


def test_shipped_catalogs_pass_the_checked_loader() -> None:
    """The fast path reads the shipped files without positions; the checked loader must agree."""
    for path in catalogs.default_paths():
        p = Problems()
        checked = catalogs._from_yaml(path, path.name, p)
        assert not p, [str(x) for x in p.items]
        assert checked == catalogs._shipped(path, path.name)
        assert len(checked) > 30
    cat = catalogs.build([(p, p.name) for p in catalogs.default_paths()], Problems())
    for name, labels in [
        ("node_filesystem_avail_bytes", {"device", "fstype", "mountpoint"}),
        ("node_cpu_seconds_total", {"cpu", "mode"}),
        ("node_network_receive_bytes_total", {"device"}),
        ("node_disk_read_bytes_total", {"device"}),
        ("alertmanager_notifications_failed_total", {"integration"}),
    ]:
        m = cat.lookup(name)
        assert m is not None and m.labels is not None and labels <= m.labels, name
    for name in [
        "node_memory_MemAvailable_bytes",
        "node_load1",
        "node_boot_time_seconds",
        "node_time_seconds",
        "node_uname_info",
        "up",
        "scrape_duration_seconds",
        "prometheus_rule_evaluation_failures_total",
        "process_resident_memory_bytes",
        "prometheus_http_request_duration_seconds_bucket",
    ]:
        assert name in cat, name
    assert cat.lookup("node_cpu_seconds_total").type == "counter"  # type: ignore[union-attr]


def test_from_metrics_writes_a_catalog_with_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scrape = tmp_path / "metrics.txt"
    scrape.write_text(
        "# HELP dcgm_temp GPU temperature.\n# TYPE dcgm_temp gauge\n"
        'dcgm_temp{gpu="0",UUID="GPU-1"} 40\n'
        "# HELP dcgm_xid XID errors.\n# TYPE dcgm_xid counter\n"
        'dcgm_xid_total{gpu="0",err="79"} 1\n'
        "# HELP dcgm_empty Nothing yet.\n# TYPE dcgm_empty gauge\n"
        "# HELP other_thing x\n# TYPE other_thing gauge\nother_thing 1\n"
    )
    assert from_metrics.main([str(scrape), "--prefix", "dcgm_"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "c.yml").write_text(text)
    p = Problems()
    got = {m.name: (m.type, m.labels) for m in catalogs._from_yaml(tmp_path / "c.yml", "c.yml", p)}
    assert not p
    assert got == {
        "dcgm_temp": ("gauge", frozenset({"gpu", "UUID"})),
        "dcgm_xid_total": ("counter", frozenset({"gpu", "err"})),
        "dcgm_empty": ("gauge", None),
    }


# -- component inference and dashboards ---------------------------------------------------------


@pytest.mark.parametrize(
    "expr,component",
    [
        ("gpuwatch_gpu_temperature_celsius > 85", "gpu"),
        ("gpuwatch_nvml_up == 0", "gpu"),
        ('gpuwatch_slurm_nodes{state="down"} > 0', "slurm"),
        ('up{job="x"} == 0', "meta"),
        ("rate(prometheus_rule_evaluation_failures_total[5m]) > 0", "meta"),
        ("gpuwatch_gpu_temperature_celsius > 85 and on (instance) gpuwatch_slurm_up == 1", None),
        ("node_load1 > 100", None),
        ("g:hot > 0", "gpu"),  # through the recording rule's metrics
    ],
)
def test_component_inferred_from_metrics(tmp_path: Path, expr: str, component: str | None) -> None:
    d = tmp_path / "p"
    d.mkdir()
    (d / "g.yml").write_text(
        "group: g\nrecording:\n  - record: g:hot\n    expr: max by (instance) (gpuwatch_gpu_temperature_celsius)\n"
        "alerts:\n" + alert("A", expr)
    )
    c = compiler.compile_sources(
        compiler.Options(srcs=[str(d)], notifications=str(NOTIF), runbook_url="https://r.example.org/x")
    )
    assert c.alerts[0].component == (component or "")
    rules = yaml.safe_load(c.files[("out", "prometheus/rules/g.yml")])["groups"][0]["rules"]
    assert rules[1]["labels"].get("component") == component


def test_alert_without_component_is_drawn_on_the_overview(tmp_path: Path) -> None:
    d = tmp_path / "p"
    d.mkdir()
    (d / "g.yml").write_text(
        "group: g\nalerts:\n"
        + alert("Load", "node_load1 > 100", "    dashboard: {title: Node load}\n")
        + alert("Hot", "gpuwatch_gpu_temperature_celsius > 85", "    dashboard: {title: GPU temperature}\n")
    )
    c = compiler.compile_sources(
        compiler.Options(srcs=[str(d)], notifications=str(NOTIF), runbook_url="https://r.example.org/x")
    )

    def titles(fname: str) -> list[str]:
        return [p["title"] for p in json.loads(c.files[("grafana", f"dashboards/{fname}")])["panels"]]

    assert "Node load" in titles("alerts-overview.json") and "Node load" not in titles("gpu-fleet.json")
    assert "GPU temperature" in titles("gpu-fleet.json")
