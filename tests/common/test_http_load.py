"""The issue's load goal in short form: 50 concurrent scrapers get no errors from ExporterServer.

The long form (30 s against each exporter, with latency percentiles) is ``bench/load.py``. The
server runs as its own process (bench/trivial_exporter.py, through the exporters' own
``start_server``); the clients come from several processes so their GIL does not cap the load.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import load


@pytest.mark.parametrize("secure", [False, True], ids=["http", "https+basic-auth"])
def test_50_concurrent_scrapers_get_no_errors(tmp_path, secure):
    argv = [
        sys.executable,
        str(load.HERE / "trivial_exporter.py"),
        "--web.listen-address",
        "127.0.0.1:0",
        "--log.level",
        "warn",
    ]
    auth = cafile = None
    scheme = "http"
    if secure:
        cfg, cafile = load.make_tls_and_auth(tmp_path)
        argv += ["--web.config.file", str(cfg)]
        auth, scheme = (load.USER, load.PASSWORD), "https"
    with load.exporter_process(argv, ready_line="listening") as exp:
        url = f"{scheme}://127.0.0.1:{exp.port}/metrics"
        load.wait_http(url, auth=auth, cafile=cafile, exporter=exp)
        res = load.measure(exp.pid, url, clients=50, seconds=3.0, warmup=1.0, auth=auth, cafile=cafile)
        exp.check_alive()  # the server did not die under load
    assert res["errors"] == 0, res["error_kinds"]
    assert res["requests"] >= 100, res  # the load really happened (hundreds per second here)
    assert res["rss_growth_kib"] < load.RSS_GOAL_KIB, res
    assert res["threads_after"] <= res["threads_before"], res  # per-connection threads all ended
