"""Metric declarations of gpuwatch-gpu-exporter (part of the shared catalog)."""

from ..catalog import MetricDef as M

GPU = ("gpu", "uuid")

METRICS = (
    M("gpuwatch_nvml_up", "gauge", "1 when NVML is initialised and the driver answers."),
    M("gpuwatch_gpu_info", "info", "Static facts about a GPU.", GPU + ("name", "pci_bus_id", "minor_number", "driver_version")),
    M("gpuwatch_gpu_up", "gauge", "1 when the last read of the GPU succeeded.", GPU),
    M("gpuwatch_gpu_utilization_ratio", "gauge", "GPU utilization (0-1).", GPU),
    M("gpuwatch_gpu_memory_used_bytes", "gauge", "Framebuffer memory used.", GPU),
    M("gpuwatch_gpu_memory_free_bytes", "gauge", "Framebuffer memory free.", GPU),
    M("gpuwatch_gpu_temperature_celsius", "gauge", "GPU core temperature.", GPU),
    M("gpuwatch_gpu_power_watts", "gauge", "Power draw.", GPU),
    M("gpuwatch_gpu_energy_joules_total", "counter", "Energy consumed since the driver loaded.", GPU),
    M("gpuwatch_gpu_xid_errors_total", "counter", "XID events by code.", GPU + ("xid",)),
    M("gpuwatch_gpu_xid_events_total", "counter", "All XID events of the GPU (exists from start-up at 0).", GPU),
    M("gpuwatch_gpu_ecc_errors_total", "counter", "Aggregate ECC errors.", GPU + ("type",)),
    M("gpuwatch_gpu_job_info", "info", "1 for each Slurm job using the GPU.", GPU + ("job_id", "user")),
    # used by the default alert pack (rules/pack): clock-event reasons and row remapping
    M("gpuwatch_gpu_clock_event_active", "gauge", "1 while the clock-event (throttle) reason is active.", GPU + ("reason",)),
    M("gpuwatch_gpu_row_remap_pending", "gauge", "1 when a row remapping waits for a GPU reset.", GPU),
    M("gpuwatch_gpu_row_remap_failure", "gauge", "1 when a row remapping failed (the GPU needs service).", GPU),
)
