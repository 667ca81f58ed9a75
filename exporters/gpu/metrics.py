"""Metric declarations of gpuwatch-gpu-exporter (part of the shared catalog).

Every series the exporter emits is declared here; collectors look their families up by name,
and a test checks that nothing undeclared comes out. Labels ``gpu`` (NVML index) and ``uuid``
are on every per-GPU series; static facts only on the ``*_info`` metrics.
"""

from ..common.metric import MetricDef, index

GPU = ("gpu", "uuid")

METRICS = (
    # --- core (names fixed by issue 3) ---
    MetricDef("gpuwatch_nvml_up", "gauge", "1 when NVML is initialised and the driver answers."),
    MetricDef(
        "gpuwatch_gpu_info",
        "info",
        "Static facts about a GPU.",
        GPU + ("name", "pci_bus_id", "minor_number", "driver_version"),
    ),
    MetricDef("gpuwatch_gpu_up", "gauge", "1 when the last read of the GPU succeeded.", GPU),
    MetricDef("gpuwatch_gpu_utilization_ratio", "gauge", "GPU utilization (0-1).", GPU),
    MetricDef("gpuwatch_gpu_memory_used_bytes", "gauge", "Framebuffer memory used.", GPU),
    MetricDef("gpuwatch_gpu_memory_free_bytes", "gauge", "Framebuffer memory free.", GPU),
    MetricDef("gpuwatch_gpu_temperature_celsius", "gauge", "GPU core temperature.", GPU),
    MetricDef("gpuwatch_gpu_power_watts", "gauge", "Power draw.", GPU),
    MetricDef("gpuwatch_gpu_energy_joules_total", "counter", "Energy consumed since the driver loaded.", GPU),
    MetricDef("gpuwatch_gpu_xid_errors_total", "counter", "XID events by code.", GPU + ("xid",)),
    MetricDef(
        "gpuwatch_gpu_xid_events_total",
        "counter",
        "All XID events of the GPU (exists from start-up at 0).",
        GPU,
    ),
    MetricDef("gpuwatch_gpu_ecc_errors_total", "counter", "Aggregate ECC errors.", GPU + ("type",)),
    MetricDef(
        "gpuwatch_gpu_job_info", "info", "1 for each Slurm job using the GPU.", GPU + ("job_id", "user")
    ),
    # --- memory / utilization ---
    MetricDef("gpuwatch_gpu_memory_total_bytes", "gauge", "Framebuffer memory total.", GPU),
    MetricDef(
        "gpuwatch_gpu_memory_reserved_bytes",
        "gauge",
        "Framebuffer memory reserved by the driver and firmware.",
        GPU,
    ),
    MetricDef(
        "gpuwatch_gpu_memory_utilization_ratio",
        "gauge",
        "Fraction of the sample period the memory controller was busy (0-1).",
        GPU,
    ),
    MetricDef("gpuwatch_gpu_encoder_utilization_ratio", "gauge", "Video encoder utilization (0-1).", GPU),
    MetricDef("gpuwatch_gpu_decoder_utilization_ratio", "gauge", "Video decoder utilization (0-1).", GPU),
    # --- thermal / power / clocks ---
    MetricDef("gpuwatch_gpu_memory_temperature_celsius", "gauge", "HBM memory temperature.", GPU),
    MetricDef("gpuwatch_gpu_fan_speed_ratio", "gauge", "Fan speed as a fraction of its maximum (0-1).", GPU),
    MetricDef("gpuwatch_gpu_power_limit_watts", "gauge", "Enforced power limit.", GPU),
    MetricDef("gpuwatch_gpu_sm_clock_hertz", "gauge", "Current SM clock.", GPU),
    MetricDef("gpuwatch_gpu_memory_clock_hertz", "gauge", "Current memory clock.", GPU),
    MetricDef(
        "gpuwatch_gpu_clock_event_active",
        "gauge",
        "1 while the clock-event (throttle) reason holds the clocks down.",
        GPU + ("reason",),
    ),
    MetricDef("gpuwatch_gpu_performance_state", "gauge", "Performance state (0 = P0, fastest, to 15).", GPU),
    # --- memory health ---
    MetricDef(
        "gpuwatch_gpu_retired_pages", "gauge", "Framebuffer pages retired, by cause.", GPU + ("cause",)
    ),
    MetricDef(
        "gpuwatch_gpu_retired_pages_pending",
        "gauge",
        "1 when a page retirement waits for the next driver reload.",
        GPU,
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows",
        "gauge",
        "Memory rows remapped, by the error type that caused it.",
        GPU + ("type",),
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows_pending", "gauge", "1 when a row remap waits for a GPU reset.", GPU
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows_failed",
        "gauge",
        "1 when a row remap failed (the GPU needs service).",
        GPU,
    ),
    # --- interconnect ---
    MetricDef("gpuwatch_gpu_pcie_replays_total", "counter", "PCIe replay counter.", GPU),
    MetricDef(
        "gpuwatch_gpu_pcie_throughput_bytes_per_second",
        "gauge",
        "PCIe throughput over NVML's 20 ms sample (collector pcie_throughput).",
        GPU + ("direction",),
    ),
    MetricDef("gpuwatch_gpu_nvlink_active", "gauge", "1 when the NVLink link is active.", GPU + ("link",)),
    MetricDef(
        "gpuwatch_gpu_nvlink_errors_total",
        "counter",
        "NVLink data-link errors summed over the GPU's links, by type.",
        GPU + ("type",),
    ),
    # --- MIG ---
    MetricDef("gpuwatch_gpu_mig_enabled", "gauge", "1 when MIG mode is enabled (current mode).", GPU),
    MetricDef(
        "gpuwatch_gpu_mig_info",
        "info",
        "One MIG device (GPU instance / compute instance) of the GPU.",
        GPU + ("gpu_instance_id", "compute_instance_id", "mig_uuid"),
    ),
    MetricDef(
        "gpuwatch_gpu_mig_memory_used_bytes",
        "gauge",
        "Memory used in a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
    ),
    MetricDef(
        "gpuwatch_gpu_mig_memory_total_bytes",
        "gauge",
        "Memory of a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
    ),
    # --- processes / jobs ---
    MetricDef("gpuwatch_gpu_processes", "gauge", "Compute processes running on the GPU.", GPU),
    MetricDef(
        "gpuwatch_gpu_job_memory_used_bytes",
        "gauge",
        "GPU memory used by the processes of a Slurm job.",
        GPU + ("job_id",),
    ),
    # --- GPM (collector gpm, Hopper and newer) ---
    MetricDef("gpuwatch_gpu_sm_active_ratio", "gauge", "Fraction of SMs busy (GPM, 0-1).", GPU),
    MetricDef(
        "gpuwatch_gpu_sm_occupancy_ratio",
        "gauge",
        "Active warps over the theoretical maximum (GPM, 0-1).",
        GPU,
    ),
    MetricDef(
        "gpuwatch_gpu_tensor_active_ratio",
        "gauge",
        "Fraction of time tensor cores were busy (GPM, 0-1).",
        GPU,
    ),
    MetricDef(
        "gpuwatch_gpu_dram_active_ratio", "gauge", "DRAM bandwidth used over the maximum (GPM, 0-1).", GPU
    ),
    # --- the exporter itself ---
    MetricDef("gpuwatch_gpu_read_duration_seconds", "gauge", "Duration of the last read of the GPU.", GPU),
    MetricDef(
        "gpuwatch_gpu_collector_success",
        "gauge",
        "1 when the collector's last run succeeded on every GPU it read.",
        ("collector",),
    ),
    MetricDef(
        "gpuwatch_gpu_collector_duration_seconds",
        "gauge",
        "Time the collector's last run took, summed over GPUs.",
        ("collector",),
    ),
    MetricDef("gpuwatch_gpu_collections_total", "counter", "Collection cycles run."),
    MetricDef(
        "gpuwatch_nvml_errors_total",
        "counter",
        "NVML errors by error name (NotSupported excluded), init failures included.",
        ("error",),
    ),
)

DEFS = index(METRICS)
