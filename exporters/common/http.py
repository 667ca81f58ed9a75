"""The HTTP side of an exporter: /metrics, a landing page, health endpoints.

Not prometheus_client's ``start_http_server``: that one listens with a backlog of 5 (connections
drop under many scrapers) and, in TLS mode, does the handshake in the accept loop, so one idle
TCP connection stalls every scrape. Here each connection gets its own thread, the TLS handshake
happens in that thread with a timeout, and the listen backlog is large.
"""

from __future__ import annotations

import gzip
import html
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol

from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("gpuwatch.http")


class Guard(Protocol):
    """What a web config file provides (see :mod:`gpuwatch.exporters.common.webconfig`)."""

    ssl_context: ssl.SSLContext | None
    headers: list[tuple[str, str]]  # extra response headers (http_server_config.headers)

    def authorized(self, authorization_header: str | None) -> bool: ...

    def peer_allowed(self, sock: ssl.SSLSocket) -> bool: ...


@dataclass
class Site:
    title: str
    telemetry_path: str
    render: Callable[[], bytes]
    links: list[tuple[str, str]] = field(default_factory=list)
    version: str = ""
    ready: Callable[[], bool] = lambda: True


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, a keep-alive client's
    # delayed ACK then holds every response back ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        # an idle or slow client holds only its own thread, and not for long
        self.connection.settimeout(self.server.idle_timeout)

    server_version = "gpuwatch"
    sys_version = ""

    def version_string(self) -> str:  # the Server header: no Python or library versions
        return self.server_version

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        headers = dict(self.server.extra_headers)
        headers.update(extra or {})
        if code == 200 and len(body) > 1024 and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        guard = self.server.guard
        if guard is None or guard.authorized(self.headers.get("Authorization")):
            return True
        self._send(
            401,
            b"Unauthorized\n",
            "text/plain; charset=utf-8",
            {"WWW-Authenticate": 'Basic realm="gpuwatch"'},
        )
        return False

    def do_GET(self) -> None:
        if not self._authorized():
            return
        site = self.server.site
        path = self.path.split("?", 1)[0]
        if path == site.telemetry_path:
            try:
                body = site.render()
            except Exception:  # never let a render bug kill the connection handler silently
                log.exception("rendering metrics failed")
                self._send(500, b"internal error rendering metrics\n", "text/plain; charset=utf-8")
                return
            self._send(200, body, CONTENT_TYPE_LATEST)
        elif path == "/":
            self._send(200, self.server.landing, "text/html; charset=utf-8")
        elif path == "/-/healthy":
            self._send(200, b"Healthy\n", "text/plain; charset=utf-8")
        elif path == "/-/ready":
            ok = site.ready()
            self._send(200 if ok else 503, b"Ready\n" if ok else b"Not ready\n", "text/plain; charset=utf-8")
        else:
            self._send(404, b"Not Found\n", "text/plain; charset=utf-8")

    do_HEAD = do_GET  # noqa: N815 - the name http.server dispatches to

    def do_POST(self) -> None:
        self._send(405, b"Method Not Allowed\n", "text/plain; charset=utf-8", {"Allow": "GET, HEAD"})

    do_PUT = do_DELETE = do_PATCH = do_POST  # noqa: N815 - the names http.server dispatches to


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], site: Site, guard: Guard | None = None, idle_timeout: float = 30.0
    ):
        host, port = address
        self.idle_timeout = idle_timeout
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        if host == "":
            host = "0.0.0.0"
        self.site = site
        self.guard = guard
        self.extra_headers: list[tuple[str, str]] = list(getattr(guard, "headers", None) or [])
        self.landing = _landing_page(site)
        super().__init__((host, port), _Handler)

    def finish_request(self, request, client_address) -> None:
        # Runs in the connection's own thread: the TLS handshake cannot stall the accept loop.
        ctx = self.guard.ssl_context if self.guard is not None else None
        if ctx is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(self.idle_timeout)
        try:
            tls = ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return  # the caller closes the plain socket
        try:
            peer_allowed = getattr(self.guard, "peer_allowed", None)
            if peer_allowed is not None and not peer_allowed(tls):
                log.debug("client certificate of %s carries none of client_allowed_sans", client_address)
                return
            super().finish_request(tls, client_address)
        finally:
            self.shutdown_request(tls)

    def handle_error(self, request, client_address) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    @property
    def port(self) -> int:
        return self.server_address[1]


def _landing_page(site: Site) -> bytes:
    links = [(site.telemetry_path, "Metrics"), ("/-/healthy", "Health")] + site.links
    items = "".join(f'<li><a href="{html.escape(h)}">{html.escape(t)}</a></li>' for h, t in links)
    version = f"<p>version {html.escape(site.version)}</p>" if site.version else ""
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(site.title)}</title></head><body>"
        f"<h1>{html.escape(site.title)}</h1>{version}<ul>{items}</ul></body></html>\n"
    )
    return page.encode()


def serve_in_thread(server: ExporterServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
