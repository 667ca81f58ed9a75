"""NVLink link state (per link) and data-link error counters (summed over the GPU's links).

Links are probed once per NVML session: a GPU without NVLink answers NotSupported on link 0 and
is not asked again; links past the GPU's count answer InvalidArgument/NotSupported and are
remembered as absent, so a steady-state scrape asks only the links that exist.

The summed error counters are kept monotonic per link, the way a counter over several sources
must be: each link's contribution is the increase of its raw NVML counter since the first read
(a raw value lower than the last one is a reset of that link's counter, so the new raw value is
the increase), and a link that stops answering (link down, removed, transient error) keeps what
it contributed. The sum therefore never goes down while the exporter runs, even across NVML
re-initialisations (the accounting is keyed by GPU UUID, not by NVML handle), and Prometheus sees
a reset only when the exporter restarts.
"""

import threading

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead, Options

ERROR_TYPES = (
    ("replay", "NVML_NVLINK_ERROR_DL_REPLAY"),
    ("recovery", "NVML_NVLINK_ERROR_DL_RECOVERY"),
    ("crc_flit", "NVML_NVLINK_ERROR_DL_CRC_FLIT"),
    ("crc_data", "NVML_NVLINK_ERROR_DL_CRC_DATA"),
)


@COLLECTORS.register("nvlink", default=True, help="NVLink link state and error counters", needs=("gpu",))
class NvlinkCollector(GpuCollector):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        # uuid (or index) -> {(link, type): [last raw value, accumulated increase]}
        self._acc: dict[str, dict[tuple[int, str], list[float]]] = {}
        self._lock = threading.Lock()

    def _account(self, dev, raw: dict[tuple[int, str], float]) -> dict[str, float]:
        """Fold this read's raw per-link counters into the per-link accounting; return the sums."""
        key = dev.uuid or f"index:{dev.index}"
        # under the lock: a reader of the previous NVML session may still be finishing this GPU
        with self._lock:
            acc = self._acc.setdefault(key, {})
            for k, n in raw.items():
                slot = acc.get(k)
                if slot is None:
                    acc[k] = [n, n]  # first sight: the counter's value so far is its increase since boot
                else:
                    slot[1] += (
                        n - slot[0] if n >= slot[0] else n
                    )  # lower than last: this link's counter reset
                    slot[0] = n
            totals: dict[str, float] = {}
            for (_, label), (_, total) in acc.items():
                totals[label] = totals.get(label, 0.0) + total
        return totals

    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        if "nvlink" in dev.unsupported:
            return out
        links = dev.nvlinks
        if links is None:
            links = []
            for link in range(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)):
                try:
                    nv.nvmlDeviceGetNvLinkState(dev.handle, link)
                except nv.NVMLError as exc:
                    code = getattr(exc, "value", None)
                    if code in dev.codes.gpu_down or code in dev.codes.nvml_down:
                        dev.failed(("nvlink", link), exc)
                    if link == 0 and code in dev.codes.not_supported:
                        dev.unsupported.add("nvlink")
                        return out
                    continue  # link does not exist on this GPU
                links.append(link)
            dev.nvlinks = links
            if not links:
                dev.unsupported.add("nvlink")
                return out
        lb = dev.labels
        raw: dict[tuple[int, str], float] = {}
        for link in links:
            state = dev.read(("nvlink_state", link), nv.nvmlDeviceGetNvLinkState, link)
            if state is None:
                continue
            out.add(
                "gpuwatch_gpu_nvlink_active",
                lb + (str(link),),
                1.0 if state == nv.NVML_FEATURE_ENABLED else 0.0,
            )
            for label, const in ERROR_TYPES:
                n = dev.read(
                    ("nvlink_errors", link, label),
                    nv.nvmlDeviceGetNvLinkErrorCounter,
                    link,
                    getattr(nv, const),
                )
                if n is not None:
                    raw[(link, label)] = float(n)
        totals = self._account(dev, raw)
        for label, _ in ERROR_TYPES:
            if label in totals:
                out.add("gpuwatch_gpu_nvlink_errors_total", lb + (label,), totals[label])
        return out

    def reset(self, dev):
        dev.nvlinks = None
