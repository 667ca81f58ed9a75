"""``gpuwatch-rules import`` on real public rule collections (tests/fixtures/rules/import, see its
README): import -> compile -> real ``promtool check rules`` -> every rule compared with the input
(name, expression, for, keep_firing_for, labels, annotations), normalising only what the
importer and compiler add. Plus the promtool test import (the compiled tests pass in real
promtool) and bad input (file:line, exit 1, nothing written)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules.cli import cli
from gpuwatch.rules.durations import parse_ms

try:  # conftest's module name depends on pytest's import mode
    from conftest import FIXTURES, require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import FIXTURES, require_programs

IMPORT = FIXTURES / "rules" / "import"
COLLECTIONS = [
    "kube-prometheus/node-exporter.yml",
    "kube-prometheus/prometheus.yml",
    "kube-prometheus/alertmanager.yml",
    "kube-prometheus/kubePrometheus-prometheusRule.yaml",
    "kube-prometheus/kubernetesControlPlane-prometheusRule.yaml",
    "kube-prometheus/kubeStateMetrics-prometheusRule.yaml",
    "kube-prometheus/prometheusOperator-prometheusRule.yaml",
    "kube-prometheus/grafana-prometheusRule.yaml",
    "awesome-prometheus-alerts/prometheus-self-monitoring.yml",
    "prometheus-promtool/rules.yml",
]


def promtool() -> str:
    return require_programs("promtool")["promtool"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def input_groups(path: Path) -> list[dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    if doc.get("kind") == "PrometheusRule":
        doc = doc["spec"]
    return doc["groups"]


def _ms(v: Any) -> int:
    return 0 if v is None else parse_ms(v)


def _strs(m: dict | None) -> dict[str, str]:
    return {k: v if isinstance(v, str) else str(v) for k, v in (m or {}).items()}


def compare(src: Path, compiled: Path) -> int:
    """Every rule of ``src`` against the compiled rule files in ``compiled``; returns the number of
    rules compared and fails on the first difference."""
    n = 0
    for g in input_groups(src):
        out = yaml.safe_load((compiled / f"{g['name']}.yml").read_text())["groups"]
        assert len(out) == 1 and out[0]["name"] == g["name"]
        og = out[0]
        assert _ms(og.get("interval")) == _ms(g.get("interval")), g["name"]
        assert og.get("limit", 0) == g.get("limit", 0), g["name"]
        # the pack format lists recording rules before alerts; each kind keeps its order
        want = [r for r in g["rules"] if "record" in r] + [r for r in g["rules"] if "alert" in r]
        assert len(og["rules"]) == len(want), g["name"]
        for r, o in zip(want, og["rules"]):
            name = r.get("alert") or r["record"]
            kind = "alert" if "alert" in r else "record"
            assert o.get(kind) == name, (g["name"], name)
            assert str(o["expr"]).strip() == str(r["expr"]).strip(), name
            labels, olabels = _strs(r.get("labels")), _strs(o.get("labels"))
            if kind == "record":
                assert olabels == labels, name
                n += 1
                continue
            assert _ms(o.get("for")) == _ms(r.get("for")), name
            assert _ms(o.get("keep_firing_for")) == _ms(r.get("keep_firing_for")), name
            # what is added: severity=warning where the rule had none, a component label
            if "severity" not in labels:
                assert olabels.pop("severity") == "warning", name
            if "component" not in labels:
                olabels.pop("component", None)
            assert olabels == labels, name
            ann, oann = _strs(r.get("annotations")), _strs(o.get("annotations"))
            if "summary" not in ann:
                assert oann.pop("summary") == name, name
            if "runbook_url" not in ann:
                oann.pop("runbook_url", None)
            assert oann == ann, name
            n += 1
    return n


def import_to(tmp: Path, *srcs: Path, tests: Path | None = None) -> tuple[Path, Any]:
    out = tmp / "pack"
    args = ["import", *map(str, srcs), "-o", str(out)]
    if tests is not None:
        args += ["--tests", str(tests)]
    r = run(*args)
    assert r.exit_code == 0, r.output + r.stderr
    return out, r


def compile_pack(pack: Path, out: Path, *extra: str) -> Any:
    """`gpuwatch-rules compile` on the imported folder (lenient: warnings are printed, outputs
    written) with the shipped notifications."""
    r = run("compile", str(pack), "-o", str(out), *extra)
    assert r.exit_code == 0, r.output + r.stderr
    return r


@pytest.mark.prometheus
@pytest.mark.parametrize("name", COLLECTIONS)
def test_public_collection_round_trips(tmp_path: Path, name: str) -> None:
    tool = promtool()
    src = IMPORT / name
    pack, _ = import_to(tmp_path, src)
    assert len(list(pack.iterdir())) == len(input_groups(src))  # one file per group
    compile_pack(pack, tmp_path / "out")
    rules = sorted((tmp_path / "out/prometheus/rules").glob("*.yml"))
    assert len(rules) == len(input_groups(src))
    res = subprocess.run([tool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    n = sum(len(g["rules"]) for g in input_groups(src))
    assert compare(src, tmp_path / "out/prometheus/rules") == n


@pytest.mark.prometheus
def test_all_collections_compile_together_with_warnings_only(tmp_path: Path) -> None:
    """One pack of every collection: compiles (warnings for metrics outside the catalogs, labels
    aggregated away, ...), is refused by --strict, and every rule round-trips."""
    tool = promtool()
    srcs = [IMPORT / n for n in COLLECTIONS]
    pack, r = import_to(tmp_path, *srcs)
    assert "imported 41 groups, 169 alerting rules, 98 recording rules" in r.output
    c = compile_pack(pack, tmp_path / "out")
    assert "warning: " in c.stderr and "unknown metric 'kubelet_volume_stats_used_bytes'" in c.stderr
    rules = sorted((tmp_path / "out/prometheus/rules").glob("*.yml"))
    res = subprocess.run([tool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert sum(compare(s, tmp_path / "out/prometheus/rules") for s in srcs) == 267
    strict = run("compile", str(pack), "-o", str(tmp_path / "strict"), "--strict")
    assert strict.exit_code == 1 and "refused by --strict" in strict.stderr
    assert not (tmp_path / "strict").exists()


REPEATED_NAMES = """\
groups:
  - name: node
    rules:
      - alert: HostOutOfMemory
        expr: node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100 < 10
        for: 2m
        labels: {severity: warning}
        annotations: {summary: 'Host out of memory (instance {{ $labels.instance }})'}
      - alert: HostOutOfMemory
        expr: node_memory_MemAvailable_bytes{job="gpu-nodes"} / node_memory_MemTotal_bytes * 100 < 20
        for: 2m
        labels: {severity: warning}
        annotations: {summary: 'GPU host out of memory (instance {{ $labels.instance }})'}
  - name: other
    rules:
      - alert: HostOutOfMemory
        expr: node_memory_MemAvailable_bytes < 1e9
        labels: {severity: critical}
        annotations: {summary: Host out of memory}
"""


@pytest.mark.prometheus
def test_repeated_alert_names_prometheus_accepts_round_trip(tmp_path: Path) -> None:
    """One alert name twice with the same labels in a group, and again in another group: promtool
    check rules accepts the file, so import and compile do too (warnings), and it round-trips."""
    tool = promtool()
    src = tmp_path / "node.rules.yml"
    src.write_text(REPEATED_NAMES)
    assert subprocess.run([tool, "check", "rules", str(src)], capture_output=True).returncode == 0
    pack, _ = import_to(tmp_path, src)
    c = compile_pack(pack, tmp_path / "out")
    assert "warning: alert 'HostOutOfMemory' has the same labels as the one at" in c.stderr
    assert "warning: alert 'HostOutOfMemory' is also defined in group 'node'" in c.stderr
    rules = sorted((tmp_path / "out/prometheus/rules").glob("*.yml"))
    res = subprocess.run([tool, "check", "rules", *map(str, rules)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert compare(src, tmp_path / "out/prometheus/rules") == 3


@pytest.mark.prometheus
def test_promtool_tests_import_and_pass_in_promtool(tmp_path: Path) -> None:
    """Prometheus' own promtool unit test of its rules.yml: the alert tests become per-alert
    tests:, and the compiled tests pass in real promtool; promql_expr_test is left out, with a
    warning."""
    tool = promtool()
    src = IMPORT / "prometheus-promtool"
    pack, r = import_to(tmp_path, src / "rules.yml", tests=src / "unittest.yml")
    assert "2 promtool tests" in r.output
    assert r.stderr.count("promql_expr_test is not imported") == 5
    assert "rules.yml:14:16: warning: alert 'AlwaysFiring' has no severity label" in r.stderr
    doc = yaml.safe_load((pack / "alerts.yml").read_text())
    down = doc["alerts"][0]
    assert down["labels"] == {"severity": "page"} and "severity" not in down
    (t,) = down["tests"]
    assert t["not_at"] == "0s" and t["fires_at"] == "1d"
    assert t["expect"] == [
        {
            "labels": {"instance": "localhost:9090", "job": "prometheus"},
            "annotations": {
                "summary": "Instance localhost:9090 down",
                "description": "localhost:9090 of job prometheus has been down for more than 5 minutes.",
            },
        }
    ]
    compile_pack(pack, tmp_path / "out")
    tests = sorted((tmp_path / "out/prometheus/tests").glob("*.yml"))
    assert [p.name for p in tests] == ["alerts_test.yml"]
    res = subprocess.run([tool, "test", "rules", *map(str, tests)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    # and they really test something: a wrong expected annotation fails
    bad = tests[0].read_text().replace("has been down", "has been up")
    tests[0].write_text(bad)
    res = subprocess.run([tool, "test", "rules", str(tests[0])], capture_output=True, text=True)
    assert res.returncode == 1, res.stdout


@pytest.mark.prometheus
def test_mapping_of_fields(tmp_path: Path) -> None:
    src = tmp_path / "in.yml"
    src.write_text(
        "groups:\n"
        "  - name: things\n"
        "    interval: 30s\n"
        "    limit: 10\n"
        "    rules:\n"
        "      - record: job:up:sum\n"
        "        expr: sum by (job) (up)\n"
        "      - record: series:count\n"
        '        expr: count({__name__=~".+"})\n'
        "      - alert: Dead\n"
        "        expr: vector(1)\n"
        "        labels: {severity: none, team: infra}\n"
        "        annotations: {summary: always, dashboard: 'https://g/d'}\n"
        "      - alert: Down\n"
        "        expr: '{__name__=~\"up|node_up\"} == 0'\n"
        "        for: 5m\n"
        "        keep_firing_for: 10m\n"
        "        labels: {severity: critical, component: slurm}\n"
        "        annotations:\n"
        "          summary: '{{ $labels.instance }} down'\n"
        "          description: 'for {{ $value | humanizeDuration }}'\n"
        "          runbook_url: https://runbooks/down\n"
        "      - alert: Bare\n"
        '        expr: "{__name__=~\\"gpu_.+\\"} > 1"\n'
        "        annotations: {summary: s}\n"
    )
    pack, r = import_to(tmp_path, src)
    assert (
        "in.yml:23:16: warning: alert 'Bare' has no severity label: imported as severity: warning" in r.stderr
    )
    doc = yaml.safe_load((pack / "things.yml").read_text())
    assert doc["group"] == "things" and doc["interval"] == "30s" and doc["limit"] == 10
    assert doc["recording"] == [
        {"record": "job:up:sum", "expr": "sum by (job) (up)"},
        {"record": "series:count", "expr": 'count({__name__=~".+"})'},
    ]
    dead, down, bare = doc["alerts"]
    assert dead == {
        "alert": "Dead",
        "expr": "vector(1)",
        "summary": "always",
        "labels": {"severity": "none", "team": "infra"},
        "annotations": {"dashboard": "https://g/d"},
        "always_fires": True,
    }
    assert down == {
        "alert": "Down",
        "expr": '{__name__=~"up|node_up"} == 0',
        "for": "5m",
        "keep_firing_for": "10m",
        "severity": "critical",
        "component": "slurm",
        "summary": "{{ $labels.instance }} down",
        "description": "for {{ $value | humanizeDuration }}",
        "runbook": "https://runbooks/down",
    }
    assert bare["severity"] == "warning" and bare["expr"] == '{__name__=~"gpu_.+"} > 1'
    # compiled: the same rules again
    compile_pack(pack, tmp_path / "out")
    assert compare(src, tmp_path / "out/prometheus/rules") == 5
    res = subprocess.run(
        [promtool(), "check", "rules", str(tmp_path / "out/prometheus/rules/things.yml")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


BAD = [
    ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n", "in.yml:5:15: PromQL:"),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5 minutes\n",
        "in.yml:6:14: alert 'for': '5 minutes' is not a duration",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        sevrity: x\n",
        "in.yml:6:9: unknown field 'sevrity' in rule",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        record: b\n        expr: up\n",
        "in.yml:4:9: a rule needs exactly one of 'alert' and 'record'",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - record: b\n        expr: up\n        for: 1m\n",
        "in.yml:6:9: a recording rule cannot have 'for'",
    ),
    (
        "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
        "in.yml:4:11: group 'g' defined twice in this file",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        expr: down\n",
        "in.yml:6:9: duplicate key 'expr'",
    ),
    (
        "groups:\n  - name: g\n    query_offset: 1m\n    rules: []\n",
        "in.yml:3:5: group field 'query_offset' (Prometheus 2.53)",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up > 1\n        labels: {'bad-name': x}\n",
        "in.yml:6:18: rule 'labels': 'bad-name' is not a valid label name",
    ),
    (
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up > 1\n        annotations: {summary: '%{x}'}\n",
        "contains '%{...}'",
    ),
    ("groups: [\n", "in.yml:2:1: YAML syntax"),
    ("kind: PrometheusRule\nspec: {}\n", "in.yml:2:7: PrometheusRule without spec.groups"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(": ", 1)[-1][:30] for _, m in BAD])
def test_bad_input_names_file_and_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.yml").write_text(
        "groups:\n  - name: fine\n    rules:\n      - alert: A\n        expr: up == 0\n"
    )
    Path("in.yml").write_text(text)
    r = run("import", "good.yml", "in.yml", "-o", "out")
    assert r.exit_code == 1
    assert message in r.stderr, r.stderr
    assert "nothing written" in r.stderr
    assert not Path("out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    src = IMPORT / "kube-prometheus/alertmanager.yml"
    pack, _ = import_to(tmp_path, src)
    (pack / "alertmanager.rules.yml").write_text("# mine\n")
    r = run("import", str(src), "-o", str(pack))
    assert r.exit_code == 1 and "would overwrite alertmanager.rules.yml; pass --force" in r.stderr
    assert (pack / "alertmanager.rules.yml").read_text() == "# mine\n"
    r = run("import", str(src), "-o", str(pack), "--force")
    assert r.exit_code == 0, r.stderr
    assert (pack / "alertmanager.rules.yml").read_text().startswith("# Imported from ")


def test_same_group_in_two_files_is_renamed(tmp_path: Path) -> None:
    """Prometheus takes one group name in two files (two collections' 'node' groups); a pack's
    group names name its compiled files, so the second is renamed, with a warning."""
    a, b = tmp_path / "a.yml", tmp_path / "b.yml"
    for f, expr in ((a, "up == 0"), (b, "up == 1")):
        f.write_text(f"groups:\n  - name: same\n    rules:\n      - alert: A\n        expr: {expr}\n")
    r = run("import", str(a), str(b), "-o", str(tmp_path / "out"))
    assert r.exit_code == 0, r.stderr
    assert "b.yml:2:11: warning: group 'same' is also defined in" in r.stderr
    assert "imported as 'same_2'" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["same.yml", "same_2.yml"]
    assert yaml.safe_load((tmp_path / "out/same_2.yml").read_text())["group"] == "same_2"
    compile_pack(tmp_path / "out", tmp_path / "compiled")


def test_test_for_unknown_alert_is_refused(tmp_path: Path) -> None:
    rules = IMPORT / "prometheus-promtool/rules.yml"
    t = tmp_path / "t.yml"
    t.write_text(
        "tests:\n  - input_series: [{series: up, values: '1'}]\n"
        "    alert_rule_test:\n      - {eval_time: 1m, alertname: Nope, exp_alerts: []}\n"
    )
    r = run("import", str(rules), "--tests", str(t), "-o", str(tmp_path / "out"))
    assert r.exit_code == 1
    assert "t.yml:4:36: alert_rule_test names alert 'Nope', which no imported rule file defines" in r.stderr


def test_lenient_about_style(tmp_path: Path) -> None:
    """What Prometheus takes but a gpuwatch file spells differently: imported, with a warning."""
    src = tmp_path / "in.yml"
    src.write_text(
        "groups:\n"
        "  - name: Node alerts/disk\n"
        "    rules:\n"
        "      - alert: DiskFull\n"
        "        expr: node_filesystem_avail_bytes == 0\n"
        "        labels: {severity: critical}\n"
        "        annotations: {summary: full, description: ''}\n"
        "      - alert: Exists\n"
        "        expr: node_boot_time_seconds\n"
        "        labels: {severity: info}\n"
        "        annotations: {summary: up}\n"
        "  - name: empty\n"
        "    rules: []\n"
    )
    pack, r = import_to(tmp_path, src)
    assert "in.yml:2:11: warning: group 'Node alerts/disk' imported as 'Node_alerts_disk'" in r.stderr
    assert "warning: alert 'DiskFull': empty description annotation left out" in r.stderr
    assert "in.yml:9:15: warning: alert 'Exists': the expression has no comparison or filter" in r.stderr
    assert "in.yml:12:11: warning: group 'empty' has no rules: not imported" in r.stderr
    assert sorted(p.name for p in pack.iterdir()) == ["Node_alerts_disk.yml"]
    doc = yaml.safe_load((pack / "Node_alerts_disk.yml").read_text())
    assert doc["group"] == "Node_alerts_disk"
    assert "description" not in doc["alerts"][0] and doc["alerts"][1]["always_fires"] is True


def test_copy_of_a_rule_is_left_out_with_a_warning(tmp_path: Path) -> None:
    """A rule repeated verbatim in its group (Prometheus runs both, to no effect; the compiler
    refuses a copy): left out with a warning, so the imported pack compiles."""
    src = tmp_path / "in.yml"
    rule = (
        "      - alert: DiskFull\n        expr: node_filesystem_avail_bytes  ==  0\n"
        "        labels: {severity: critical}\n        annotations: {summary: full}\n"
    )
    src.write_text("groups:\n  - name: disk\n    rules:\n" + rule + rule.replace("  ==  ", " == "))
    pack, r = import_to(tmp_path, src)
    assert (
        "in.yml:8:9: warning: rule 'DiskFull' is a copy of the one at line 4 (same name, labels and "
        "expression): left out" in r.stderr
    )
    assert len(yaml.safe_load((pack / "disk.yml").read_text())["alerts"]) == 1
    compile_pack(pack, tmp_path / "out")


@pytest.mark.prometheus
def test_tiered_alert_tests_go_to_their_rule(tmp_path: Path) -> None:
    """Two rules of one alert name (severity tiers): a promtool step expecting the warning goes to
    the warning rule; one expecting both tiers at once cannot be one gpuwatch test (warning); the
    imported tests pass in real promtool."""
    tool = promtool()
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n"
        "  - name: disk\n"
        "    rules:\n"
        "      - alert: DiskFull\n"
        "        expr: disk_used_ratio > 0.9\n"
        "        labels: {severity: warning}\n"
        "        annotations: {summary: 'disk {{ $labels.dev }} at {{ $value }}'}\n"
        "      - alert: DiskFull\n"
        "        expr: disk_used_ratio > 0.97\n"
        "        labels: {severity: critical}\n"
        "        annotations: {summary: 'disk {{ $labels.dev }} at {{ $value }}'}\n"
    )
    tests = tmp_path / "tests.yml"
    tests.write_text(
        "rule_files: [rules.yml]\n"
        "tests:\n"
        "  - interval: 1m\n"
        "    input_series: [{series: 'disk_used_ratio{dev=\"a\"}', values: '0.5 0.95 0.99'}]\n"
        "    alert_rule_test:\n"
        "      - {eval_time: 0m, alertname: DiskFull, exp_alerts: []}\n"
        "      - eval_time: 1m\n"
        "        alertname: DiskFull\n"
        "        exp_alerts:\n"
        "          - exp_labels: {severity: warning, dev: a}\n"
        "            exp_annotations: {summary: disk a at 0.95}\n"
        "      - eval_time: 2m\n"
        "        alertname: DiskFull\n"
        "        exp_alerts:\n"
        "          - exp_labels: {severity: warning, dev: a}\n"
        "            exp_annotations: {summary: disk a at 0.99}\n"
        "          - exp_labels: {severity: critical, dev: a}\n"
        "            exp_annotations: {summary: disk a at 0.99}\n"
    )
    res = subprocess.run([tool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout  # the input test is right
    pack, r = import_to(tmp_path, rules, tests=tests)
    assert "a step at 2m expects several of its rules (severity tiers) firing at once" in r.stderr
    warn, crit = yaml.safe_load((pack / "disk.yml").read_text())["alerts"]
    assert "tests" not in crit
    (t,) = warn["tests"]
    assert t["fires_at"] == "1m" and t["not_at"] == "0m"
    assert t["expect"] == [{"labels": {"dev": "a"}, "annotations": {"summary": "disk a at 0.95"}}]
    compile_pack(pack, tmp_path / "out")
    out = tmp_path / "out/prometheus/tests/disk_test.yml"
    res = subprocess.run([tool, "test", "rules", str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_all_faults_of_a_rule_with_bad_promql_are_reported(tmp_path: Path) -> None:
    """A PromQL syntax error does not hide the rule's other faults: one run shows all."""
    src = tmp_path / "in.yml"
    src.write_text(
        "groups:\n  - name: a\n    rules:\n      - alert: X\n        expr: up ==\n        for: 5 min\n"
        "        labels: {severity: warning, 0bad: x}\n"
    )
    r = run("import", str(src), "-o", str(tmp_path / "out"))
    assert r.exit_code == 1 and not (tmp_path / "out").exists()
    lines = [ln.replace(str(tmp_path) + "/", "") for ln in r.stderr.splitlines()]
    assert lines[0].startswith("in.yml:5:15: PromQL: ")
    assert lines[1:] == [
        "in.yml:6:14: rule 'for': '5 min' is not a duration like 30s, 5m or 1h30m",
        "in.yml:7:37: rule 'labels': '0bad' is not a valid label name",
        "3 problems found; nothing written.",
    ]


@pytest.mark.prometheus
def test_alert_names_prometheus_accepts_are_kept(tmp_path: Path) -> None:
    """Alert names that are not identifiers ('Disk Full', 'x-y.z'): Prometheus takes them, so they
    import and compile (a warning each), round-trip, and link to the runbook anchor GitHub gives
    their heading."""
    tool = promtool()
    src = tmp_path / "in.yml"
    src.write_text(
        "groups:\n  - name: a\n    rules:\n"
        "      - {alert: Disk Full, expr: up == 0, labels: {severity: warning}, annotations: {summary: s}}\n"
        "      - {alert: x-y.z, expr: up == 0, labels: {severity: info}, annotations: {summary: s}}\n"
    )
    assert subprocess.run([tool, "check", "rules", str(src)], capture_output=True).returncode == 0
    pack, _ = import_to(tmp_path, src)
    c = compile_pack(pack, tmp_path / "out", "--runbook-url", "https://rb.example.org/site")
    assert "warning: alert name 'Disk Full' is not a plain name like DiskFull" in c.stderr
    rules = tmp_path / "out/prometheus/rules"
    assert subprocess.run([tool, "check", "rules", str(rules / "a.yml")], capture_output=True).returncode == 0
    assert compare(src, rules) == 2
    out = yaml.safe_load((rules / "a.yml").read_text())["groups"][0]["rules"]
    assert [r["annotations"]["runbook_url"] for r in out] == [
        "https://rb.example.org/site#disk-full",
        "https://rb.example.org/site#x-yz",
    ]


@pytest.mark.prometheus
def test_group_labels_are_written_on_each_rule(tmp_path: Path) -> None:
    """Prometheus 3's group 'labels' (a rule's own label wins): written on each rule, with a
    warning, so the compiled file gives the same series and alerts on any Prometheus."""
    tool = promtool()
    src = tmp_path / "in.yml"
    src.write_text(
        "groups:\n  - name: a\n    labels: {team: infra, severity: critical}\n    rules:\n"
        "      - {record: 'job:up:sum', expr: sum by (job) (up)}\n"
        "      - {alert: Down, expr: up == 0, annotations: {summary: s}}\n"
        "      - {alert: Flaky, expr: up == 0, labels: {severity: info}, annotations: {summary: s}}\n"
    )
    pack, r = import_to(tmp_path, src)
    assert "in.yml:3:13: warning: group 'a': its labels (severity, team) are written on each rule" in r.stderr
    compile_pack(pack, tmp_path / "out")
    out = tmp_path / "out/prometheus/rules/a.yml"
    assert subprocess.run([tool, "check", "rules", str(out)], capture_output=True).returncode == 0
    rules = yaml.safe_load(out.read_text())["groups"][0]["rules"]
    assert rules[0]["labels"] == {"team": "infra", "severity": "critical"}
    assert {k: rules[1]["labels"][k] for k in ("team", "severity")} == {
        "team": "infra",
        "severity": "critical",
    }
    assert {k: rules[2]["labels"][k] for k in ("team", "severity")} == {"team": "infra", "severity": "info"}


@pytest.mark.prometheus
def test_templated_labels_import_compile_and_test(tmp_path: Path) -> None:
    """Prometheus renders templates in alert labels (a severity chosen by $value): imported as
    written, compiled verbatim, and the promtool tests expect the rendered value (exact) or any
    value (fires_at without expect); they pass in real promtool."""
    tool = promtool()
    src = tmp_path / "in.yml"
    sev = "{{ if gt $value 90.0 }}critical{{ else }}warning{{ end }}"
    src.write_text(
        "groups:\n  - name: t\n    rules:\n      - alert: Hot\n        expr: node_hwmon_temp_celsius > 80\n"
        f"        labels: {{severity: '{sev}', team: infra}}\n"
        "        annotations: {summary: 'hot {{ $labels.chip }}'}\n"
    )
    pack, r = import_to(tmp_path, src)
    doc = yaml.safe_load((pack / "t.yml").read_text())
    assert doc["alerts"][0]["labels"]["severity"] == sev
    series = 'node_hwmon_temp_celsius{instance="a", job="node", chip="c", sensor="t1"}'
    doc["alerts"][0]["tests"] = [
        {
            "series": {series: "95x10"},
            "fires_at": "5m",
            "expect": [
                {"labels": {"instance": "a", "job": "node", "chip": "c", "sensor": "t1"}, "value": 95}
            ],
        },
        {"series": {series: "85x10"}, "fires_at": "5m"},
    ]
    (pack / "t.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    compile_pack(pack, tmp_path / "out")
    rule = yaml.safe_load((tmp_path / "out/prometheus/rules/t.yml").read_text())["groups"][0]["rules"][0]
    assert rule["labels"]["severity"] == sev
    tests_dir = tmp_path / "out/prometheus/tests"
    tests = yaml.safe_load((tests_dir / "t_test.yml").read_text())["tests"]
    assert tests[0]["alert_rule_test"][0]["exp_alerts"][0]["exp_labels"]["severity"] == "critical"
    res = subprocess.run([tool, "test", "rules", "t_test.yml"], cwd=tests_dir, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    del doc["alerts"][0]["tests"][0]["expect"][0]["value"]  # the label renders from $value
    (pack / "t.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    r = run("compile", str(pack), "-o", str(tmp_path / "out2"))
    assert (
        r.exit_code == 1 and "a label's template uses $value: give the expected alert's 'value'" in r.stderr
    )
