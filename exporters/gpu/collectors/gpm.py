"""GPM metrics (Hopper and newer): SM activity/occupancy, tensor activity, DRAM bandwidth.

Opt-in. GPM metrics are rates between two samples: each cycle takes a new sample and computes
the metrics against the previous cycle's sample, so the first cycle after start-up (or after an
NVML re-init) exports nothing for this collector.
"""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead, Options

METRICS = (
    ("NVML_GPM_METRIC_SM_UTIL", "gpuwatch_gpu_sm_active_ratio"),
    ("NVML_GPM_METRIC_SM_OCCUPANCY", "gpuwatch_gpu_sm_occupancy_ratio"),
    ("NVML_GPM_METRIC_ANY_TENSOR_UTIL", "gpuwatch_gpu_tensor_active_ratio"),
    ("NVML_GPM_METRIC_DRAM_BW_UTIL", "gpuwatch_gpu_dram_active_ratio"),
)


@COLLECTORS.register(
    "gpm",
    default=False,
    help="GPM metrics on Hopper and newer: SM occupancy, tensor activity, DRAM bandwidth",
    needs=("gpu",),
)
class GpmCollector(GpuCollector):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self._prev: dict[int, object] = {}

    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        if "gpm" in dev.unsupported or not hasattr(nv, "nvmlGpmMetricsGet"):
            return out
        if not dev.gpm_checked:
            support = dev.read("gpm", nv.nvmlGpmQueryDeviceSupport)
            if support is None or not support.isSupportedDevice:
                dev.unsupported.add("gpm")
                return out
            dev.gpm_checked = True
        sample = nv.nvmlGpmSampleAlloc()
        try:
            nv.nvmlGpmSampleGet(dev.handle, sample)
        except nv.NVMLError as exc:
            nv.nvmlGpmSampleFree(sample)
            dev.failed("gpm", exc)
            return out
        prev = self._prev.get(dev.index)
        self._prev[dev.index] = sample
        if prev is None:
            return out
        try:
            mg = nv.c_nvmlGpmMetricsGet_t()
            mg.version = nv.NVML_GPM_METRICS_GET_VERSION
            mg.numMetrics = len(METRICS)
            mg.sample1 = prev
            mg.sample2 = sample
            for i, (const, _) in enumerate(METRICS):
                mg.metrics[i].metricId = getattr(nv, const)
            try:
                nv.nvmlGpmMetricsGet(mg)
            except nv.NVMLError as exc:
                dev.failed("gpm", exc)
                return out
            for i, (_, name) in enumerate(METRICS):
                m = mg.metrics[i]
                if m.nvmlReturn == nv.NVML_SUCCESS:
                    out.add(name, dev.labels, m.value / 100.0)
        finally:
            nv.nvmlGpmSampleFree(prev)
        return out

    def reset(self, dev):
        self._prev.pop(dev.index, None)
        dev.gpm_checked = False
