"""Plain HTTP(S) requests for tests: one GET with optional basic auth and TLS context."""

from __future__ import annotations

import base64
import http.client
import ssl


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def http_get(
    port: int,
    path: str = "/metrics",
    ctx: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """GET http(s)://127.0.0.1:PORT/PATH (HTTPS when ``ctx``): status, headers, body."""
    if ctx is None:
        conn: http.client.HTTPConnection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    hdrs = dict(headers or {})
    if auth is not None:
        hdrs["Authorization"] = basic_auth(*auth)
    try:
        conn.request("GET", path, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()
