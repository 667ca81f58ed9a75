"""XID errors: exported from the counters the XID event thread (``..xid_watcher``) keeps.

The thread runs while this collector is enabled; see :mod:`gpuwatch.exporters.gpu.xid_watcher`. When a
GPU cannot be registered for XID events (NVML answers NotSupported, or no event set can be
created) its counters are still exported (at 0) but ``gpuwatch_gpu_collector_success{collector="xid"}``
is 0, so an alert on the collector's success, not a silent zero, tells XID monitoring is off.
"""

from ...common.collector import CollectorError
from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, View


@COLLECTORS.register(
    "xid", default=True, help="XID error events (background thread on nvmlEventSetWait)", needs=("render",)
)
class XidCollector(GpuCollector):
    def collect(self, view: View) -> Families:
        out = view.families()
        totals, by_code = view.xid.snapshot()
        for dev in view.devices:
            if not dev.uuid:
                continue
            lb = dev.labels
            out.add("gpuwatch_gpu_xid_events_total", lb, float(totals.get(dev.uuid, 0)))
            for xid, n in sorted(by_code.get(dev.uuid, {}).items()):
                out.add("gpuwatch_gpu_xid_errors_total", lb + (str(xid),), float(n))
        if view.xid_unwatched:
            # The counters above stay at 0 for these GPUs whatever happens: say so rather than
            # let a zero look like "no XID errors".
            gpus = ",".join(str(i) for i in sorted(view.xid_unwatched))
            raise CollectorError(f"XID events cannot be watched on GPU {gpus}", out)
        return out
