"""Helpers shared by the GPU exporter tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gpuwatch.exporters.gpu.sim import scenario as scen
from gpuwatch.testing import free_port
from gpuwatch.testing.metrics import parse_metrics, series, value
from gpuwatch.testing.procs import stop_process

__all__ = ["GPU_FIXTURES", "Clock", "ExporterProcess", "parse_metrics", "series", "value"]

GPU_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gpu"


class Clock:
    """A manual clock shared by the simulator and the exporter."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


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
            stop_process(self.proc)
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
