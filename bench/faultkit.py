"""Helpers for the fault tests: a background scraper that records every scrape while a fault is
on, metric parsing, and process/thread accounting. Imported as ``from faultkit import ...``."""

from __future__ import annotations

import http.client
import os
import threading
import time
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


def parse(body: bytes | str) -> dict[tuple[str, frozenset], float]:
    text = body.decode() if isinstance(body, bytes) else body
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(metrics: dict, name: str, **labels) -> float | None:
    want = set(labels.items())
    found = [v for (n, ls), v in metrics.items() if n == name and want <= set(ls)]
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series")
    return found[0] if found else None


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
            m = parse(last)
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
            except Exception as exc:  # a failed scrape is the finding, not a test crash
                self.log.failures.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.interval)

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout + 5)


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _proc_stats():
    """(pid, command name, fields after the name) of every process in /proc/PID/stat."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        yield int(entry), stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def children_of(pid: int) -> list[tuple[int, str, float]]:
    """Live (non-zombie) child processes of ``pid``: (pid, command name, age in seconds)."""
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    tick = os.sysconf("SC_CLK_TCK")
    return [
        (p, name, uptime - int(fields[19]) / tick)
        for p, name, fields in _proc_stats()
        if int(fields[1]) == pid and fields[0] != "Z"
    ]


def zombies_of(pid: int) -> list[int]:
    return [p for p, _, fields in _proc_stats() if int(fields[1]) == pid and fields[0] == "Z"]
