"""The issue's load goal in short form: 50 concurrent scrapers get no errors from ExporterServer.

The long form (30 s against each exporter, with latency percentiles) is ``bench/load.py``. The
server runs as its own process (``gpuwatch.testing.trivial_exporter``, through the exporters' own
``start_server``); the clients come from several processes so their GIL does not cap the load.
"""

from __future__ import annotations

import pytest

from gpuwatch.testing.loadgen import RSS_GOAL_KIB, measure
from gpuwatch.testing.procs import exporter_process, trivial_exporter_argv, wait_http
from gpuwatch.testing.tls import PASSWORD, USER, make_tls_and_auth


@pytest.mark.load
@pytest.mark.parametrize("secure", [False, True], ids=["http", "https+basic-auth"])
def test_50_concurrent_scrapers_get_no_errors(tmp_path, secure):
    argv = trivial_exporter_argv()
    auth = cafile = None
    scheme = "http"
    if secure:
        cfg, cafile = make_tls_and_auth(tmp_path)
        argv += ["--web.config.file", str(cfg)]
        auth, scheme = (USER, PASSWORD), "https"
    with exporter_process(argv, ready_line="listening") as exp:
        url = f"{scheme}://127.0.0.1:{exp.port}/metrics"
        wait_http(url, auth=auth, cafile=cafile, exporter=exp)
        res = measure(exp.pid, url, clients=50, seconds=3.0, warmup=1.0, auth=auth, cafile=cafile)
        exp.check_alive()  # the server did not die under load
    assert res["errors"] == 0, res["error_kinds"]
    assert res["requests"] >= 100, res  # the load really happened (hundreds per second here)
    assert res["rss_growth_kib"] < RSS_GOAL_KIB, res
    assert res["threads_after"] <= res["threads_before"], res  # per-connection threads all ended
