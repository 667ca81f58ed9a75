"""End to end, real programs only: Slurm (SlurmLab) -> exporters -> Prometheus -> Alertmanager
-> webhook receiver, with the default rule pack compiled with the short-interval overlay and the
pack's own routing and inhibition (only its receivers are pointed at the local webhook).

Faults: scripted GPU faults in scenario files written here (overheat, XID 79 then lost), a real
`scontrol` drain and down of the Slurm node, and a GPU exporter killed with SIGKILL. Each fault
must reach the webhook with the expected labels, routed to the receiver Alertmanager's own
routing test (`amtool config routes test`) picks for its labels, and resolve when the fault ends.
A down Slurm node must silence that node's GPU warnings (inhibition), and every Grafana panel's
query must return data from the live Prometheus. Fault-to-notification latencies are printed.

The tests in this module run in file order on one stack (module fixture); the faults run on
their own clocks, so waiting in one test lets the others' faults progress. The whole module runs
once per Prometheus + Alertmanager pair: the host's (Debian 12: 2.42 + 0.25) and the newest from
the sid version root (3.5 + 0.33); amtool's routing answers come from the same version.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, require_programs, require_root

pytestmark = [pytest.mark.e2e, pytest.mark.slurm, pytest.mark.prometheus, pytest.mark.timeout(420)]

# Scenario timeline, seconds after the GPU exporters start (the simulated clock).
B_OVERHEAT = (6, 30)  # node B, GPU 0
B_LOST = (8, 30)  # node B, GPU 1: XID 79 at 8 s, off the bus (GPU_IS_LOST) until 30 s
B_XID_AT = B_LOST[0]
A_OVERHEAT = (25, 400)  # node A (the Slurm node), GPU 0: runs while the node is down (inhibited)
NODE_B = "e2e-node-b"
HOT = 97


def scenario(gpus: int, faults: list[dict], uuid_prefix: str) -> str:
    doc = {
        "description": "gpuwatch e2e test scenario",
        "gpus": [
            {
                "uuid": f"GPU-{uuid_prefix}{i:04x}-0000-4000-8000-{i:012x}",
                "values": {"temperature": 45, "utilization": 0.5},
            }
            for i in range(gpus)
        ],
        "faults": faults,
    }
    return yaml.safe_dump(doc, sort_keys=False)


@dataclass
class Run:
    """What the module's tests share: the stack, the lab, fault times and measured latencies."""

    stack: object
    lab: object
    workdir: Path
    exporters_started: float
    started: float
    rules: dict  # alertname -> [rule, ...] (from the compiled rule files; a name may have variants)
    latencies: list[tuple[str, str, float]] = field(default_factory=list)
    faults: dict = field(default_factory=dict)

    @property
    def hook(self):
        return self.stack.webhook

    def at(self, seconds: float) -> float:
        """Wall time of scenario second ``seconds``."""
        return self.exporters_started + seconds

    def expect(self, alertname: str, status: str, timeout: float, since: float = 0.0, **labels):
        event = self.hook.wait_for(alertname, status=status, timeout=timeout, since=since, **labels)
        if event is None:
            seen = [
                (
                    e.alertname,
                    e.status,
                    {k: v for k, v in e.labels.items() if k in ("node", "gpu", "instance")},
                )
                for e in self.hook.events()
            ]
            firing = [
                (a["labels"]["alertname"], a["state"], a["labels"].get("node"))
                for a in self.stack.prometheus.alerts()
            ]
            pytest.fail(
                f"no {status} {alertname} {labels} within {timeout:.0f}s\nwebhook got: {seen}\nPrometheus alerts: {firing}"
            )
        return event

    def record(self, alertname: str, status: str, fault_time: float, event) -> None:
        self.latencies.append((alertname, status, event.received - fault_time))


_ROUTES: dict[tuple, str] = {}


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def amtool_receiver(amtool: list[str], config: Path, labels: dict[str, str]) -> str:
    key = (str(config), tuple(sorted(labels.items())))
    if key in _ROUTES:
        return _ROUTES[key]
    args = [*amtool, "config", "routes", "test", f"--config.file={config}"]
    # values double-quoted: Alertmanager 0.27+ parses matchers with its UTF-8 parser (a value such
    # as `gpuwatch e2e: maintenance` unquoted only passes through the classic fallback, with a
    # warning on stdout); 0.25's classic parser reads the quoted form the same way
    args += [f'{k}="{_quote(v)}"' for k, v in sorted(labels.items())]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert "level=WARN" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    _ROUTES[key] = proc.stdout.strip()
    return _ROUTES[key]


# version root -> (Prometheus, Alertmanager): the oldest and the newest pair tested.
PROM_PAIRS = {"host": ("2.42", "0.25"), "sid": ("3.5", "0.33")}


@pytest.fixture(
    scope="module", params=list(PROM_PAIRS), ids=[f"prom{p}-am{a}" for p, a in PROM_PAIRS.values()]
)
def run(request, tmp_path_factory, pytestconfig):
    require_programs("slurmctld", "slurmd", "munged", "scontrol")
    if request.param == "host":
        require_programs("prometheus", "prometheus-alertmanager", "amtool")
    root = require_root(request.param)
    from gpuwatch.localstack.promstack import tool, versions
    from gpuwatch.localstack.slurm import SlurmLab
    from gpuwatch.localstack.stack import GpuNode, LocalStack, fast_overlay

    label = versions(root)
    prom, am = PROM_PAIRS[request.param]
    assert f"Prometheus {prom}." in label and f"Alertmanager {am}." in label, label

    workdir = tmp_path_factory.mktemp("e2e")
    # ReturnToService=1: a node an administrator set DOWN stays down until resumed (with the
    # lab's default of 2, slurmd's next registration, e.g. after its jobs are killed, revives it).
    lab = SlurmLab(workdir / "slurm", extra_conf="ReturnToService=1").start()
    try:
        lab.sbatch(["-p", "gpu", "--gres=gpu:1", "-J", "e2e-train"], user="nobody")
        lab.sbatch(["-p", "gpu", "--gres=gpu:2", "-J", "e2e-waits"], user="nobody")
        a = workdir / "node-a.yml"
        a.write_text(
            scenario(
                2,
                [
                    {
                        "kind": "overheat",
                        "gpu": 0,
                        "temperature": HOT,
                        "at": A_OVERHEAT[0],
                        "until": A_OVERHEAT[1],
                    }
                ],
                "aaaa",
            )
        )
        b = workdir / "node-b.yml"
        b.write_text(
            scenario(
                2,
                [
                    {
                        "kind": "overheat",
                        "gpu": 0,
                        "temperature": HOT,
                        "at": B_OVERHEAT[0],
                        "until": B_OVERHEAT[1],
                    },
                    {"kind": "xid", "gpu": 1, "xid": 79, "at": B_LOST[0], "until": B_LOST[1]},
                ],
                "bbbb",
            )
        )
        nodes = [
            GpuNode(node=lab.node, scenario=a, pod="pod-a"),
            GpuNode(node=NODE_B, scenario=b, pod="pod-b"),
        ]
        stack = LocalStack(
            workdir / "stack", gpu_nodes=nodes, slurm_env=lab.env, overlay=fast_overlay(), prom_root=root
        )
        started = time.time()
        stack.start()
        # The exporters started inside start(); their clocks began then (bounded below by `started`).
        exporters_started = min(g.process.started_at for g in nodes)
        rules = {}
        for f in sorted((stack.generated / "prometheus" / "rules").glob("*.yml")):
            for group in yaml.safe_load(f.read_text())["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        rules.setdefault(rule["alert"], []).append(rule)
        r = Run(
            stack=stack,
            lab=lab,
            workdir=workdir,
            exporters_started=exporters_started,
            started=started,
            rules=rules,
        )
        r.faults["amtool"] = tool(root, "amtool", binds=[stack.generated / "alertmanager"])
        r.faults["versions"] = label
        yield r
    finally:
        try:
            if "stack" in locals():
                stack.stop()
        finally:
            lab.stop()
    if "r" in locals() and r.latencies:
        print_latencies(r, pytestconfig)


def print_latencies(r: Run, pytestconfig) -> None:
    lines = [
        "",
        f"fault -> webhook notification latency ({r.faults['versions']}; 1 s scrapes/evaluation, fast overlay):",
    ]
    for name, status, seconds in r.latencies:
        lines.append(f"  {name:<34} {status:<9} {seconds:6.1f} s")
    text = "\n".join(lines)
    (r.workdir / "latencies.txt").write_text(text + "\n")
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if reporter is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        for line in lines:
            reporter.write_line(line)


def check_labels_and_route(r: Run, event) -> None:
    """Every alert carries severity and component as its rule says; the webhook it reached is the
    receiver Alertmanager's routing picks for its labels (amtool routes test on the same config)."""
    declared = {
        (rule["labels"]["severity"], rule["labels"]["component"]) for rule in r.rules[event.alertname]
    }
    assert (event.labels["severity"], event.labels["component"]) in declared, (event.labels, declared)
    assert event.labels["severity"] in ("critical", "warning", "info")
    config = r.stack.generated / "alertmanager" / "alertmanager.yml"
    expected = amtool_receiver(r.faults["amtool"], config, event.labels)
    assert event.receiver == expected, f"{event.alertname} went to {event.receiver}, routing says {expected}"
    assert event.path == "/" + expected


# --- the tests, in timeline order -------------------------------------------------------------


def test_every_target_is_scraped(run):
    run.stack.wait_for_targets_up(timeout=30)
    jobs = {t["labels"]["job"] for t in run.stack.prometheus.targets()}
    assert jobs == {"prometheus", "alertmanager", "gpuwatch-gpu", "gpuwatch-slurm"}
    # GPU and Slurm series meet on `node`: the Slurm exporter's own label and the GPU target label.
    query = (
        f'gpuwatch_gpu_temperature_celsius{{node="{run.lab.node}"}} and on(node) gpuwatch_slurm_node_state'
    )
    deadline = time.time() + 15
    while not (joined := run.stack.prometheus.query(query)["result"]) and time.time() < deadline:
        time.sleep(0.5)
    assert len(joined) == 2, f"GPU series of the Slurm node do not join Slurm series on node: {joined}"


def test_node_down_alert_and_routing(run):
    """The Slurm node is set down for real (scontrol); SlurmNodeDown reaches the webhook."""
    t0 = time.time()
    run.lab.set_node_state("down", reason="gpuwatch e2e: node down")
    run.faults["node_down"] = t0
    event = run.expect("SlurmNodeDown", "firing", 60, since=t0, node=run.lab.node)
    run.record("SlurmNodeDown", "firing", t0, event)
    check_labels_and_route(run, event)
    assert event.labels["severity"] == "critical"


def test_gpu_temperature_high_fires(run):
    event = run.expect("GpuTemperatureHigh", "firing", 90, node=NODE_B, gpu="0")
    run.record("GpuTemperatureHigh", "firing", run.at(B_OVERHEAT[0]), event)
    check_labels_and_route(run, event)
    assert event.labels["job"] == "gpuwatch-gpu" and event.labels["pod"] == "pod-b"
    assert event.labels["uuid"].startswith("GPU-bbbb")
    assert event.annotations.get("summary") and event.annotations.get("runbook_url")


def test_gpu_xid_error_and_lost_fire(run):
    xid = run.expect("GpuXidError", "firing", 90, node=NODE_B, gpu="1")
    run.record("GpuXidError", "firing", run.at(B_XID_AT), xid)
    check_labels_and_route(run, xid)
    lost = run.expect("GpuLost", "firing", 90, node=NODE_B, gpu="1")
    run.record("GpuLost", "firing", run.at(B_LOST[0]), lost)
    check_labels_and_route(run, lost)
    assert lost.labels["severity"] == "critical"


def test_node_down_inhibits_its_gpu_warnings(run):
    """Node A's GPU overheats while the node is down: Prometheus fires GpuTemperatureHigh, but
    Alertmanager suppresses it (inhibited by SlurmNodeDown, same node) until the node is back."""
    node = run.lab.node
    prom, am = run.stack.prometheus, run.stack.alertmanager
    deadline = time.time() + 90
    while time.time() < deadline:
        active = [
            a
            for a in am.alerts()
            if a["labels"].get("alertname") == "GpuTemperatureHigh" and a["labels"].get("node") == node
        ]
        if active:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"GpuTemperatureHigh for {node} never reached Alertmanager; Prometheus: {prom.alerts()}")
    time.sleep(3)  # several group intervals: a notification would have gone out by now
    active = [
        a
        for a in am.alerts()
        if a["labels"].get("alertname") == "GpuTemperatureHigh" and a["labels"].get("node") == node
    ]
    assert active and all(
        a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in active
    ), active
    assert not run.hook.find("GpuTemperatureHigh", node=node), "an inhibited alert was notified"
    # Bring the node back: the inhibition lifts and the warning goes out.
    t0 = time.time()
    run.lab.set_node_state("resume")
    resolved = run.expect("SlurmNodeDown", "resolved", 60, since=t0, node=node)
    run.record("SlurmNodeDown", "resolved", t0, resolved)
    event = run.expect("GpuTemperatureHigh", "firing", 60, since=t0, node=node)
    run.record("GpuTemperatureHigh (uninhibited)", "firing", t0, event)
    check_labels_and_route(run, event)


def test_gpu_faults_resolve_when_they_end(run):
    for name, gpu, end in (("GpuTemperatureHigh", "0", B_OVERHEAT[1]), ("GpuLost", "1", B_LOST[1])):
        event = run.expect(name, "resolved", 120, node=NODE_B, gpu=gpu)
        run.record(name, "resolved", run.at(end), event)
        assert event.receiver == amtool_receiver(
            run.faults["amtool"], run.stack.generated / "alertmanager" / "alertmanager.yml", event.labels
        )
    event = run.expect("GpuXidError", "resolved", 180, node=NODE_B, gpu="1")
    run.record("GpuXidError", "resolved", run.at(B_XID_AT), event)


def test_slurm_node_drained(run):
    node = run.lab.node
    t0 = time.time()
    run.lab.set_node_state("drain", reason="gpuwatch e2e: maintenance")
    event = run.expect("SlurmNodeDrained", "firing", 60, since=t0, node=node)
    run.record("SlurmNodeDrained", "firing", t0, event)
    check_labels_and_route(run, event)
    t1 = time.time()
    run.lab.set_node_state("resume")
    event = run.expect("SlurmNodeDrained", "resolved", 60, since=t1, node=node)
    run.record("SlurmNodeDrained", "resolved", t1, event)


def test_exporter_down_when_an_exporter_is_killed(run):
    """SIGKILL node B's GPU exporter: ExporterDown for its target; restart it (with a scenario
    whose faults are over) on the same port: resolved."""
    gpu = run.stack.gpu(NODE_B)
    t0 = time.time()
    gpu.process.kill()
    event = run.expect("ExporterDown", "firing", 60, since=t0, instance=gpu.address)
    run.record("ExporterDown", "firing", t0, event)
    check_labels_and_route(run, event)
    assert event.labels["job"] == "gpuwatch-gpu" and event.labels["node"] == NODE_B
    quiet = run.workdir / "node-b-quiet.yml"
    quiet.write_text(scenario(2, [], "bbbb"))
    gpu.scenario = quiet
    t1 = time.time()
    run.stack.start_gpu_exporter(gpu)
    run.stack.wait_exporter(gpu.process, gpu.address)
    event = run.expect("ExporterDown", "resolved", 60, since=t1, instance=gpu.address)
    run.record("ExporterDown", "resolved", t1, event)


GRAFANA_VARS = {
    "__rate_interval": "10s",
    "__interval": "1s",
    "__range": "2m",
    "__range_s": "120",
    "interval": "1s",
}


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace Grafana variables: ``$var``, ``${var}``, ``[[var]]``, ``${var:format}``."""

    def value(name: str) -> str:
        return variables.get(name, ".*")

    expr = re.sub(r"\$\{(\w+)(?::\w+)?\}", lambda m: value(m.group(1)), expr)
    expr = re.sub(r"\[\[(\w+)\]\]", lambda m: value(m.group(1)), expr)
    return re.sub(r"\$(\w+)", lambda m: value(m.group(1)), expr)


def dashboard_panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows


def test_every_grafana_panel_query_returns_data(run):
    """The committed dashboards (what Grafana in compose/ loads) and the ones compiled with the
    fast overlay: every distinct panel query has data over the run."""
    committed = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
    compiled = sorted((run.stack.generated / "grafana").rglob("*.json"))
    assert committed and compiled, "no dashboards"
    assert {p.name for p in committed} <= {p.name for p in compiled}
    prom = run.stack.prometheus
    checked, empty, seen = 0, [], set()
    for path in committed + compiled:
        dash = json.loads(path.read_text())
        variables = dict(GRAFANA_VARS)
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") == "datasource":
                variables[var["name"]] = "prometheus"
            elif var.get("includeAll") or var.get("multi"):
                variables[var["name"]] = ".*"
            else:
                variables[var["name"]] = ".+"
        for panel in dashboard_panels(dash):
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                query = substitute(expr, variables)
                if query in seen:
                    continue
                seen.add(query)
                # Over the whole run, at 1 s steps: a panel's series existed at some point.
                data = prom.query_range(query, run.started, time.time(), step="1s")
                checked += 1
                if not any(s.get("values") for s in data["result"]):
                    empty.append(f"{path.name}: {panel.get('title')!r}: {query}")
    assert checked >= 10, f"only {checked} panel queries found"
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_nothing_unexpected_reached_the_webhook(run):
    """Every notification parsed; every alert in them is one of the pack's, labelled and routed."""
    assert not run.hook.errors
    by_severity: dict[str, set[str]] = {}
    for event in run.hook.events():
        assert event.alertname in run.rules, event.alertname
        check_labels_and_route(run, event)
        if event.alertname != "Watchdog":  # the dead man's switch has its own route
            by_severity.setdefault(event.labels["severity"], set()).add(event.receiver)
    # The receiver is chosen by severity: one receiver per severity, a different one for each.
    assert set(by_severity) == {"critical", "warning", "info"}, by_severity
    assert all(len(r) == 1 for r in by_severity.values()), by_severity
    assert len(set.union(*by_severity.values())) == 3, by_severity
