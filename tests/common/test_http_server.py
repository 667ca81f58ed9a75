"""ExporterServer with a web config, driven by real HTTP and TLS clients over loopback."""

from __future__ import annotations

import argparse
import base64
import http.client
import socket
import ssl
import threading
import time

import pytest
from webtls import PASSWORD, password_hash, pki, serve, trivial_site  # noqa: F401 - fixtures

from gpuwatch.exporters.common.server import StartupError, start_server
from gpuwatch.testing.http import http_get

FAIL = (ssl.SSLError, OSError, http.client.HTTPException)


def get(server, path="/metrics", ctx=None, auth=None, timeout=5.0, headers=None):
    return http_get(server.port, path, ctx=ctx, auth=auth, headers=headers, timeout=timeout)


def tls_config(pki, extra=""):
    return f"tls_server_config:\n  cert_file: {pki.server_crt}\n  key_file: {pki.server_key}\n" + extra


def test_plain_http_without_config(serve):
    server, _ = serve()
    status, headers, body = get(server)
    assert status == 200 and b'test_metric{i="299"} 299' in body
    assert headers["Content-Type"].startswith("text/plain; version=")


def test_tls_serves_https_and_refuses_plain_http(serve, pki):
    server, _ = serve(tls_config(pki))
    status, _, body = get(server, ctx=pki.client_context())
    assert status == 200 and b"test_metric" in body
    with pytest.raises(FAIL):
        get(server, timeout=2)
    # the server certificate really is checked by the client: a client trusting another CA fails
    with pytest.raises(ssl.SSLCertVerificationError):
        get(server, ctx=ssl.create_default_context(cafile=str(pki.rogue_ca)))


def test_min_version_tls13_refuses_a_tls12_client(serve, pki):
    server, _ = serve(tls_config(pki, "  min_version: TLS13\n"))
    assert get(server, ctx=pki.client_context(maximum_version=ssl.TLSVersion.TLSv1_3))[0] == 200
    with pytest.raises(ssl.SSLError):
        get(server, ctx=pki.client_context(maximum_version=ssl.TLSVersion.TLSv1_2))


def test_max_version_tls12(serve, pki):
    server, _ = serve(tls_config(pki, "  max_version: TLS12\n"))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=5, context=pki.client_context())
    conn.connect()
    assert conn.sock.version() == "TLSv1.2"
    conn.close()


def test_mutual_tls_require_and_verify(serve, pki):
    server, _ = serve(
        tls_config(pki, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n")
    )
    assert get(server, ctx=pki.client_context(pki.client_crt, pki.client_key))[0] == 200
    with pytest.raises(FAIL):
        get(server, ctx=pki.client_context())  # no client certificate
    with pytest.raises(FAIL):
        get(server, ctx=pki.client_context(pki.rogue_crt, pki.rogue_key))  # signed by another CA
    # and the server still works after the refusals
    assert get(server, ctx=pki.client_context(pki.client_crt, pki.client_key))[0] == 200


def test_client_certificates_are_checked_alike_on_every_python(serve, pki):
    """Chain, dates and TLS client usage are required; RFC 5280's strict profile is not.

    Python 3.13's ``create_default_context()`` verifies with VERIFY_X509_STRICT, which refuses a
    certificate without an authority key id. The exporters' server side does not: a client
    certificate from an old home-made CA works on 3.11 and 3.13 alike (as in Go's toolkit), while
    one made only for servers (extendedKeyUsage serverAuth) is refused on both.
    """
    server, guard = serve(
        tls_config(pki, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n")
    )
    assert not guard.ssl_context.verify_flags & ssl.VERIFY_X509_STRICT
    assert get(server, ctx=pki.client_context(pki.legacy_client_crt, pki.legacy_client_key))[0] == 200
    with pytest.raises(FAIL):
        get(server, ctx=pki.client_context(pki.server_as_client_crt, pki.server_as_client_key))
    assert get(server, ctx=pki.client_context(pki.client_crt, pki.client_key))[0] == 200


def test_test_certificates_pass_the_strict_profile(pki):
    """The test CA issues certificates as real CAs do: OpenSSL's strict checks accept them."""
    ctx = pki.client_context()
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(pki.server_crt, pki.server_key)
    a, b = socket.socketpair()
    with a, b:
        client = ctx.wrap_socket(a, server_hostname="localhost", do_handshake_on_connect=False)
        srv = server_ctx.wrap_socket(b, server_side=True, do_handshake_on_connect=False)
        t = threading.Thread(target=srv.do_handshake)
        t.start()
        client.do_handshake()  # raises SSLCertVerificationError on a certificate strict mode refuses
        t.join(5)
        assert client.version() is not None


def test_verify_client_cert_if_given(serve, pki):
    server, _ = serve(
        tls_config(pki, f"  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: {pki.ca}\n")
    )
    assert get(server, ctx=pki.client_context())[0] == 200
    assert get(server, ctx=pki.client_context(pki.client_crt, pki.client_key))[0] == 200
    with pytest.raises(FAIL):
        get(server, ctx=pki.client_context(pki.rogue_crt, pki.rogue_key))


def test_client_allowed_sans(serve, pki):
    server, _ = serve(
        tls_config(
            pki,
            f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
            "  client_allowed_sans: [prometheus.test]\n",
        )
    )
    assert get(server, ctx=pki.client_context(pki.client_crt, pki.client_key))[0] == 200
    with pytest.raises(FAIL):  # valid certificate from the right CA, but the wrong name
        get(server, ctx=pki.client_context(pki.other_client_crt, pki.other_client_key))


def test_basic_auth_over_tls(serve, pki, password_hash):
    server, _ = serve(tls_config(pki, f"basic_auth_users:\n  prometheus: {password_hash}\n"))
    ctx = pki.client_context()
    status, headers, body = get(server, ctx=ctx)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic ")
    assert b"test_metric" not in body
    assert get(server, ctx=ctx, auth=("prometheus", "wrong"))[0] == 401
    assert get(server, ctx=ctx, auth=("root", PASSWORD))[0] == 401
    for path in ("/", "/-/healthy", "/-/ready", "/metrics", "/nope"):
        assert get(server, path, ctx=ctx)[0] == 401, path  # nothing is served before auth
    assert get(server, ctx=ctx, auth=("prometheus", PASSWORD))[0] == 200
    assert get(server, "/", ctx=ctx, auth=("prometheus", PASSWORD))[0] == 200


def test_basic_auth_keepalive_many_scrapes(serve, password_hash):
    server, _ = serve(f"basic_auth_users:\n  prometheus: {password_hash}\n")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    auth = "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    for i in range(50):
        conn.request("GET", "/metrics", headers={"Authorization": auth})
        resp = conn.getresponse()
        assert resp.status == 200, i
        resp.read()
    conn.close()


def test_response_headers_from_config(serve):
    server, _ = serve(
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n"
    )
    for path in ("/", "/metrics", "/nope"):
        _, headers, _ = get(server, path)
        assert headers["X-Frame-Options"] == "deny" and headers["X-Content-Type-Options"] == "nosniff"


def _scrape_times(server, n, ctx=None):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        assert get(server, ctx=ctx, timeout=3)[0] == 200
        times.append(time.perf_counter() - t0)
    return times


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_idle_and_slow_connections_do_not_stall_scrapes(serve, pki, tls):
    server, _ = serve(tls_config(pki) if tls else None)
    ctx = pki.client_context() if tls else None
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]  # say nothing
    slow = socket.create_connection(("127.0.0.1", server.port))
    slow.sendall(
        b"\x16\x03\x01\x00" if tls else b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
    )  # half a hello / request
    try:
        times = _scrape_times(server, 20, ctx)
        assert max(times) < 2.0, times  # with the handshake in the accept loop, the first would hang for good
    finally:
        for s in idle + [slow]:
            s.close()


def test_idle_connections_are_closed_and_threads_released(serve):
    server, _ = serve(idle_timeout=0.5)
    base = threading.active_count()
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
    deadline = time.monotonic() + 3
    while threading.active_count() < base + 20 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() >= base + 20  # one thread per connection
    for s in socks:
        s.settimeout(5)
        assert s.recv(1) == b""  # the server hung up on the idle client
        s.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > base and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= base


def test_failed_handshakes_do_not_leak_threads(serve, pki):
    server, _ = serve(
        tls_config(pki, f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n")
    )
    base = threading.active_count()
    for _ in range(20):
        with pytest.raises(FAIL):
            get(server, ctx=pki.client_context(pki.rogue_crt, pki.rogue_key))
        with pytest.raises(FAIL):
            get(server, timeout=2)  # plain HTTP at a TLS port
    deadline = time.monotonic() + 5
    while threading.active_count() > base and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= base


def _args(tmp_path, config_text=None, listen=("127.0.0.1", 0)):
    path = None
    if config_text is not None:
        path = tmp_path / "web.yml"
        path.write_text(config_text)
    return argparse.Namespace(listen_address=listen, web_config_file=str(path) if path else None)


def test_start_server_refuses_a_bad_web_config(tmp_path):
    with pytest.raises(
        StartupError, match=r"web config .*web.yml:2: basic_auth_users.alice: not a bcrypt hash"
    ):
        start_server(_args(tmp_path, "basic_auth_users:\n  alice: plaintext\n"), trivial_site())


def test_start_server_binds_the_configured_address_only(tmp_path, password_hash):
    server = start_server(_args(tmp_path, f"basic_auth_users:\n  p: {password_hash}\n"), trivial_site())
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert get(server)[0] == 401
        assert get(server, auth=("p", PASSWORD))[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(StartupError, match=r"--web.listen-address 127.0.0.1:\d+: Address already in use"):
            start_server(_args(tmp_path, None, ("127.0.0.1", s.getsockname()[1])), trivial_site())
