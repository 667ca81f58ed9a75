"""A small Prometheus HTTP API client: instant queries, range queries and series look-ups.

Client side of what the exporters' web config offers on the server side: basic auth (password
read from a file, never from the command line), TLS with a CA file, a client certificate and
key, an optional server name, and (for tests only) no verification. Every failure becomes a
:class:`JobstatsError` whose message names the URL and says what went wrong; the number of HTTP
requests made is counted (the benchmark reports it).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import JobstatsError


@dataclass
class Connection:
    """How to reach Prometheus."""

    url: str = "http://localhost:9090"
    username: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False
    timeout: float = 60.0


def _read_secret(path: str, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise JobstatsError(f"{what} {path}: cannot read: {exc.strerror or exc}") from None
    return text.rstrip("\r\n")


class Prometheus:
    """``/api/v1/query``, ``/api/v1/query_range`` and ``/api/v1/series`` with the options of
    :class:`Connection`. ``requests`` counts HTTP requests made."""

    def __init__(self, conn: Connection) -> None:
        url = conn.url.rstrip("/")
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise JobstatsError(
                f"--prometheus.url {conn.url!r}: expected http://HOST:PORT or https://HOST:PORT"
            )
        self.url = url
        self.conn = conn
        self.requests = 0
        self._headers = {"Accept": "application/json", "User-Agent": "gpuwatch-jobstats"}
        if conn.password_file and not conn.username:
            raise JobstatsError("--prometheus.password-file needs --prometheus.username")
        if conn.username:
            password = (
                _read_secret(conn.password_file, "--prometheus.password-file") if conn.password_file else ""
            )
            token = base64.b64encode(f"{conn.username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._ssl: ssl.SSLContext | None = None
        if parsed.scheme == "https":
            self._ssl = self._tls_context(conn)
        elif conn.ca_file or conn.cert_file:
            raise JobstatsError(f"--prometheus.url {conn.url}: TLS options given for a plain http:// URL")

    @staticmethod
    def _tls_context(conn: Connection) -> ssl.SSLContext:
        try:
            ctx = (
                ssl.create_default_context(cafile=conn.ca_file)
                if conn.ca_file
                else ssl.create_default_context()
            )
        except (OSError, ssl.SSLError) as exc:
            raise JobstatsError(
                f"--prometheus.ca-file {conn.ca_file}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if conn.cert_file or conn.key_file:
            if not conn.cert_file:
                raise JobstatsError("--prometheus.key-file needs --prometheus.cert-file")
            try:
                ctx.load_cert_chain(conn.cert_file, conn.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise JobstatsError(
                    f"--prometheus.cert-file {conn.cert_file}: cannot load certificate/key: "
                    f"{getattr(exc, 'strerror', None) or exc}"
                ) from None
        if conn.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    # --- transport ---------------------------------------------------------------------------

    def _call(self, path: str, params: dict[str, str], method: str = "POST") -> Any:
        url = f"{self.url}/api/v1/{path}"
        headers = dict(self._headers)
        if method == "POST":  # queries can be long (regex of GPU UUIDs): form body, not URL
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            req = urllib.request.Request(
                url, data=urllib.parse.urlencode(params).encode(), headers=headers, method="POST"
            )
        else:
            query = ("?" + urllib.parse.urlencode(params)) if params else ""
            req = urllib.request.Request(url + query, headers=headers, method="GET")
        self.requests += 1
        try:
            with urllib.request.urlopen(req, timeout=self.conn.timeout, context=self._ssl) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            if exc.code in (401, 403):
                raise JobstatsError(
                    f"Prometheus at {self.url} refused the request: HTTP {exc.code} {exc.reason} "
                    "(check --prometheus.username and --prometheus.password-file)"
                ) from None
            detail = _error_text(raw)
            if not detail:
                raise JobstatsError(
                    f"{url}: HTTP {exc.code} {exc.reason}, not a Prometheus API answer: "
                    "is --prometheus.url a Prometheus server?"
                ) from None
            if exc.code in (400, 422):
                raise JobstatsError(f"Prometheus at {self.url} rejected a query: {detail}") from None
            if exc.code == 404:
                raise JobstatsError(
                    f"{url}: HTTP 404: is --prometheus.url the Prometheus server (with its path prefix, if any)?"
                ) from None
            raise JobstatsError(f"Prometheus at {self.url} failed: {detail}") from None
        except ssl.SSLError as exc:
            raise JobstatsError(f"cannot reach Prometheus at {self.url}: TLS: {exc.reason or exc}") from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                reason = f"TLS: {reason.reason or reason}"
            elif isinstance(reason, OSError) and reason.strerror:
                reason = reason.strerror
            raise JobstatsError(f"cannot reach Prometheus at {self.url}: {reason}") from None
        except TimeoutError:
            raise JobstatsError(
                f"Prometheus at {self.url} did not answer within {self.conn.timeout:g}s (--prometheus.timeout)"
            ) from None
        except OSError as exc:
            raise JobstatsError(f"cannot reach Prometheus at {self.url}: {exc.strerror or exc}") from None
        except http.client.HTTPException as exc:  # a cut answer (IncompleteRead), a malformed status line
            raise JobstatsError(
                f"Prometheus at {self.url}: broken answer ({type(exc).__name__}: {exc})"
            ) from None
        try:
            doc = json.loads(raw)
        except ValueError:
            raise JobstatsError(
                f"{url}: the answer is not JSON: is --prometheus.url a Prometheus server?"
            ) from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            detail = _error_text(raw) or "unexpected answer"
            raise JobstatsError(f"Prometheus at {self.url} failed: {detail}")
        return doc.get("data")

    # --- API ---------------------------------------------------------------------------------

    def query(self, expr: str, time: float | None = None) -> list[dict]:
        """Instant query; the ``result`` list (vector or matrix)."""
        params = {"query": expr}
        if time is not None:
            params["time"] = _ts(time)
        data = self._call("query", params)
        return list(data.get("result") or []) if isinstance(data, dict) else []

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": _ts(start), "end": _ts(end), "step": f"{step:g}"}
        data = self._call("query_range", params)
        return list(data.get("result") or []) if isinstance(data, dict) else []

    def series(self, match: str, start: float, end: float) -> list[dict[str, str]]:
        data = self._call("series", {"match[]": match, "start": _ts(start), "end": _ts(end)})
        return list(data or [])

    def call_get(self, path: str, params: dict[str, str]) -> Any:
        """GET ``/api/v1/PATH`` (endpoints that take no POST, e.g. rules and status)."""
        return self._call(path, params, method="GET")

    def scrape_interval(self, job: str = "gpuwatch-gpu") -> float | None:
        """The scrape interval of ``job`` (or the global one) from the running config, in seconds;
        None when the config cannot be read (a proxy may not pass /api/v1/status/config)."""
        try:
            data = self._call("status/config", {}, method="GET")
        except JobstatsError:
            return None
        import yaml

        try:
            cfg = yaml.safe_load(data.get("yaml", "")) or {}
        except yaml.YAMLError:
            return None
        value = (cfg.get("global") or {}).get("scrape_interval", "1m")
        for sc in cfg.get("scrape_configs") or []:
            if sc.get("job_name") == job and sc.get("scrape_interval"):
                value = sc["scrape_interval"]
        from .timespec import parse_duration

        try:
            return parse_duration(str(value))
        except ValueError:
            return None


def _ts(t: float) -> str:
    return f"{t:.3f}"


def _error_text(raw: bytes) -> str:
    """The API's ``errorType: error`` on one line, or "" when the body is not an API error."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(doc, dict) and doc.get("error"):
        return " ".join(f"{doc.get('errorType', 'error')}: {doc['error']}".split())[:500]
    return ""
