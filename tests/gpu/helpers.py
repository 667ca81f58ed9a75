"""Helpers shared by the GPU exporter tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from gpuwatch.exporters.gpu.sim import scenario as scen

GPU_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gpu"


class Clock:
    """A manual clock shared by the simulator and the exporter."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


def parse_metrics(body: bytes | str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text -> {(name, frozenset(labels.items())): value} (via prometheus_client's parser)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = body.decode() if isinstance(body, bytes) else body
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def series(metrics: dict, name: str, **labels) -> dict[frozenset, float]:
    want = set(labels.items())
    return {k[1]: v for k, v in metrics.items() if k[0] == name and want <= set(k[1])}


def value(metrics: dict, name: str, **labels) -> float | None:
    found = series(metrics, name, **labels)
    if len(found) > 1:
        raise AssertionError(f"{name}{labels} matches {len(found)} series")
    return next(iter(found.values()), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExporterProcess:
    """The real CLI in a subprocess on a free loopback port; stopped by PID."""

    def __init__(self, args: list[str], env: dict | None = None, cwd: str | None = None):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gpuwatch.exporters.gpu",
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )

    def get(self, path: str = "/metrics", timeout: float = 10.0) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read()
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"exporter not reachable; output:\n{self.output()}") from None
                time.sleep(0.05)

    def wait_for(self, pred, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            m = parse_metrics(self.get()[1])
            if pred(m):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met in {timeout}s; last scrape:\n{m}")
            time.sleep(0.1)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def output(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stdout.read().decode(errors="replace")


def write_scenario(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    scen.load(p)  # fail early with the scenario's own message
    return p
