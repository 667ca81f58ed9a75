"""A small Alertmanager webhook receiver: records every notification and prints it readably.

Alertmanager POSTs its webhook JSON (version 4) to ``http://127.0.0.1:PORT/<anything>``; the
receiver keeps each body with the time it arrived and the URL path, and hands each alert in it to
``on_event`` (the demo prints one line per alert). Tests wait on it with :meth:`wait_for`.

    15:41:07  FIRING    critical  GpuLost  node=demo-node-b gpu=1 instance=127.0.0.1:40731  -> pager
              GPU 1 on demo-node-b fell off the bus
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Labels shown on the first line, in this order, when present.
SHOWN_LABELS = ("node", "gpu", "instance", "job", "xid", "partition", "state")
MAX_BODY = 4 * 1024 * 1024


@dataclass(frozen=True)
class AlertEvent:
    """One alert of one notification, as delivered."""

    received: float  # time.time() when the POST arrived
    receiver: str  # Alertmanager's receiver name (the body's "receiver")
    path: str  # URL path the receiver's webhook_config posted to
    status: str  # firing | resolved (of this alert)
    labels: dict
    annotations: dict
    starts_at: str
    ends_at: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    def matches(self, alertname: str | None = None, status: str | None = None, **labels: str) -> bool:
        if alertname is not None and self.alertname != alertname:
            return False
        if status is not None and self.status != status:
            return False
        return all(self.labels.get(k) == v for k, v in labels.items())


@dataclass
class Notification:
    received: float
    path: str
    body: dict
    events: list[AlertEvent] = field(default_factory=list)


def parse_notification(body: dict, path: str, received: float) -> Notification:
    """Split a webhook body into per-alert events; raises ValueError on a body that is not one."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise ValueError("not an Alertmanager webhook body (no alerts list)")
    receiver = str(body.get("receiver", ""))
    note = Notification(received=received, path=path, body=body)
    for alert in body["alerts"]:
        if not isinstance(alert, dict):
            raise ValueError("alert entry is not an object")
        note.events.append(
            AlertEvent(
                received=received,
                receiver=receiver,
                path=path,
                status=str(alert.get("status", body.get("status", ""))),
                labels=dict(alert.get("labels") or {}),
                annotations=dict(alert.get("annotations") or {}),
                starts_at=str(alert.get("startsAt", "")),
                ends_at=str(alert.get("endsAt", "")),
            )
        )
    return note


def format_event(event: AlertEvent) -> str:
    """Two lines: time, status, severity, alert name, where; then the summary."""
    stamp = datetime.fromtimestamp(event.received).strftime("%H:%M:%S")
    where = " ".join(f"{k}={event.labels[k]}" for k in SHOWN_LABELS if k in event.labels)
    severity = event.labels.get("severity", "-")
    line = (
        f"{stamp}  {event.status.upper():<8}  {severity:<8}  {event.alertname}  {where}  -> {event.receiver}"
    )
    summary = event.annotations.get("summary") or event.annotations.get("description") or ""
    if summary:
        line += "\n" + " " * 10 + summary.strip().splitlines()[0]
    return line


class WebhookReceiver:
    """Threaded HTTP server on 127.0.0.1 recording Alertmanager webhook notifications."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, on_event: Callable[[AlertEvent], None] | None = None
    ):
        self.on_event = on_event
        self.notifications: list[Notification] = []
        self.errors: list[str] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "gpuwatch-webhook"

            def do_POST(self) -> None:
                received = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                if length <= 0 or length > MAX_BODY:
                    self._answer(400, "body missing or too large")
                    return
                raw = self.rfile.read(length)
                try:
                    note = parse_notification(json.loads(raw), self.path, received)
                except (ValueError, UnicodeDecodeError) as exc:
                    receiver._record_error(f"{self.path}: {exc}")
                    self._answer(400, str(exc))
                    return
                receiver._record(note)
                self._answer(200, "ok")

            def do_GET(self) -> None:
                self._answer(200, f"{len(receiver.notifications)} notifications received")

            def _answer(self, code: int, text: str) -> None:
                data = (text + "\n").encode()
                self.send_response(code)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt: str, *args) -> None:  # quiet: notifications are printed instead
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookReceiver:
        self._thread = threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _record(self, note: Notification) -> None:
        with self._cond:
            self.notifications.append(note)
            self._cond.notify_all()
        if self.on_event is not None:
            for event in note.events:
                self.on_event(event)

    def _record_error(self, message: str) -> None:
        with self._cond:
            self.errors.append(message)

    def events(self) -> list[AlertEvent]:
        with self._cond:
            return [e for n in self.notifications for e in n.events]

    def find(
        self, alertname: str | None = None, status: str | None = None, since: float = 0.0, **labels: str
    ) -> list[AlertEvent]:
        return [e for e in self.events() if e.received >= since and e.matches(alertname, status, **labels)]

    def wait_for(
        self,
        alertname: str | None = None,
        status: str | None = None,
        timeout: float = 60.0,
        since: float = 0.0,
        **labels: str,
    ) -> AlertEvent | None:
        """The first event since ``since`` matching name/status/labels, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for note in self.notifications:
                    for event in note.events:
                        if event.received >= since and event.matches(alertname, status, **labels):
                            return event
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(timeout=min(left, 1.0))


def summarize(events: Iterable[AlertEvent]) -> str:
    return "\n".join(format_event(e) for e in events)
