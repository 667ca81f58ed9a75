"""The default pack's inhibitions in a real Alertmanager (Debian's 0.25, on loopback, free port):
SlurmNodeDown mutes that node's GPU alerts only, NvmlDown mutes the node's other GPU alerts,
a critical alert mutes the warning of the same alertname and instance."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from gpuwatch.localstack.promstack import Alertmanager

try:  # conftest's module name depends on pytest's import mode
    from conftest import ROOT, require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import ROOT, require_programs

pytestmark = pytest.mark.prometheus
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
AM_CONFIG = ROOT / "compose" / "generated" / "alertmanager" / "alertmanager.yml"


def api(base: str, path: str, body: object | None = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path, data=data, headers={"Content-Type": "application/json"}, method="POST" if data else "GET"
    )
    with OPENER.open(req, timeout=5) as resp:
        text = resp.read()
    return json.loads(text) if text and path.startswith("/api/") else text


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory):
    binary = require_programs("prometheus-alertmanager")["prometheus-alertmanager"]
    am = Alertmanager(tmp_path_factory.mktemp("am"), AM_CONFIG, binary=binary)
    try:
        yield am.start_and_wait(timeout=20).url
    finally:
        am.stop()


def alert(**labels: str) -> dict:
    now = datetime.now(UTC)
    return {
        "labels": labels,
        "annotations": {"summary": "test"},
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


def statuses(base: str) -> dict[tuple[str, ...], list[str]]:
    out = {}
    for a in api(base, "/api/v2/alerts"):  # type: ignore[union-attr]
        lab = a["labels"]
        out[(lab["alertname"], lab.get("node", ""), lab.get("severity", ""))] = a["status"]["inhibitedBy"]
    return out


def test_pack_inhibitions(alertmanager: str) -> None:
    api(
        alertmanager,
        "/api/v2/alerts",
        [
            alert(
                alertname="SlurmNodeDown",
                severity="critical",
                component="slurm",
                node="n1",
                instance="head:9341",
            ),
            alert(
                alertname="GpuTemperatureHigh",
                severity="warning",
                component="gpu",
                node="n1",
                instance="n1:9400",
                gpu="0",
            ),
            alert(
                alertname="GpuTemperatureHigh",
                severity="warning",
                component="gpu",
                node="n2",
                instance="n2:9400",
                gpu="0",
            ),
            alert(alertname="NvmlDown", severity="critical", component="gpu", node="n3", instance="n3:9400"),
            alert(
                alertname="GpuLost",
                severity="critical",
                component="gpu",
                node="n3",
                instance="n3:9400",
                gpu="1",
            ),
            alert(
                alertname="SlurmNodeDrained",
                severity="warning",
                component="slurm",
                node="n4",
                instance="head:9341",
            ),
            alert(
                alertname="SlurmNodeDrained",
                severity="critical",
                component="slurm",
                node="n4",
                instance="head:9341",
            ),
            alert(
                alertname="SlurmNodeNotResponding",
                severity="warning",
                component="slurm",
                node="n1",
                instance="head:9341",
            ),
        ],
    )
    # Alertmanager's inhibitor learns of source alerts asynchronously: wait until the expected
    # mutes are in place (or time runs out), then check them and the alerts that must stay.
    muted = [
        ("GpuTemperatureHigh", "n1", "warning"),
        ("GpuLost", "n3", "critical"),
        ("SlurmNodeDrained", "n4", "warning"),
    ]
    deadline = time.monotonic() + 10
    while True:
        st = statuses(alertmanager)
        if (len(st) == 8 and all(st.get(k) for k in muted)) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st[("GpuTemperatureHigh", "n1", "warning")], "node down must mute its GPU alerts"
    assert st[("GpuTemperatureHigh", "n2", "warning")] == [], "other nodes' GPU alerts stay"
    assert st[("SlurmNodeNotResponding", "n1", "warning")] == [], "only GPU alerts are muted by a node down"
    assert st[("GpuLost", "n3", "critical")], "NvmlDown explains the node's other GPU alerts"
    assert st[("NvmlDown", "n3", "critical")] == []
    assert st[("SlurmNodeDrained", "n4", "warning")], (
        "critical mutes the warning of the same alert and instance"
    )
    assert st[("SlurmNodeDown", "n1", "critical")] == []
