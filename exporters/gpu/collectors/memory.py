"""Framebuffer memory: used, free, total, reserved (nvmlDeviceGetMemoryInfo, v2 when it exists)."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register(
    "memory", default=True, help="Framebuffer memory used, free, total and reserved", needs=("gpu",)
)
class MemoryCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        mem = None
        version = getattr(nv, "nvmlMemory_v2", None)
        if version is not None and "memory_v2" not in dev.unsupported:
            try:
                mem = nv.nvmlDeviceGetMemoryInfo(dev.handle, version=version)
            except nv.NVMLError as exc:
                # Old drivers: no _v2 entry point (FunctionNotFound / NotSupported / version mismatch).
                if getattr(exc, "value", None) in dev.codes.not_supported | dev.codes.version_mismatch:
                    dev.unsupported.add("memory_v2")
                else:
                    dev.failed("memory_v2", exc)
        if mem is None:
            mem = dev.read("memory", nv.nvmlDeviceGetMemoryInfo)
        if mem is None:
            return out
        lb = dev.labels
        out.add("gpuwatch_gpu_memory_used_bytes", lb, float(mem.used))
        out.add("gpuwatch_gpu_memory_free_bytes", lb, float(mem.free))
        out.add("gpuwatch_gpu_memory_total_bytes", lb, float(mem.total))
        reserved = getattr(mem, "reserved", None)
        if reserved is not None:
            out.add("gpuwatch_gpu_memory_reserved_bytes", lb, float(reserved))
        return out
