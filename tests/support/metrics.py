"""Prometheus text exposition for tests and benchmarks: one parser (prometheus_client's), series
lookups, scraping, and a background scraper that records every scrape while a fault is on."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(body: bytes | str) -> Samples:
    """Prometheus text -> {(series name, frozenset(labels.items())): value} (prometheus_client's parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = body.decode() if isinstance(body, bytes) else body
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def series(metrics: Samples, name: str, **labels: str) -> dict[frozenset, float]:
    """Every series of ``name`` whose labels include ``labels``: {frozenset(labels): value}."""
    want = set(labels.items())
    return {ls: v for (n, ls), v in metrics.items() if n == name and want <= ls}


def series_names(metrics: Samples) -> set[str]:
    return {name for name, _ in metrics}


def value(metrics: Samples, name: str, **labels: str) -> float | None:
    """The value of the one series of ``name`` whose labels include ``labels`` (None when none)."""
    found = series(metrics, name, **labels)
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series")
    return next(iter(found.values()), None)


def scrape(port: int, path: str = "/metrics", timeout: float = 5.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_metrics(port: int, pred, timeout: float, what: str) -> dict:
    """Scrape until ``pred(metrics)`` holds; fail with the last scrape's relevant lines."""
    deadline = time.monotonic() + timeout
    last = b""
    while True:
        status, last = scrape(port)
        if status == 200:
            m = parse_metrics(last)
            if pred(m):
                return m
        if time.monotonic() > deadline:
            lines = [
                ln for ln in last.decode(errors="replace").splitlines() if "_up" in ln or "success" in ln
            ]
            raise AssertionError(
                f"not within {timeout:.0f} s: {what}; last scrape (up/success lines):\n"
                + "\n".join(lines[:60])
            )
        time.sleep(0.2)


@dataclass
class ScrapeLog:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    @property
    def max_latency(self) -> float:
        return max(self.latencies, default=0.0)


class Scraper:
    """Scrapes ``port`` every ``interval`` in a thread (as Prometheus would) and logs the outcome."""

    def __init__(self, port: int, interval: float = 0.2, timeout: float = 5.0):
        self.port, self.interval, self.timeout = port, interval, timeout
        self.log = ScrapeLog()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scraper", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                status, body = scrape(self.port, timeout=self.timeout)
                if status == 200 and body:
                    self.log.ok += 1
                    self.log.latencies.append(time.perf_counter() - t0)
                else:
                    self.log.failures.append(f"HTTP {status}")
            except Exception as exc:  # noqa: BLE001 (a failed scrape is the finding, not a test crash)
                self.log.failures.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)
