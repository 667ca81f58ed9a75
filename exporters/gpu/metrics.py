"""Metric declarations of gpuwatch-gpu-exporter (part of the shared catalog).

Every series the exporter emits is declared here; collectors look their families up by name,
and a test checks that nothing undeclared comes out. Labels ``gpu`` (NVML index) and ``uuid``
are on every per-GPU series; static facts only on the ``*_info`` metrics.
"""

from ..catalog import MetricDef as M

GPU = ("gpu", "uuid")

METRICS = (
    # --- core (names fixed by issue 3) ---
    M("gpuwatch_nvml_up", "gauge", "1 when NVML is initialised and the driver answers."),
    M(
        "gpuwatch_gpu_info",
        "info",
        "Static facts about a GPU.",
        GPU + ("name", "pci_bus_id", "minor_number", "driver_version"),
    ),
    M("gpuwatch_gpu_up", "gauge", "1 when the last read of the GPU succeeded.", GPU),
    M("gpuwatch_gpu_utilization_ratio", "gauge", "GPU utilization (0-1).", GPU),
    M("gpuwatch_gpu_memory_used_bytes", "gauge", "Framebuffer memory used.", GPU),
    M("gpuwatch_gpu_memory_free_bytes", "gauge", "Framebuffer memory free.", GPU),
    M("gpuwatch_gpu_temperature_celsius", "gauge", "GPU core temperature.", GPU),
    M("gpuwatch_gpu_power_watts", "gauge", "Power draw.", GPU),
    M("gpuwatch_gpu_energy_joules_total", "counter", "Energy consumed since the driver loaded.", GPU),
    M("gpuwatch_gpu_xid_errors_total", "counter", "XID events by code.", GPU + ("xid",)),
    M(
        "gpuwatch_gpu_xid_events_total",
        "counter",
        "All XID events of the GPU (exists from start-up at 0).",
        GPU,
    ),
    M("gpuwatch_gpu_ecc_errors_total", "counter", "Aggregate ECC errors.", GPU + ("type",)),
    M("gpuwatch_gpu_job_info", "info", "1 for each Slurm job using the GPU.", GPU + ("job_id", "user")),
    # --- memory / utilization ---
    M("gpuwatch_gpu_memory_total_bytes", "gauge", "Framebuffer memory total.", GPU),
    M(
        "gpuwatch_gpu_memory_reserved_bytes",
        "gauge",
        "Framebuffer memory reserved by the driver and firmware.",
        GPU,
    ),
    M(
        "gpuwatch_gpu_memory_utilization_ratio",
        "gauge",
        "Fraction of the sample period the memory controller was busy (0-1).",
        GPU,
    ),
    M("gpuwatch_gpu_encoder_utilization_ratio", "gauge", "Video encoder utilization (0-1).", GPU),
    M("gpuwatch_gpu_decoder_utilization_ratio", "gauge", "Video decoder utilization (0-1).", GPU),
    # --- thermal / power / clocks ---
    M("gpuwatch_gpu_memory_temperature_celsius", "gauge", "HBM memory temperature.", GPU),
    M("gpuwatch_gpu_fan_speed_ratio", "gauge", "Fan speed as a fraction of its maximum (0-1).", GPU),
    M("gpuwatch_gpu_power_limit_watts", "gauge", "Enforced power limit.", GPU),
    M("gpuwatch_gpu_sm_clock_hertz", "gauge", "Current SM clock.", GPU),
    M("gpuwatch_gpu_memory_clock_hertz", "gauge", "Current memory clock.", GPU),
    M(
        "gpuwatch_gpu_clock_event_active",
        "gauge",
        "1 while the clock-event (throttle) reason holds the clocks down.",
        GPU + ("reason",),
    ),
    M("gpuwatch_gpu_performance_state", "gauge", "Performance state (0 = P0, fastest, to 15).", GPU),
    # --- memory health ---
    M("gpuwatch_gpu_retired_pages", "gauge", "Framebuffer pages retired, by cause.", GPU + ("cause",)),
    M(
        "gpuwatch_gpu_retired_pages_pending",
        "gauge",
        "1 when a page retirement waits for the next driver reload.",
        GPU,
    ),
    M(
        "gpuwatch_gpu_remapped_rows",
        "gauge",
        "Memory rows remapped, by the error type that caused it.",
        GPU + ("type",),
    ),
    M("gpuwatch_gpu_remapped_rows_pending", "gauge", "1 when a row remap waits for a GPU reset.", GPU),
    M(
        "gpuwatch_gpu_remapped_rows_failed",
        "gauge",
        "1 when a row remap failed (the GPU needs service).",
        GPU,
    ),
    # --- interconnect ---
    M("gpuwatch_gpu_pcie_replays_total", "counter", "PCIe replay counter.", GPU),
    M(
        "gpuwatch_gpu_pcie_throughput_bytes_per_second",
        "gauge",
        "PCIe throughput over NVML's 20 ms sample (collector pcie_throughput).",
        GPU + ("direction",),
    ),
    M("gpuwatch_gpu_nvlink_active", "gauge", "1 when the NVLink link is active.", GPU + ("link",)),
    M(
        "gpuwatch_gpu_nvlink_errors_total",
        "counter",
        "NVLink data-link errors summed over the GPU's links, by type.",
        GPU + ("type",),
    ),
    # --- MIG ---
    M("gpuwatch_gpu_mig_enabled", "gauge", "1 when MIG mode is enabled (current mode).", GPU),
    M(
        "gpuwatch_gpu_mig_info",
        "info",
        "One MIG device (GPU instance / compute instance) of the GPU.",
        GPU + ("gpu_instance_id", "compute_instance_id", "mig_uuid"),
    ),
    M(
        "gpuwatch_gpu_mig_memory_used_bytes",
        "gauge",
        "Memory used in a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
    ),
    M(
        "gpuwatch_gpu_mig_memory_total_bytes",
        "gauge",
        "Memory of a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
    ),
    # --- processes / jobs ---
    M("gpuwatch_gpu_processes", "gauge", "Compute processes running on the GPU.", GPU),
    M(
        "gpuwatch_gpu_job_memory_used_bytes",
        "gauge",
        "GPU memory used by the processes of a Slurm job.",
        GPU + ("job_id",),
    ),
    # --- GPM (collector gpm, Hopper and newer) ---
    M("gpuwatch_gpu_sm_active_ratio", "gauge", "Fraction of SMs busy (GPM, 0-1).", GPU),
    M(
        "gpuwatch_gpu_sm_occupancy_ratio",
        "gauge",
        "Active warps over the theoretical maximum (GPM, 0-1).",
        GPU,
    ),
    M(
        "gpuwatch_gpu_tensor_active_ratio",
        "gauge",
        "Fraction of time tensor cores were busy (GPM, 0-1).",
        GPU,
    ),
    M("gpuwatch_gpu_dram_active_ratio", "gauge", "DRAM bandwidth used over the maximum (GPM, 0-1).", GPU),
    # --- the exporter itself ---
    M("gpuwatch_gpu_read_duration_seconds", "gauge", "Duration of the last read of the GPU.", GPU),
    M(
        "gpuwatch_gpu_collector_success",
        "gauge",
        "1 when the collector's last run succeeded on every GPU it read.",
        ("collector",),
    ),
    M(
        "gpuwatch_gpu_collector_duration_seconds",
        "gauge",
        "Time the collector's last run took, summed over GPUs.",
        ("collector",),
    ),
    M("gpuwatch_gpu_collections_total", "counter", "Collection cycles run."),
    M(
        "gpuwatch_nvml_errors_total",
        "counter",
        "NVML errors by error name (NotSupported excluded), init failures included.",
        ("error",),
    ),
)
