"""gpuwatch-jobstats's errors: one clear line on stderr, exit 1 (2 for usage), no traceback, run
as the installed console script. A Prometheus without gpuwatch data is a real, empty Prometheus."""

from __future__ import annotations

import subprocess

import pytest
from conftest import require_programs

from gpuwatch.localstack.procs import free_port
from gpuwatch.localstack.stack import console_script

CMD = console_script("gpuwatch-jobstats", "gpuwatch.jobstats.cli")


def jobstats(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=60)


def one_line(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    if code == 1:
        assert proc.stderr.count("\n") == 1, proc.stderr
    for n in needles:
        assert n in proc.stderr, proc.stderr


def test_no_prometheus():
    url = f"http://127.0.0.1:{free_port()}"
    one_line(
        jobstats("123", "--prometheus.url", url), 1, f"cannot reach Prometheus at {url}: Connection refused"
    )


def test_env_url_is_used():
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [*CMD, "--all"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GPUWATCH_PROMETHEUS_URL": url, "PATH": "/usr/bin:/bin"},
    )
    one_line(proc, 1, url)


def test_not_prometheus(tmp_path):
    """Something answers, but not the Prometheus API."""
    import http.server
    import threading

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        one_line(jobstats("123", "--prometheus.url", url), 1, "is --prometheus.url")
    finally:
        srv.shutdown()
        srv.server_close()


def test_an_answer_cut_short_is_one_line():
    """A proxy or a dying Prometheus announces a body and closes the connection early."""
    import http.server
    import threading

    class Cut(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"status":"success","da')

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cut)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        one_line(
            jobstats("123", "--prometheus.url", url), 1, f"Prometheus at {url}: broken answer (IncompleteRead"
        )
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize(
    "args,needle",
    [
        ([], "give a JOBID"),
        (["12", "--all"], "not both"),
        (["abc"], "is not a Slurm job id"),
        (["12", "--format", "csv"], "csv is for the summary"),
        (["--all", "--since", "7x"], "is not a duration"),
        (["--all", "--since", "1d", "--start", "now-2d"], "exclude each other"),
        (["--all", "--start", "yesterday"], "is not a time"),
        (["--all", "--prometheus.url", "localhost:9090"], "expected http://HOST:PORT"),
    ],
)
def test_usage_errors_exit_2_or_1(args, needle):
    proc = jobstats(*args)
    assert proc.returncode in (1, 2) and needle in proc.stderr and "Traceback" not in proc.stderr
    if "--prometheus.url" not in args:
        assert proc.returncode == 2


@pytest.mark.prometheus
def test_prometheus_without_gpuwatch_data(tmp_path):
    progs = require_programs("prometheus")
    from gpuwatch.localstack.promstack import Prometheus

    prom = Prometheus(tmp_path, {"global": {"scrape_interval": "15s"}}, binary=progs["prometheus"])
    prom.start_and_wait()
    try:
        for args in (["123"], ["--all"]):
            one_line(
                jobstats(*args, "--prometheus.url", prom.url),
                1,
                f"Prometheus at {prom.url} has no gpuwatch GPU data",
                "does it scrape gpuwatch-gpu-exporter?",
            )
    finally:
        prom.stop()


def test_password_file_missing(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    one_line(
        jobstats(
            "1",
            "--prometheus.url",
            url,
            "--prometheus.username",
            "u",
            "--prometheus.password-file",
            str(tmp_path / "nope"),
        ),
        1,
        "--prometheus.password-file",
        "cannot read",
    )


@pytest.mark.prometheus
def test_tls_and_basic_auth_client_options(tmp_path):
    """A real Prometheus behind its own --web.config.file (TLS + basic auth, the exporters' format):
    the right CA, user and password file get through (to the no-data answer); each missing
    piece gives its own one-line error."""
    import ssl
    import urllib.error
    import urllib.request

    from gpuwatch.localstack.promstack import Prometheus
    from gpuwatch.testing.tls import PASSWORD, USER, make_tls_and_auth

    progs = require_programs("prometheus")
    web_config, ca = make_tls_and_auth(tmp_path)
    prom = Prometheus(tmp_path / "prom", {"global": {"scrape_interval": "15s"}}, binary=progs["prometheus"])
    prom.argv.append(f"--web.config.file={web_config}")
    url = f"https://{prom.address}"
    ctx = ssl.create_default_context(cafile=ca)
    prom.start()

    def ready() -> bool:
        try:
            urllib.request.urlopen(url + "/-/healthy", context=ctx, timeout=1)
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        except OSError:
            return False
        return True

    try:
        prom.wait_until(ready, 60, "serving TLS")
        pw = tmp_path / "password"
        pw.write_text(PASSWORD + "\n")
        auth = ["--prometheus.username", USER, "--prometheus.password-file", str(pw)]
        good = ["--prometheus.url", url, "--prometheus.ca-file", ca]
        one_line(jobstats("1", *good, *auth), 1, f"Prometheus at {url} has no gpuwatch GPU data")
        one_line(jobstats("1", *good), 1, "HTTP 401", "--prometheus.username")
        one_line(jobstats("1", "--prometheus.url", url, *auth), 1, f"cannot reach Prometheus at {url}: TLS")
        one_line(
            jobstats("1", "--prometheus.url", url, "--prometheus.insecure-skip-verify", *auth),
            1,
            "no gpuwatch GPU data",
        )
    finally:
        prom.stop()
