"""What every GPU collector shares: the registry, the options and the sources it collects from.

A GPU collector is a :class:`~gpuwatch.exporters.common.collector.Collector` whose ``needs``
names the stages it runs in; the exporter calls ``collect(source)`` once per stage with:

- ``"gpu"``: a :class:`GpuRead`, in that GPU's reader thread, every ``--collect.interval``
  (NVML calls go here; they may raise GpuDown / NvmlDown through ``dev.read``);
- ``"node"``: a :class:`NodeCycle`, once per collection cycle in the background (node-wide work
  such as scanning /proc);
- ``"render"``: a :class:`View`, when a scrape needs a fresh rendering (joins per-GPU results
  with node state; must not call NVML).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...common.collector import Collector, CollectorSet
from ...common.metric import Families
from ..metrics import DEFS

if TYPE_CHECKING:
    from ..nvml import Device
    from ..xid_watcher import XidCounters

COLLECTORS: CollectorSet[GpuCollector] = CollectorSet("gpuwatch_gpu")
STAGES = ("gpu", "node", "render")


@dataclass
class Options:
    """Exporter options collectors may need (from the command line)."""

    proc_root: str = "/proc"
    job_mapping_dir: str | None = None
    hourly_cost_usd: float | None = None  # --gpu.hourly-cost-usd: the node's price, None when unset
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class GpuRead:
    """One read of one GPU. ``extras`` is shared by the collectors of this read (what one reads
    once for several, e.g. the MIG devices) and kept with the GPU's snapshot for the render stage."""

    dev: Device
    extras: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def families() -> Families:
        return Families(DEFS)


@dataclass
class NodeCycle:
    """One background collection cycle of the node (no per-GPU data)."""

    options: Options


@dataclass
class View:
    """What the render stage sees: the enumerated GPUs, the latest fresh read of each live one."""

    devices: list[Device]
    extras: dict[int, dict[str, Any]]  # GPU index -> extras of its latest successful read
    xid: XidCounters
    # indices of GPUs whose XID events cannot be watched (NVML answers NotSupported, or no event
    # set could be created): their xid counters stay at 0 whatever happens, so the xid collector
    # must not report success for them
    xid_unwatched: frozenset[int] = frozenset()

    @staticmethod
    def families() -> Families:
        return Families(DEFS)


class GpuCollector(Collector[Any]):
    """A GPU collector; ``options`` are the exporter's command-line options."""

    def __init__(self, options: Options) -> None:
        self.options = options
