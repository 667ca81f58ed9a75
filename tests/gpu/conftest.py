"""Fixtures for the GPU exporter tests.

``pytest tests/gpu --update-golden`` (or ``GPUWATCH_UPDATE_GOLDEN=1``) rewrites the golden
/metrics files under tests/fixtures/gpu/ instead of comparing against them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpuwatch.exporters.gpu.collectors.base import Options
from gpuwatch.exporters.gpu.exporter import GpuExporter
from gpuwatch.exporters.gpu.sim import pynvml as sim

from .helpers import Clock, ExporterProcess


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_exporter(clock, tmp_path):
    """Build an unthreaded exporter on a scenario given as YAML text or a path."""
    made = []

    def make(scenario, collectors=None, *, options: Options | None = None, **kw) -> GpuExporter:
        if isinstance(scenario, str) and "\n" in scenario:
            path = tmp_path / f"scenario{len(made)}.yaml"
            path.write_text(scenario)
        else:
            path = Path(scenario)
        sim.load(path, clock=clock)
        kw.setdefault("threaded", False)
        kw.setdefault("clock", clock)
        exp = GpuExporter(
            lambda: sim, collectors, options or Options(proc_root=str(tmp_path / "noproc")), **kw
        )
        made.append(exp)
        return exp

    (tmp_path / "noproc").mkdir()
    yield make
    for exp in made:
        exp.stop()


@pytest.fixture
def exporter_process():
    started = []

    def start(args, env=None, cwd=None) -> ExporterProcess:
        p = ExporterProcess(args, env, cwd)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
        if p.proc.stdout:
            p.proc.stdout.close()
