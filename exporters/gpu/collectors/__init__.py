"""The GPU exporter's collectors, one per file, registered by name in :data:`COLLECTORS`.

Importing this package imports the collector modules, which only records their classes.
"""

from . import (  # noqa: F401  (registration)
    clocks,
    ecc,
    gpm,
    jobs,
    media,
    memory,
    mig,
    nvlink,
    pcie,
    pcie_throughput,
    power,
    thermal,
    utilization,
    xid,
)
from .base import COLLECTORS, GpuCollector, GpuRead, NodeCycle, Options, View

__all__ = ["COLLECTORS", "GpuCollector", "GpuRead", "NodeCycle", "Options", "View"]
