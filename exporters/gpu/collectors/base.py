"""What every GPU collector shares: the registry, the base class and the sample buffer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...common.collector import CollectorSet

COLLECTORS = CollectorSet("gpuwatch_gpu")


class Samples:
    """Series collected for one GPU (or the node) in one cycle: name -> [(label values, value)].

    Label values are in the order of the metric's declaration in ``metrics.py``.
    """

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data: dict[str, list[tuple[tuple[str, ...], float]]] = {}

    def add(self, name: str, labels: tuple[str, ...], value: float) -> None:
        lst = self.data.get(name)
        if lst is None:
            self.data[name] = [(labels, value)]
        else:
            lst.append((labels, value))


@dataclass
class Options:
    """Exporter options collectors may need (from the command line)."""

    proc_root: str = "/proc"
    job_mapping_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Collector:
    """Base class. ``collect_gpu`` runs per GPU in that GPU's reader (it may raise GpuDown /
    NvmlDown through ``dev.read``); ``collect_node`` runs once per cycle; ``finish`` runs when a
    scrape needs a fresh rendering and may combine per-GPU results (``extras``) with node state."""

    name = "?"
    per_gpu = True

    def __init__(self, options: Options) -> None:
        self.options = options

    def collect_gpu(self, dev, out: Samples, extras: dict) -> None:
        pass

    def collect_node(self, exporter) -> None:
        pass

    def finish(self, view, out: Samples) -> None:
        pass

    def reset_gpu(self, dev) -> None:
        """NVML was re-initialised: drop per-handle state for ``dev``."""
