"""MIG mode and, when enabled, each MIG device (``gpu_instance_id``, ``compute_instance_id``)."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


def mig_state(dev, extras) -> tuple[bool | None, list]:
    """``(enabled, [(mig handle, mig uuid)])`` of the GPU, read once per cycle (kept in ``extras``,
    which the GPU's collectors share) for the mig and jobs collectors; ``(None, [])`` when MIG is
    not supported."""
    hit = extras.get("mig_state")
    if hit is not None:
        return hit
    nv = dev.nv
    state: tuple[bool | None, list] = (None, [])
    mode = dev.read("mig", nv.nvmlDeviceGetMigMode)
    if mode is not None:
        enabled = mode[0] == getattr(nv, "NVML_DEVICE_MIG_ENABLE", 1)
        migs = []
        if enabled:
            count = dev.read("mig_count", nv.nvmlDeviceGetMaxMigDeviceCount) or 0
            for i in range(count):
                try:
                    mig = nv.nvmlDeviceGetMigDeviceHandleByIndex(dev.handle, i)
                except nv.NVMLError as exc:
                    if getattr(exc, "value", None) == nv.NVML_ERROR_NOT_FOUND:
                        continue  # empty slot
                    dev.failed(None, exc)
                    continue
                uuid = dev.read_on(mig, None, nv.nvmlDeviceGetUUID)
                migs.append((mig, _s(uuid) if uuid else ""))
        state = (enabled, migs)
    extras["mig_state"] = state
    return state


@COLLECTORS.register("mig", default=True, help="MIG mode and MIG devices with their memory", needs=("gpu",))
class MigCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        extras = read.extras
        nv = dev.nv
        enabled, migs = mig_state(dev, extras)
        if enabled is None:
            return out
        lb = dev.labels
        out.add("gpuwatch_gpu_mig_enabled", lb, 1.0 if enabled else 0.0)
        for mig, uuid in migs:
            gi = dev.read_on(mig, None, nv.nvmlDeviceGetGpuInstanceId)
            ci = dev.read_on(mig, None, nv.nvmlDeviceGetComputeInstanceId)
            if gi is None:
                continue
            ids = (str(gi), str(ci if ci is not None else 0))
            out.add("gpuwatch_gpu_mig_info", lb + ids + (uuid,), 1.0)
            mem = dev.read_on(mig, None, nv.nvmlDeviceGetMemoryInfo)
            if mem is not None:
                out.add("gpuwatch_gpu_mig_memory_used_bytes", lb + ids, float(mem.used))
                out.add("gpuwatch_gpu_mig_memory_total_bytes", lb + ids, float(mem.total))
        return out


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)
