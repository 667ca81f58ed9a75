"""gpuwatch.testing (tests/support/): the helpers the tests and benchmarks share, and the house
rules that keep them shared: one definition of each helper, no ``sys.path`` edits."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT

from gpuwatch.testing import free_port, parse_metrics, pid_alive, port_is_free, series, value
from gpuwatch.testing.procs import children_of, exporter_process, thread_count, wait_http, zombies_of

TEXT = """\
# HELP demo_up Whether demo is up.
# TYPE demo_up gauge
demo_up 1
# HELP demo_requests_total Requests.
# TYPE demo_requests_total counter
demo_requests_total{code="200",path="/"} 7
demo_requests_total{code="500",path="/"} 2
# HELP demo_info Facts.
# TYPE demo_info gauge
demo_info{version="1.2",name="a \\"quoted\\" \\\\ name"} 1
"""


def test_parse_metrics_series_and_value():
    m = parse_metrics(TEXT.encode())
    assert value(m, "demo_up") == 1.0
    assert value(m, "demo_requests_total", code="500") == 2.0
    assert series(m, "demo_requests_total") == {
        frozenset({("code", "200"), ("path", "/")}): 7.0,
        frozenset({("code", "500"), ("path", "/")}): 2.0,
    }
    assert value(m, "demo_info", version="1.2") == 1.0
    assert dict(next(iter(series(m, "demo_info"))))["name"] == 'a "quoted" \\ name'
    assert value(m, "demo_missing") is None
    try:
        value(m, "demo_requests_total", path="/")
    except AssertionError as exc:
        assert "matches 2 series" in str(exc)
    else:
        raise AssertionError("an ambiguous lookup must fail")


def test_free_port_is_bindable_and_port_is_free_sees_a_listener():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert not port_is_free(port)
    assert port_is_free(port)


def test_pid_alive_children_and_zombies():
    me = os.getpid()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(child.pid)
        assert child.pid in [pid for pid, _, _ in children_of(me)]
        assert thread_count(child.pid) >= 1
    finally:
        child.kill()
    deadline = time.monotonic() + 5
    while child.pid not in zombies_of(me):
        assert time.monotonic() < deadline, "the killed child never showed as a zombie"
        time.sleep(0.02)
    assert not pid_alive(child.pid)  # a zombie counts as gone
    child.wait()
    assert not pid_alive(child.pid) and child.pid not in zombies_of(me)


def test_trivial_exporter_through_exporter_process():
    argv = [sys.executable, "-m", "gpuwatch.testing.trivial_exporter", "--web.listen-address", "127.0.0.1:0"]
    with exporter_process(argv, ready_line="listening") as exp:
        url = f"http://127.0.0.1:{exp.port}/metrics"
        wait_http(url, timeout=20, exporter=exp)
        with urllib.request.urlopen(url, timeout=5) as resp:
            m = parse_metrics(resp.read())
        assert value(m, "trivial_metric_3", gpu="2") == 6.5
        pid = exp.pid
    assert not pid_alive(pid)


def _python_files(*folders: str):
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def test_one_free_port_and_pid_alive_in_the_tree():
    defs: dict[str, list[str]] = {"free_port": [], "pid_alive": [], "parse_metrics": []}
    for path, text in _python_files("exporters", "rules", "compose", "tests", "bench"):
        for name in defs:
            if re.search(rf"^\s*def _?{name}\(", text, re.M):
                defs[name].append(str(path.relative_to(ROOT)))
    assert defs == {
        "free_port": ["compose/localstack/procs.py"],
        "pid_alive": ["compose/localstack/procs.py"],
        "parse_metrics": ["tests/support/metrics.py"],
    }


def test_no_sys_path_edits_in_tests_or_bench():
    """Tests and bench scripts import project code and gpuwatch.testing through the installed package."""
    edits = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}"
        for path, text in _python_files("tests", "bench")
        for m in re.finditer(r"^\s*sys\.path\.(insert|append|extend)\(", text, re.M)
    ]
    assert edits == []
