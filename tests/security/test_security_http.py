"""Audit of what an exporter shows the network and its logs.

Runs the exporters' shared HTTP stack as a real process (gpuwatch.testing.trivial_exporter goes
through the same flags and ``start_server`` as both exporters) with TLS + basic auth at debug log level,
and checks that neither responses nor logs carry the password, its hash, the Authorization
header, file paths or version details of the platform, and that no flag takes a secret on argv.
"""

from __future__ import annotations

import base64
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import bcrypt

from gpuwatch.exporters.common.cli import base_parser
from gpuwatch.testing.http import http_get
from gpuwatch.testing.procs import trivial_exporter_argv
from gpuwatch.testing.tls import PASSWORD, USER, make_tls_and_auth

ROOT = Path(__file__).resolve().parents[2]

SECRET_FLAG = ("password", "passwd", "secret", "token", "api-key", "apikey", "api_key", "key")


def secret_value_flags(parser) -> list[str]:
    """Flags that take a value and whose name suggests a secret given inline (not a file)."""
    bad = []
    for action in parser._actions:
        for opt in action.option_strings:
            name = opt.lstrip("-").lower()
            if action.nargs == 0:
                continue
            if any(word in name for word in SECRET_FLAG) and not name.endswith(
                ("file", "-file", ".file", "path", "dir")
            ):
                bad.append(opt)
    return bad


def test_shared_flags_take_no_secret_on_argv():
    parser = base_parser("x", "x", 1)
    assert secret_value_flags(parser) == []
    # the secret-bearing input is a file
    assert "--web.config.file" in parser._option_string_actions
    # the checker itself flags an inline secret
    parser.add_argument("--runpod.api-key")
    assert secret_value_flags(parser) == ["--runpod.api-key"]


def _request(port, ctx, path, auth=None):
    return http_get(port, path, ctx=ctx, auth=auth)


def test_responses_and_logs_leak_nothing(tmp_path):
    cfg, cafile = make_tls_and_auth(tmp_path)
    hashed = cfg.read_text().split(f"{USER}: ", 1)[1].strip()
    assert bcrypt.checkpw(PASSWORD.encode(), hashed.encode())
    wrong = "wrong-password-123"
    secrets = {
        PASSWORD,
        wrong,
        hashed,
        base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        base64.b64encode(f"{USER}:{wrong}".encode()).decode(),
    }
    argv = trivial_exporter_argv("--web.config.file", str(cfg), log_level="debug")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        ctx = ssl.create_default_context(cafile=cafile)
        bodies = []
        for path in ("/", "/metrics", "/-/healthy", "/-/ready", "/nope", "/?x=<script>"):
            for auth in (None, (USER, wrong), (USER, PASSWORD)):
                status, headers, body = _request(port, ctx, path, auth)
                bodies.append((path, auth, status, headers, body))
        # plain bytes at the TLS port: the connection is dropped, the server keeps going
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            try:
                assert b"HTTP" not in s.recv(4096)
            except ConnectionResetError:
                pass
        # a malformed request over TLS gets the error page, which must not name the platform
        with ssl.create_default_context(cafile=cafile).wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="127.0.0.1"
        ) as s:
            s.sendall(b"GET /\x00 HTTP/1.1\r\nHost: \xff\r\n\r\n")
            bad_reply = s.recv(4096)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err

    for path, auth, status, headers, body in bodies:
        text = body.decode("utf-8", "replace") + "".join(f"{k}: {v}\n" for k, v in headers.items())
        for s in secrets:
            assert s not in text, (path, auth)
        assert str(tmp_path) not in text and "web-config" not in text
        assert "Python" not in text and sys.version.split()[0] not in text
        assert dict(headers).get("Server") == "gpuwatch"
        assert "<script>" not in text  # nothing is reflected
        if auth != (USER, PASSWORD):
            assert status == 401 and b"test" not in body and b"trivial" not in body
    landing = [b for p, a, st, h, b in bodies if p == "/" and st == 200][0].decode()
    assert "trivial exporter" in landing and 'href="/metrics"' in landing
    for leak in (socket.gethostname(), str(ROOT), "listen", "127.0.0.1", USER):
        assert leak not in landing, leak
    assert b"Python" not in bad_reply

    log = err
    assert "listening on 127.0.0.1" in log  # debug logging really was on and captured
    assert "GET /metrics" in log
    for s in secrets:
        assert s not in log, "secret in the exporter's log"
