"""gpuwatch.localstack plumbing: the webhook receiver (real Alertmanager 0.25 bodies), the
process runner, `make up` secrets, and a real Prometheus -> Alertmanager -> webhook round trip."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, require_programs

from gpuwatch.localstack import compose as compose_cli
from gpuwatch.localstack.procs import ManagedProcess, StackError, free_port, pid_alive
from gpuwatch.localstack.promstack import Alertmanager, Prometheus, Target, prometheus_config
from gpuwatch.localstack.webhook import WebhookReceiver, format_event, parse_notification

AM_FIXTURES = FIXTURES / "alertmanager-0.25"


def post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


# --- webhook receiver -------------------------------------------------------------------------


def test_parse_real_alertmanager_bodies():
    firing = parse_notification(
        json.loads((AM_FIXTURES / "alertmanager_webhook_body_firing.json").read_text()), "/chat", 1.0
    )
    (event,) = firing.events
    assert (event.alertname, event.status, event.receiver, event.path) == (
        "AlwaysFiring",
        "firing",
        "sink",
        "/chat",
    )
    assert event.labels["severity"] == "test"
    assert event.annotations["summary"] == "vector(1) > 0 always fires"
    resolved = parse_notification(
        json.loads((AM_FIXTURES / "alertmanager_webhook_body_resolved.json").read_text()), "/", 2.0
    )
    (event,) = resolved.events
    assert event.status == "resolved" and event.labels["instance"] == "127.0.0.1:18000"
    assert event.ends_at.startswith("2026-11-30T13:49:51")


def test_format_event_is_readable():
    body = json.loads((AM_FIXTURES / "alertmanager_webhook_body_exporter_down.json").read_text())
    body["alerts"][0]["labels"].update(severity="critical", node="gpu-7")
    body["alerts"][0]["annotations"]["summary"] = "Exporter 127.0.0.1:18000 is down\nmore text"
    (event,) = parse_notification(body, "/pager", time.mktime((2026, 11, 30, 13, 49, 50, 0, 0, -1))).events
    text = format_event(event)
    first, second = text.splitlines()
    assert first.split()[:4] == ["13:49:50", "FIRING", "critical", "ExporterDown"]
    assert "node=gpu-7" in first and "instance=127.0.0.1:18000" in first and first.endswith("-> sink")
    assert second.strip() == "Exporter 127.0.0.1:18000 is down"


def test_receiver_records_prints_and_rejects_garbage():
    seen = []
    with WebhookReceiver(on_event=seen.append) as hook:
        body = (AM_FIXTURES / "alertmanager_webhook_body_firing.json").read_bytes()
        assert post(hook.url + "/chat", body) == 200
        assert post(hook.url + "/chat", b"{not json") == 400
        assert post(hook.url + "/chat", b'{"alerts": 3}') == 400
        event = hook.wait_for("AlwaysFiring", status="firing", timeout=5, severity="test")
        assert event is not None and event.path == "/chat"
        assert hook.wait_for("AlwaysFiring", status="resolved", timeout=0.2) is None
        assert [e.alertname for e in seen] == ["AlwaysFiring"]
        assert len(hook.errors) == 2


# --- processes ----------------------------------------------------------------------------------


def test_managed_process_stops_by_pid_and_reports_early_exit(tmp_path):
    proc = ManagedProcess(
        "sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log"
    ).start()
    pid = proc.pid
    assert pid_alive(pid)
    assert proc.stop(timeout=5) is not None
    assert not pid_alive(pid)
    dying = ManagedProcess(
        "dying", [sys.executable, "-c", "import sys; print('bad flag'); sys.exit(3)"], tmp_path / "d.log"
    ).start()
    with pytest.raises(StackError, match=r"(?s)dying exited \(status 3\).*bad flag"):
        dying.wait_http(f"http://127.0.0.1:{free_port()}/", timeout=10)
    with pytest.raises(StackError, match="cannot run"):
        ManagedProcess("missing", [str(tmp_path / "nope")], tmp_path / "m.log").start()


# --- make up secrets ------------------------------------------------------------------------------


def _compose_dir(tmp_path: Path, am_config: dict) -> Path:
    d = tmp_path / "compose"
    (d / "generated" / "alertmanager").mkdir(parents=True)
    (d / "generated" / "alertmanager" / "alertmanager.yml").write_text(yaml.safe_dump(am_config))
    return d


def test_prepare_secrets(tmp_path):
    am = {
        "route": {"receiver": "chat"},
        "receivers": [
            {"name": "chat", "slack_configs": [{"api_url_file": "/etc/alertmanager/secrets/slack_api_url"}]}
        ],
    }
    d = _compose_dir(tmp_path, am)
    with pytest.raises(compose_cli.ComposeError, match="scrape_password: missing"):
        compose_cli.prepare_secrets(d, environ={})
    (d / "secrets").mkdir(exist_ok=True)
    (d / "secrets" / "scrape_password").write_text("s3cret")
    os.chmod(d / "secrets" / "scrape_password", 0o600)  # as Ansible's password lookup leaves it
    with pytest.raises(compose_cli.ComposeError, match="secrets/alertmanager/slack_api_url"):
        compose_cli.prepare_secrets(d, environ={})
    (d / "secrets" / "alertmanager" / "slack_api_url").write_text("https://hooks.invalid/x")
    lines = compose_cli.prepare_secrets(d, environ={})
    grafana = d / "secrets" / "grafana_admin_password"
    generated = grafana.read_text()
    assert len(generated) >= 20 and generated not in "\n".join(lines)
    assert stat.S_IMODE(os.stat(d / "secrets").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(grafana).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(d / "secrets" / "scrape_password").st_mode) == 0o644
    assert any("scrape_password: mode 0600 -> 0644" in line for line in lines)
    compose_cli.prepare_secrets(d, environ={})
    assert grafana.read_text() == generated, "an existing password is kept"
    lines = compose_cli.prepare_secrets(d, environ={"GRAFANA_ADMIN_PASSWORD": "from-env-1234"})
    assert grafana.read_text() == "from-env-1234" and "from-env-1234" not in "\n".join(lines)


def test_prepare_secrets_demo_and_outside_paths(tmp_path):
    am = {
        "route": {"receiver": "x"},
        "receivers": [
            {"name": "x", "pagerduty_configs": [{"routing_key_file": "/etc/alertmanager/secrets/pd"}]}
        ],
    }
    d = _compose_dir(tmp_path, am)
    lines = compose_cli.prepare_secrets(d, demo=True, environ={})
    assert (d / "secrets" / "scrape_password").stat().st_size > 10
    assert (d / "secrets" / "alertmanager" / "pd").read_text() == ""
    assert any("placeholder" in line for line in lines)
    d2 = _compose_dir(tmp_path / "two", {"global": {"smtp_auth_password_file": "/home/me/pw"}})
    (d2 / "secrets").mkdir()
    (d2 / "secrets" / "scrape_password").write_text("x")
    with pytest.raises(compose_cli.ComposeError, match="outside /etc/alertmanager/secrets/"):
        compose_cli.prepare_secrets(d2, environ={})


# --- real Prometheus -> Alertmanager -> webhook ----------------------------------------------------


@pytest.mark.prometheus
def test_prometheus_alertmanager_webhook_round_trip(tmp_path):
    """The runners start the Debian binaries on free loopback ports; an alert on `up == 0` of a
    target nobody serves reaches the receiver, routed by severity, in a few seconds."""
    require_programs("prometheus", "prometheus-alertmanager")
    with WebhookReceiver() as hook:
        am_config = tmp_path / "am.yml"
        am_config.write_text(
            yaml.safe_dump(
                {
                    "route": {
                        "receiver": "chat",
                        "group_by": ["alertname"],
                        "group_wait": "0s",
                        "group_interval": "1s",
                        "routes": [{"matchers": ['severity="critical"'], "receiver": "pager"}],
                    },
                    "receivers": [
                        {"name": "chat", "webhook_configs": [{"url": hook.url + "/chat"}]},
                        {"name": "pager", "webhook_configs": [{"url": hook.url + "/pager"}]},
                    ],
                }
            )
        )
        rules = tmp_path / "rules.yml"
        rules.write_text(
            yaml.safe_dump(
                {
                    "groups": [
                        {
                            "name": "t",
                            "rules": [
                                {
                                    "alert": "ExporterDown",
                                    "expr": 'up{job="gpuwatch-gpu"} == 0',
                                    "labels": {"severity": "critical"},
                                    "annotations": {"summary": "{{ $labels.instance }} down"},
                                }
                            ],
                        }
                    ]
                }
            )
        )
        am = Alertmanager(tmp_path / "am", am_config)
        dead = f"127.0.0.1:{free_port()}"
        prom = Prometheus(
            tmp_path / "prom",
            prometheus_config(
                scrape_interval="1s",
                evaluation_interval="1s",
                alertmanager=am.address,
                rule_files=[str(rules)],
                gpu_targets=[Target(dead, {"node": "n1", "pod": "p1", "role": "compute"})],
                self_address=None,
            ),
        )
        try:
            am.start_and_wait()
            started = time.time()
            prom.start_and_wait()
            event = hook.wait_for("ExporterDown", status="firing", timeout=30)
            assert event is not None, am.log_tail() + prom.log_tail()
            assert event.path == "/pager" and event.receiver == "pager"
            assert event.labels["node"] == "n1" and event.labels["instance"] == dead
            assert event.annotations["summary"] == f"{dead} down"
            assert event.received - started < 20
            active = am.alerts()
            assert any(a["labels"]["alertname"] == "ExporterDown" for a in active)
            assert prom.query('up{job="gpuwatch-gpu"}')["result"][0]["value"][1] == "0"
        finally:
            prom.stop()
            am.stop()
        assert not pid_alive(prom.pid) and not pid_alive(am.pid)


# --- demo / stack configuration -------------------------------------------------------------------


def test_webhook_notifications_keep_the_pack_routing_and_inhibition():
    from gpuwatch.localstack.stack import pack_file, webhook_notifications

    pack = yaml.safe_load(pack_file("notifications.yml").read_text())
    doc = webhook_notifications("http://127.0.0.1:9", pack_file("notifications.yml"))
    assert doc["route"] == pack["route"]
    assert doc["inhibit_rules"] == pack["inhibit_rules"]
    assert [r["name"] for r in doc["receivers"]] == [r["name"] for r in pack["receivers"]]
    for r in doc["receivers"]:
        assert r["webhook_configs"] == [{"url": f"http://127.0.0.1:9/{r['name']}", "send_resolved": True}]
        assert set(r) == {"name", "webhook_configs"}, "no Slack/PagerDuty/email config is left"
    assert "smtp_auth_password_file" not in doc.get("global", {})


def test_webhook_notifications_bad_file(tmp_path):
    from gpuwatch.localstack.stack import webhook_notifications

    bad = tmp_path / "n.yml"
    bad.write_text("route: {receiver: x}\n")
    with pytest.raises(StackError, match="not a notifications file"):
        webhook_notifications("http://127.0.0.1:9", bad)


def test_demo_rejects_a_bad_duration():
    env = {**os.environ, "GPUWATCH_DEMO_DURATION": "two minutes"}
    proc = subprocess.run(
        [sys.executable, "-m", "gpuwatch.localstack.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "GPUWATCH_DEMO_DURATION must be a number" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "gpuwatch.localstack.demo", "--duration", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "--duration must be >= 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_describe_faults_of_the_demo_scenarios():
    from gpuwatch.localstack.demo import describe_faults, packaged_scenario

    a = describe_faults(packaged_scenario("demo-node-a"))
    b = describe_faults(packaged_scenario("demo-node-b"))
    assert any("overheats" in line for line in a)
    assert any("XID 79, off the bus" in line for line in b)


def test_demo_stops_slurm_even_when_stopping_the_stack_fails(monkeypatch, tmp_path, capsys):
    """A failure while stopping the exporters/Prometheus must not leave munged, slurmctld and
    slurmd running: the demo still stops the Slurm lab, removes its folder and exits 1."""
    import tempfile

    from gpuwatch.localstack import demo
    from gpuwatch.localstack import slurm as slurm_mod

    stopped: list[str] = []

    class FakeLab:
        node, conf, env = "fake-node", Path("/nonexistent/slurm.conf"), {}
        munged_pid = slurmctld_pid = slurmd_pid = 0

        def __init__(self, root_dir, root=None):
            assert root is None  # the default --versions: the host's Slurm

        def start(self):
            return self

        def sbatch(self, *args, **kwargs):
            pass

        def set_node_state(self, *args, **kwargs):
            pass

        def stop(self):
            stopped.append("lab")

    class FakeStack:
        alertmanager = prometheus = slurm_exporter = None

        def __init__(self, workdir, *, gpu_nodes, **kwargs):
            self.gpu_nodes = gpu_nodes

        def start(self):
            return self

        def urls(self):
            return {"Prometheus": "http://127.0.0.1:1"}

        def stop(self):
            stopped.append("stack")
            raise StackError("while stopping: gpu-exporter did not exit")

    monkeypatch.setattr(slurm_mod, "SlurmLab", FakeLab)
    monkeypatch.setattr(demo, "LocalStack", FakeStack)
    made = []
    real_mkdtemp = tempfile.mkdtemp
    monkeypatch.setattr(
        tempfile,
        "mkdtemp",
        lambda **kw: made.append(real_mkdtemp(**{**kw, "dir": str(tmp_path)})) or made[-1],
    )
    code = demo.main(["--duration", "0.01", "--no-slurm-actions"])
    err = capsys.readouterr().err
    assert code == 1
    assert stopped == ["stack", "lab"]
    assert "while stopping: gpu-exporter did not exit" in err
    assert made and not Path(made[0]).exists()


@pytest.mark.prometheus  # the real Alertmanager
def test_stack_stops_a_process_when_the_signal_lands_right_after_its_spawn(monkeypatch, tmp_path):
    """Ctrl-C arriving between a child's spawn and the stack's bookkeeping: the child (here the
    real Alertmanager) is still stopped by LocalStack.stop(), by PID."""
    require_programs("prometheus-alertmanager")
    from gpuwatch.localstack.stack import LocalStack

    real_start = ManagedProcess.start
    spawned: list[int] = []

    def start_then_interrupted(self):
        real_start(self)
        spawned.append(self.pid)
        raise KeyboardInterrupt  # what demo's SIGINT handler raises, right after Popen returned

    monkeypatch.setattr(ManagedProcess, "start", start_then_interrupted)
    stack = LocalStack(tmp_path / "stack", gpu_nodes=[])
    with pytest.raises(KeyboardInterrupt):
        stack.start()
    try:
        assert len(spawned) == 1 and pid_alive(spawned[0])
        stack.stop()
        deadline = time.monotonic() + 10
        while pid_alive(spawned[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(spawned[0]), "alertmanager left running"
    finally:
        for pid in spawned:  # never leave it behind, even when the assertion fails
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_exporter_argv_builders_parse_with_each_exporters_own_flags(tmp_path):
    """The one place the stack, the fault and load tests build an exporter's command line."""
    from gpuwatch.exporters.gpu.cli import build_parser as gpu_parser
    from gpuwatch.exporters.slurm.cli import build_parser as slurm_parser
    from gpuwatch.localstack.stack import gpu_exporter_argv, slurm_exporter_argv

    argv = slurm_exporter_argv(9341, "--slurm.poll-interval=0.5", bind="0.0.0.0")
    assert Path(argv[0]).name == "gpuwatch-slurm-exporter" or "gpuwatch.exporters.slurm.cli" in argv[-3]
    args = slurm_parser().parse_args(argv[-2:])
    assert (args.listen_address, args.poll_interval) == (("0.0.0.0", 9341), 0.5)

    scenario = tmp_path / "s.yaml"
    argv = gpu_exporter_argv(9400, scenario, "--collect.interval=2s")
    args = gpu_parser().parse_args(argv[-3:])
    assert (args.listen_address, args.nvml_scenario, args.interval) == (
        ("127.0.0.1", 9400),
        str(scenario),
        2.0,
    )
    argv = gpu_exporter_argv(9400, scenario, hourly_cost_usd="2.49")  # the stack passes its label's price
    assert gpu_parser().parse_args(argv[-3:]).hourly_cost_usd == 2.49
