"""The shipped Prometheus and Alertmanager catalogs against the real programs (Debian's Prometheus
2.42 and Alertmanager 0.25 on loopback, free ports): every family they expose is in the catalog with
its type and labels; and `curl .../api/v1/metadata > FILE` works as a --catalog."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gpuwatch.rules import catalogs
from gpuwatch.rules.catalogs.from_metrics import families
from gpuwatch.rules.cli import cli
from gpuwatch.rules.errors import Problems
from gpuwatch.testing import free_port

try:  # conftest's module name depends on pytest's import mode
    from conftest import FIXTURES, require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import FIXTURES, require_programs

pytestmark = pytest.mark.prometheus
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def get(url: str) -> bytes:
    with OPENER.open(url, timeout=5) as resp:
        return resp.read()


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    progs = require_programs("prometheus", "prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("live")
    pport, aport = free_port(), free_port()
    (tmp / "am.yml").write_text("route: {receiver: sink}\nreceivers: [{name: sink}]\n")
    (tmp / "prom.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{aport}']}}]}}]}}\n"
        "scrape_configs:\n"
        f"  - {{job_name: prometheus, static_configs: [{{targets: ['127.0.0.1:{pport}']}}]}}\n"
        f"  - {{job_name: alertmanager, static_configs: [{{targets: ['127.0.0.1:{aport}']}}]}}\n"
    )
    procs = [
        _start(
            [
                progs["prometheus-alertmanager"],
                f"--config.file={tmp / 'am.yml'}",
                f"--storage.path={tmp / 'am'}",
                f"--web.listen-address=127.0.0.1:{aport}",
                "--cluster.listen-address=",
            ],
            tmp / "am.log",
        ),
        _start(
            [
                progs["prometheus"],
                f"--config.file={tmp / 'prom.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{pport}",
            ],
            tmp / "prom.log",
        ),
    ]
    base = {"prometheus": f"http://127.0.0.1:{pport}", "alertmanager": f"http://127.0.0.1:{aport}"}
    try:
        deadline = time.monotonic() + 30
        while True:  # both scraped once: the metadata names metrics of both
            try:
                meta = json.loads(get(base["prometheus"] + "/api/v1/metadata"))["data"]
                if "alertmanager_alerts" in meta and "prometheus_tsdb_head_series" in meta:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                logs = "\n".join((tmp / f).read_text() for f in ("am.log", "prom.log"))
                raise RuntimeError("Prometheus/Alertmanager did not come up:\n" + logs)
            time.sleep(0.2)
        yield base
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@pytest.mark.parametrize("program,prefix", [("prometheus", "prometheus_"), ("alertmanager", "alertmanager_")])
def test_shipped_catalog_covers_the_real_program(stack: dict[str, str], program: str, prefix: str) -> None:
    cat = catalogs.build([(p, p.name) for p in catalogs.default_paths()], Problems())
    live = [f for f in families(get(stack[program] + "/metrics").decode()) if f["name"].startswith(prefix)]
    assert len(live) > 20
    for f in live:
        m = cat.lookup(f["name"])
        assert m is not None, f"{f['name']} missing from the shipped catalog"
        assert m.type == f["type"], f["name"]
        if "labels" in f and m.labels is not None:
            assert set(f["labels"]) <= m.labels, (f["name"], f["labels"], m.labels)


def test_metadata_answer_of_a_real_prometheus_is_a_catalog(stack: dict[str, str], tmp_path: Path) -> None:
    meta = tmp_path / "site.json"
    meta.write_bytes(get(stack["prometheus"] + "/api/v1/metadata"))  # what `curl ... > site.json` saves
    src = tmp_path / "g.yml"
    src.write_text(
        "group: g\nalerts:\n"
        "  - alert: TooManySeries\n    expr: prometheus_tsdb_head_series > 1e6\n    for: 10m\n"
        "    severity: warning\n    summary: s\n    description: d\n"
        "  - alert: NotificationsFailing\n"
        "    expr: rate(alertmanager_notifications_failed_total[5m]) > 0\n"
        "    severity: critical\n    summary: s\n    description: d\n"
    )
    args = ["compile", str(src), "--notifications", str(FIXTURES / "rules/minimal/notifications.yml")]
    args += ["--runbook-url", "https://r.example.org/x", "--no-default-catalogs", "-o", str(tmp_path / "o")]
    r = CliRunner().invoke(cli, [*args, "--strict"])
    assert r.exit_code == 1 and "unknown metric 'prometheus_tsdb_head_series'" in r.stderr  # no catalog
    r = CliRunner().invoke(cli, [*args, "--strict", "--catalog", str(meta)])
    assert r.exit_code == 0, r.stderr
