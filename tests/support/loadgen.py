"""A scrape load generator: N concurrent HTTP(S) scrapers against one URL for a while.

Used by ``bench/load.py`` (30 s runs against each exporter) and by the short CI load tests;
``measure`` adds the exporter's RSS and thread count before and after.
Clients run as threads spread over a few worker processes, so that the generator's own GIL does
not cap the load or inflate the latencies it measures. Half the clients keep their connection
alive between scrapes (as Prometheus does), half open a new one for every scrape (as scrapers
behind a proxy that does not pool connections do): the second kind exercises the accept path
and the listen backlog.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import ssl
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .http import basic_auth
from .procs import rss_kib, thread_count

RSS_GOAL_KIB = 5 * 1024  # the load goal: RSS growth under 5 MB


@dataclass
class LoadResult:
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # seconds, successful scrapes only
    bytes: int = 0
    seconds: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if not lat:
                return float("nan")
            return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] * 1000

        return {
            "requests": self.requests,
            "errors": self.error_count,
            "error_kinds": dict(self.errors),
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(pct(50), 2),
            "p99_ms": round(pct(99), 2),
            "max_ms": round(lat[-1] * 1000, 2) if lat else float("nan"),
            "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else float("nan"),
        }


def _client(url, deadline, keepalive, auth, cafile, out, lock, timeout):
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    path = parts.path or "/"
    headers = {"Accept-Encoding": "gzip"}
    if auth:
        headers["Authorization"] = basic_auth(*auth)
    ctx = None
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
    local = LoadResult()
    conn = None
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        try:
            if conn is None:
                if ctx is None:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                else:
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            local.requests += 1
            if resp.status != 200:
                key = f"http_{resp.status}"
                local.errors[key] = local.errors.get(key, 0) + 1
            else:
                local.latencies.append(time.perf_counter() - t0)
                local.bytes += len(body)
            if not keepalive or resp.will_close:
                conn.close()
                conn = None
        except Exception as exc:  # noqa: BLE001 (every failure is a result here, never a crash of the generator)
            local.requests += 1
            key = type(exc).__name__
            local.errors[key] = local.errors.get(key, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)
    if conn is not None:
        conn.close()
    with lock:
        out.requests += local.requests
        out.bytes += local.bytes
        out.latencies.extend(local.latencies)
        for k, v in local.errors.items():
            out.errors[k] = out.errors.get(k, 0) + v


def _worker(url, first, clients, start_at, seconds, auth, cafile, timeout, queue):
    out, lock = LoadResult(), threading.Lock()
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=_client,
            args=(url, deadline, (first + i) % 2 == 0, auth, cafile, out, lock, timeout),
            daemon=True,
        )
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put((out.requests, out.errors, out.latencies, out.bytes))


def run_load(
    url: str,
    clients: int = 50,
    seconds: float = 30.0,
    auth: tuple[str, str] | None = None,
    cafile: str | None = None,
    processes: int | None = None,
    timeout: float = 10.0,
) -> LoadResult:
    """Scrape ``url`` with ``clients`` concurrent clients for ``seconds``; collect every outcome."""
    processes = processes or max(1, min(clients, os.cpu_count() or 1, 4))
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 0.5  # all workers start together
    per, extra = divmod(clients, processes)
    procs, first = [], 0
    for p in range(processes):
        n = per + (1 if p < extra else 0)
        proc = ctx.Process(
            target=_worker, args=(url, first, n, start_at, seconds, auth, cafile, timeout, queue)
        )
        proc.start()
        procs.append(proc)
        first += n
    result = LoadResult(seconds=seconds)
    for _ in procs:
        requests, errors, latencies, nbytes = queue.get(timeout=seconds + timeout + 60)
        result.requests += requests
        result.bytes += nbytes
        result.latencies.extend(latencies)
        for k, v in errors.items():
            result.errors[k] = result.errors.get(k, 0) + v
    for proc in procs:
        proc.join(timeout=10)
    return result


def measure(pid: int, url: str, clients: int, seconds: float, warmup: float, auth=None, cafile=None) -> dict:
    """Warm up, then load ``url`` for ``seconds``; the summary plus process ``pid``'s RSS and threads."""
    run_load(url, clients=clients, seconds=warmup, auth=auth, cafile=cafile)
    time.sleep(0.5)
    rss0, threads0 = rss_kib(pid), thread_count(pid)
    result = run_load(url, clients=clients, seconds=seconds, auth=auth, cafile=cafile)
    time.sleep(1.0)  # connections close, per-connection threads end
    rss1, threads1 = rss_kib(pid), thread_count(pid)
    out = result.summary()
    out.update(
        clients=clients,
        seconds=seconds,
        rss_start_kib=rss0,
        rss_end_kib=rss1,
        rss_growth_kib=rss1 - rss0,
        threads_before=threads0,
        threads_after=threads1,
        ok=result.error_count == 0 and rss1 - rss0 < RSS_GOAL_KIB,
    )
    return out


GPU_SCENARIO = """\
# 8 busy simulated H100s for the load benchmark
description: load benchmark, 8 GPUs
driver_version: "550.54.15"
defaults:
  name: NVIDIA H100 80GB HBM3
  memory_total: 81559MiB
  power_limit: 700
  nvlinks: 18
  values:
    utilization: {base: 0.85, amplitude: 0.1, period: 60}
    memory_used: 61GiB
    temperature: {base: 62, amplitude: 3, period: 120}
    power: {base: 520, amplitude: 40, period: 60}
gpus:
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000000, pci_bus_id: "00000000:18:00.0", minor: 0}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000001, pci_bus_id: "00000000:28:00.0", minor: 1}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000002, pci_bus_id: "00000000:38:00.0", minor: 2}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000003, pci_bus_id: "00000000:48:00.0", minor: 3}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000004, pci_bus_id: "00000000:58:00.0", minor: 4}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000005, pci_bus_id: "00000000:68:00.0", minor: 5}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000006, pci_bus_id: "00000000:78:00.0", minor: 6}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000007, pci_bus_id: "00000000:88:00.0", minor: 7}
"""
