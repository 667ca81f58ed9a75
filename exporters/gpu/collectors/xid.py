"""XID errors: exported from the counters the XID event thread (``..xid``) keeps.

The thread runs while this collector is enabled; see :mod:`gpuwatch.exporters.gpu.xid`.
"""

from .base import COLLECTORS, Collector


@COLLECTORS.register("xid", default=True, help="XID error events (background thread on nvmlEventSetWait)")
class XidCollector(Collector):
    name = "xid"
    per_gpu = False

    def finish(self, view, out):
        totals, by_code = view.xid.snapshot()
        for dev in view.devices:
            if not dev.uuid:
                continue
            lb = dev.labels
            out.add("gpuwatch_gpu_xid_events_total", lb, float(totals.get(dev.uuid, 0)))
            for xid, n in sorted(by_code.get(dev.uuid, {}).items()):
                out.add("gpuwatch_gpu_xid_errors_total", lb + (str(xid),), float(n))
