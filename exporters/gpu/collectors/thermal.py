"""Temperatures (core, HBM memory through the field-value API) and fan speed."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register("thermal", default=True, help="GPU and memory temperature, fan speed", needs=("gpu",))
class ThermalCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        lb = dev.labels
        temp = dev.read("temperature", nv.nvmlDeviceGetTemperature, nv.NVML_TEMPERATURE_GPU)
        if temp is not None:
            out.add("gpuwatch_gpu_temperature_celsius", lb, float(temp))
        if "memory_temperature" not in dev.unsupported:
            fid = nv.NVML_FI_DEV_MEMORY_TEMP
            values = dev.read("field_values", nv.nvmlDeviceGetFieldValues, [fid])
            if values is None:
                dev.unsupported.add("memory_temperature")
            else:
                v = values[0]
                if v.nvmlReturn == nv.NVML_SUCCESS:
                    out.add("gpuwatch_gpu_memory_temperature_celsius", lb, float(_field_value(nv, v)))
                elif v.nvmlReturn in dev.codes.not_supported:
                    dev.unsupported.add("memory_temperature")
                else:
                    dev.failed("memory_temperature", nv.NVMLError(v.nvmlReturn))
        fan = dev.read("fan_speed", nv.nvmlDeviceGetFanSpeed)
        if fan is not None:
            out.add("gpuwatch_gpu_fan_speed_ratio", lb, fan / 100.0)
        return out


def _field_value(nv, v):
    t = v.valueType
    if t == nv.NVML_VALUE_TYPE_DOUBLE:
        return v.value.dVal
    if t == nv.NVML_VALUE_TYPE_UNSIGNED_LONG:
        return v.value.ulVal
    if t == nv.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
        return v.value.ullVal
    if t == nv.NVML_VALUE_TYPE_SIGNED_LONG_LONG:
        return v.value.sllVal
    if t == getattr(nv, "NVML_VALUE_TYPE_SIGNED_INT", 5):
        return v.value.siVal
    return v.value.uiVal
