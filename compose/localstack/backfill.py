"""History of known values in a real Prometheus: OpenMetrics text -> ``promtool tsdb
create-blocks-from openmetrics`` -> ``prometheus`` serving those blocks on 127.0.0.1.

Used by the jobstats accuracy tests and benchmark. Facts this is built around (Prometheus 2.42):

- promtool cuts blocks of 2 h and re-reads the whole input file for every block, so a week in
  one file is parsed 84 times; :class:`History` writes one file per 2-hour window instead (each
  parsed once) and runs promtool on them in parallel.
- Backfilled samples carry no staleness markers; queries must not rely on lookback to end series.
- Blocks older than the retention are deleted at start-up: Prometheus runs with a 100-year
  retention. Backfilled blocks must not overlap the head; the data dir starts without one.
- OpenMetrics wants each series' samples in time order and each family written once; types are
  declared ``unknown`` (the TSDB keeps no types; a ``counter`` family would need ``_total``
  handling the gpuwatch names already include).
"""

from __future__ import annotations

import math
import os
import subprocess
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .procs import StackError
from .promstack import PROMETHEUS_BINARIES, Prometheus, find_binary

WINDOW = 7200  # promtool's block length (s)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items())) + "}"


class History:
    """Samples to backfill: ``add(name, labels, [(t, v), ...])`` then :meth:`create_blocks`."""

    def __init__(self) -> None:
        # window start -> metric name -> [(labels text, [(t, v)])]
        self._windows: dict[int, dict[str, list[tuple[str, list[tuple[float, float]]]]]] = {}
        self.samples = 0
        self.min_t = math.inf
        self.max_t = -math.inf

    def add(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> None:
        text = _labels(labels)
        current: dict[int, list[tuple[float, float]]] = {}
        prev = -math.inf
        for t, v in points:
            if t <= prev:
                raise ValueError(f"{name}{text}: samples not in time order at {t}")
            prev = t
            current.setdefault(int(t // WINDOW) * WINDOW, []).append((t, v))
            self.samples += 1
            self.min_t = min(self.min_t, t)
            self.max_t = max(self.max_t, t)
        for w, pts in current.items():
            self._windows.setdefault(w, {}).setdefault(name, []).append((text, pts))

    def write(self, folder: Path) -> list[Path]:
        """One OpenMetrics file per 2-hour window."""
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for w, families in sorted(self._windows.items()):
            path = folder / f"history-{w}.om"
            with open(path, "w", encoding="utf-8") as fh:
                for name in sorted(families):
                    fh.write(f"# TYPE {name} unknown\n")
                    for text, pts in families[name]:
                        fh.writelines(f"{name}{text} {v!r} {t:.3f}\n" for t, v in pts)
                fh.write("# EOF\n")
            files.append(path)
        return files

    def create_blocks(self, data_dir: Path, promtool: str, workdir: Path, jobs: int | None = None) -> None:
        create_blocks(self.write(workdir / "openmetrics"), data_dir, promtool, jobs)


def create_blocks(files: Iterable[Path], data_dir: Path, promtool: str, jobs: int | None = None) -> None:
    """``promtool tsdb create-blocks-from openmetrics`` on each file (in parallel), deleting each
    file once done. Each file should hold one 2-hour window (see the module docstring)."""
    data_dir.mkdir(parents=True, exist_ok=True)

    def one(path: Path) -> None:
        proc = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(path), str(data_dir)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise StackError(f"promtool create-blocks-from openmetrics {path}: {proc.stderr.strip()[-800:]}")
        path.unlink()

    with ThreadPoolExecutor(max_workers=jobs or max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(one, files))


def backfilled_prometheus(
    workdir: Path,
    history: History | None,
    promtool: str,
    *,
    scrape_interval: str = "15s",
    binary: str | None = None,
) -> Prometheus:
    """Backfill ``history`` into a fresh data dir and start Prometheus on it (not yet waited for).

    The config scrapes nothing; its global ``scrape_interval`` is the history's, so that tools
    reading /api/v1/status/config learn it.
    """
    prom = Prometheus(
        Path(workdir),
        {"global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval}},
        binary=binary or find_binary(PROMETHEUS_BINARIES, "prometheus"),
    )
    if history is not None:  # else the caller has put blocks in prom.data_dir already
        history.create_blocks(prom.data_dir, promtool, Path(workdir))
    prom.argv.append("--storage.tsdb.retention.time=100y")
    prom.argv.append("--query.max-samples=200000000")
    return prom
