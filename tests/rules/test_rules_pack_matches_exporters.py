"""The default pack selects label values the exporters really emit.

The compiler checks metric and label names against the catalog; label VALUES (flag="drain",
state="node_fail", type="uncorrected", reason="sw_power_cap", ...) it cannot know. A pack that
asks for type="uncorrectable" or flag="draining" compiles, passes its own promtool tests (which
are written with the same wrong value) and never fires. This test takes every equality / simple
regex matcher of the compiled pack (rules and committed dashboards) on an exporter label and looks the value up in what the
exporters produce: their golden outputs plus the Slurm exporter run on Slurm's own state words.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import promql_parser as pp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gpuwatch.exporters import catalog
from gpuwatch.exporters.slurm.exporter import Exporter
from gpuwatch.exporters.slurm.runner import CommandResult
from gpuwatch.rules.components import GPU_TARGET_LABELS, TARGET_LABELS
from gpuwatch.rules.promql import _walk, selector_name

try:  # conftest's module name depends on pytest's import mode
    from conftest import FIXTURES, ROOT
except ImportError:  # pragma: no cover
    from tests.conftest import FIXTURES, ROOT

RULES = ROOT / "compose" / "generated" / "prometheus" / "rules"
DASHBOARDS = ROOT / "grafana" / "dashboards"
SLURM_LAB = FIXTURES / "slurm" / "lab-22.05"
# Labels whose values are free text (drain reasons) or per-site names: not checked here.
FREE = {("gpuwatch_slurm_node_reason_info", "reason")}
_WORDS = re.compile(r"^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$")


class CannedRunner:
    """Serves recorded command output instead of running Slurm clients."""

    timeout = 1.0

    def __init__(self, outputs: dict[str, str]):
        self.outputs = outputs

    def run(self, argv, timeout=None):
        return CommandResult(argv, self.outputs[argv[0]], 0.0)


def _values(text: str, into: dict) -> None:
    text = text.replace(" <dynamic>", " 0")  # the Slurm golden file blanks timing values
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            for k, v in s.labels.items():
                into[(s.name, k)].add(v)


def emitted() -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    _values((FIXTURES / "gpu" / "golden.metrics").read_text(), out)
    _values((FIXTURES / "slurm" / "golden" / "metrics.prom").read_text(), out)
    for stage in ("busy", "draining", "down"):
        d = SLURM_LAB / stage
        exp = Exporter(
            ["jobs", "nodes", "partitions"],
            CannedRunner({"sinfo": (d / "sinfo.txt").read_text(), "squeue": (d / "squeue.txt").read_text()}),
        )
        _values(exp.collect_once().decode(), out)
    # A recorded sinfo line with the state column replaced by the flag words Slurm prints
    # (node_state_flag_string: MAINTENANCE, NOT_RESPONDING, DRAIN, ...; sinfo lowercases them).
    line = (SLURM_LAB / "busy" / "sinfo.txt").read_text().splitlines()[0].split("|")
    rows = []
    for i, state in enumerate(
        [
            "idle+maintenance+reserved",
            "down+not_responding",
            "idle+drain",
            "down*",
            "mixed+completing",
            "idle+powered_down",
            "idle+reboot_requested",
            "idle+fail",
        ]
    ):
        cols = list(line)
        cols[0], cols[4] = f"n{i}", state
        rows.append("|".join(cols))
    exp = Exporter(["nodes"], CannedRunner({"sinfo": "\n".join(rows) + "\n"}))
    _values(exp.collect_once().decode(), out)
    return out


def _exprs():
    """(file, rule or panel, PromQL) of the compiled pack: rule files and committed dashboards."""
    for f in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(f.read_text())["groups"]:
            for rule in group["rules"]:
                yield f.name, rule.get("alert") or rule.get("record"), rule["expr"]
    for f in sorted(DASHBOARDS.glob("*.json")):
        stack = [json.loads(f.read_text())]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if isinstance(node.get("expr"), str) and node["expr"]:
                    yield (
                        f.name,
                        node.get("legendFormat", "panel"),
                        node["expr"]
                        .replace("$__rate_interval", "5m")
                        .replace("$__range_s", "3600")
                        .replace("$__range", "1h"),
                    )
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)


def pack_matchers():
    """(file, alert/panel, metric, label, op, value) for every matcher of the compiled pack."""
    for file, name, expr in _exprs():
        for node in _walk(pp.parse(expr)):
            if not isinstance(node, pp.VectorSelector):
                continue
            metric = selector_name(node)
            for m in node.matchers.matchers:
                if m.name != "__name__":
                    yield file, name, metric, m.name, str(m.op), m.value


def test_pack_label_values_are_emitted_by_the_exporters() -> None:
    seen = emitted()
    metrics = catalog.all_metrics()
    checked, problems = 0, []
    for file, alert, metric, label, op, value in pack_matchers():
        d = metrics.get(metric)
        if d is None or label in GPU_TARGET_LABELS | TARGET_LABELS or (metric, label) in FREE:
            continue
        if op == "MatchOp.Equal":
            wanted = [value]
        elif op == "MatchOp.Re" and _WORDS.match(value):
            wanted = value.split("|")
        else:
            continue
        assert label in d.labels, f"{file} {alert}: {metric} has no label {label}"
        for v in wanted:
            checked += 1
            if v not in seen.get((metric, label), set()):
                problems.append(
                    f"{file} {alert}: {metric}{{{label}={v!r}}} but the exporter emits "
                    f"{sorted(seen.get((metric, label), set()))}"
                )
    assert not problems, "\n".join(problems)
    # flag drain/maint/not_responding, state down/node_fail/out_of_memory, type uncorrected,
    # reason sw_power_cap/hw_power_brake_slowdown: the test must actually have looked at them
    assert checked >= 10, checked


def test_node_label_joins_gpu_and_slurm_series() -> None:
    """GpuMissing and the SlurmNodeDown inhibition join on `node`: the Slurm exporter sets it on
    its node series itself; every GPU target of the committed scrape targets carries it."""
    metrics = catalog.all_metrics()
    assert "node" in metrics["gpuwatch_slurm_node_gpus"].labels
    assert "node" in metrics["gpuwatch_slurm_node_state"].labels
    assert "node" not in metrics["gpuwatch_gpu_info"].labels  # it comes from the target, never the exporter
    for f in sorted((ROOT / "compose" / "prometheus").rglob("gpuwatch-gpu*.json*")):
        for group in json.loads(Path(f).read_text()):
            assert group.get("labels", {}).get("node"), f"{f}: GPU target without a node label"
