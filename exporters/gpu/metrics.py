"""Metric declarations of gpuwatch-gpu-exporter (part of the shared catalog).

Every series the exporter emits is declared here; collectors look their families up by name,
and a test checks that nothing undeclared comes out. Labels ``gpu`` (NVML index) and ``uuid``
are on every per-GPU series; static facts only on the ``*_info`` metrics.
"""

from ..common.metric import MetricDef, index

GPU = ("gpu", "uuid")

METRICS = (
    # --- core (names fixed by issue 3) ---
    MetricDef(
        "gpuwatch_nvml_up",
        "gauge",
        "1 when NVML is initialised and the driver answers.",
        doc="No `gpu`/`uuid` labels.",
    ),
    MetricDef(
        "gpuwatch_node_hourly_cost_usd",
        "gauge",
        "Price of the whole node (pod) in US dollars per hour, from --gpu.hourly-cost-usd.",
        doc="Only when `--gpu.hourly-cost-usd` is set; no `gpu`/`uuid` labels. A GPU's share is this "
        "divided by the node's GPUs (`count by (instance) (gpuwatch_gpu_info)`); the pack records "
        "per-job and per-user cost from it (docs/jobstats.md).",
    ),
    MetricDef(
        "gpuwatch_gpu_info",
        "info",
        "Static facts about a GPU.",
        GPU + ("name", "pci_bus_id", "minor_number", "driver_version"),
        doc="Value 1.",
    ),
    MetricDef(
        "gpuwatch_gpu_up",
        "gauge",
        "1 when the last read of the GPU succeeded.",
        GPU,
        doc="Absent for a moment right after NVML init, until the GPU's first read.",
    ),
    MetricDef(
        "gpuwatch_gpu_utilization_ratio", "gauge", "GPU utilization (0-1).", GPU, collector="utilization"
    ),
    MetricDef("gpuwatch_gpu_memory_used_bytes", "gauge", "Framebuffer memory used.", GPU, collector="memory"),
    MetricDef("gpuwatch_gpu_memory_free_bytes", "gauge", "Framebuffer memory free.", GPU, collector="memory"),
    MetricDef("gpuwatch_gpu_temperature_celsius", "gauge", "GPU core temperature.", GPU, collector="thermal"),
    MetricDef("gpuwatch_gpu_power_watts", "gauge", "Power draw.", GPU, collector="power"),
    MetricDef(
        "gpuwatch_gpu_energy_joules_total",
        "counter",
        "Energy consumed since the driver loaded.",
        GPU,
        collector="power",
    ),
    MetricDef(
        "gpuwatch_gpu_xid_errors_total",
        "counter",
        "XID events by code.",
        GPU + ("xid",),
        collector="xid",
        doc="A code's series appears with its first event.",
    ),
    MetricDef(
        "gpuwatch_gpu_xid_events_total",
        "counter",
        "All XID events of the GPU.",
        GPU,
        collector="xid",
        doc="Exists at 0 from start-up, so `increase()` sees the first one.",
    ),
    MetricDef(
        "gpuwatch_gpu_ecc_errors_total",
        "counter",
        "Aggregate ECC errors.",
        GPU + ("type",),
        collector="ecc",
        doc="type: corrected, uncorrected.",
    ),
    MetricDef(
        "gpuwatch_gpu_job_info",
        "info",
        "1 for each Slurm job using the GPU.",
        GPU + ("job_id", "user"),
        collector="jobs",
        doc="`user` is empty when only a mapping file names the job.",
    ),
    # --- memory / utilization ---
    MetricDef(
        "gpuwatch_gpu_memory_total_bytes", "gauge", "Framebuffer memory total.", GPU, collector="memory"
    ),
    MetricDef(
        "gpuwatch_gpu_memory_reserved_bytes",
        "gauge",
        "Framebuffer memory reserved by the driver and firmware.",
        GPU,
        collector="memory",
        doc="Drivers with `nvmlDeviceGetMemoryInfo_v2`.",
    ),
    MetricDef(
        "gpuwatch_gpu_memory_utilization_ratio",
        "gauge",
        "Fraction of the sample period the memory controller was busy (0-1).",
        GPU,
        collector="utilization",
    ),
    MetricDef(
        "gpuwatch_gpu_encoder_utilization_ratio",
        "gauge",
        "Video encoder utilization (0-1).",
        GPU,
        collector="media",
    ),
    MetricDef(
        "gpuwatch_gpu_decoder_utilization_ratio",
        "gauge",
        "Video decoder utilization (0-1).",
        GPU,
        collector="media",
    ),
    # --- thermal / power / clocks ---
    MetricDef(
        "gpuwatch_gpu_memory_temperature_celsius",
        "gauge",
        "HBM memory temperature.",
        GPU,
        collector="thermal",
    ),
    MetricDef(
        "gpuwatch_gpu_fan_speed_ratio",
        "gauge",
        "Fan speed as a fraction of its maximum (0-1).",
        GPU,
        collector="thermal",
        doc="Absent on passively cooled boards.",
    ),
    MetricDef("gpuwatch_gpu_power_limit_watts", "gauge", "Enforced power limit.", GPU, collector="power"),
    MetricDef("gpuwatch_gpu_sm_clock_hertz", "gauge", "Current SM clock.", GPU, collector="clocks"),
    MetricDef("gpuwatch_gpu_memory_clock_hertz", "gauge", "Current memory clock.", GPU, collector="clocks"),
    MetricDef(
        "gpuwatch_gpu_clock_event_active",
        "gauge",
        "1 while the clock-event (throttle) reason holds the clocks down.",
        GPU + ("reason",),
        collector="clocks",
        doc="Reasons: gpu_idle, applications_clocks_setting, sw_power_cap, hw_slowdown, sync_boost, sw_thermal_slowdown, hw_thermal_slowdown, hw_power_brake_slowdown, display_clock_setting.",
    ),
    MetricDef(
        "gpuwatch_gpu_performance_state",
        "gauge",
        "Performance state (0 = P0, fastest, to 15).",
        GPU,
        collector="clocks",
    ),
    # --- memory health ---
    MetricDef(
        "gpuwatch_gpu_retired_pages",
        "gauge",
        "Framebuffer pages retired, by cause.",
        GPU + ("cause",),
        collector="ecc",
        doc="cause: multiple_single_bit_ecc, double_bit_ecc. Pre-Ampere GPUs.",
    ),
    MetricDef(
        "gpuwatch_gpu_retired_pages_pending",
        "gauge",
        "1 when a page retirement waits for the next driver reload.",
        GPU,
        collector="ecc",
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows",
        "gauge",
        "Memory rows remapped, by the error type that caused it.",
        GPU + ("type",),
        collector="ecc",
        doc="type: correctable, uncorrectable. Ampere and newer.",
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows_pending",
        "gauge",
        "1 when a row remap waits for a GPU reset.",
        GPU,
        collector="ecc",
    ),
    MetricDef(
        "gpuwatch_gpu_remapped_rows_failed",
        "gauge",
        "1 when a row remap failed.",
        GPU,
        collector="ecc",
        doc="The GPU needs service.",
    ),
    # --- interconnect ---
    MetricDef("gpuwatch_gpu_pcie_replays_total", "counter", "PCIe replay counter.", GPU, collector="pcie"),
    MetricDef(
        "gpuwatch_gpu_pcie_throughput_bytes_per_second",
        "gauge",
        "PCIe throughput over NVML's 20 ms sample.",
        GPU + ("direction",),
        collector="pcie_throughput",
        doc="direction: tx, rx.",
    ),
    MetricDef(
        "gpuwatch_gpu_nvlink_active",
        "gauge",
        "1 when the NVLink link is active.",
        GPU + ("link",),
        collector="nvlink",
    ),
    MetricDef(
        "gpuwatch_gpu_nvlink_errors_total",
        "counter",
        "NVLink data-link errors summed over the GPU's links, by type.",
        GPU + ("type",),
        collector="nvlink",
        doc="type: replay, recovery, crc_flit, crc_data. Monotonic: each link adds the increase of its own raw counter (a lower raw value is that link's reset), and a link that stops answering keeps what it added, so the sum never goes down while the exporter runs (NVML re-inits included).",
    ),
    # --- MIG ---
    MetricDef(
        "gpuwatch_gpu_mig_enabled",
        "gauge",
        "1 when MIG mode is enabled.",
        GPU,
        collector="mig",
        doc="Current mode; absent on GPUs without MIG.",
    ),
    MetricDef(
        "gpuwatch_gpu_mig_info",
        "info",
        "One MIG device (GPU instance / compute instance) of the GPU.",
        GPU + ("gpu_instance_id", "compute_instance_id", "mig_uuid"),
        collector="mig",
    ),
    MetricDef(
        "gpuwatch_gpu_mig_memory_used_bytes",
        "gauge",
        "Memory used in a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
        collector="mig",
    ),
    MetricDef(
        "gpuwatch_gpu_mig_memory_total_bytes",
        "gauge",
        "Memory of a MIG device.",
        GPU + ("gpu_instance_id", "compute_instance_id"),
        collector="mig",
    ),
    # --- processes / jobs ---
    MetricDef(
        "gpuwatch_gpu_processes", "gauge", "Compute processes running on the GPU.", GPU, collector="jobs"
    ),
    MetricDef(
        "gpuwatch_gpu_job_memory_used_bytes",
        "gauge",
        "GPU memory used by the processes of a Slurm job.",
        GPU + ("job_id",),
        collector="jobs",
    ),
    # --- GPM (collector gpm, Hopper and newer) ---
    MetricDef(
        "gpuwatch_gpu_sm_active_ratio", "gauge", "Fraction of SMs busy (GPM, 0-1).", GPU, collector="gpm"
    ),
    MetricDef(
        "gpuwatch_gpu_sm_occupancy_ratio",
        "gauge",
        "Active warps over the theoretical maximum (GPM, 0-1).",
        GPU,
        collector="gpm",
    ),
    MetricDef(
        "gpuwatch_gpu_tensor_active_ratio",
        "gauge",
        "Fraction of time tensor cores were busy (GPM, 0-1).",
        GPU,
        collector="gpm",
    ),
    MetricDef(
        "gpuwatch_gpu_dram_active_ratio",
        "gauge",
        "DRAM bandwidth used over the maximum (GPM, 0-1).",
        GPU,
        collector="gpm",
    ),
    # --- the exporter itself ---
    MetricDef(
        "gpuwatch_gpu_read_duration_seconds",
        "gauge",
        "Duration of the last read of the GPU.",
        GPU,
    ),
    MetricDef(
        "gpuwatch_gpu_collector_success",
        "gauge",
        "1 when the collector's last run succeeded on every GPU it read.",
        ("collector",),
        doc="No `gpu`/`uuid` labels.",
    ),
    MetricDef(
        "gpuwatch_gpu_collector_duration_seconds",
        "gauge",
        "Time the collector's last run took, summed over GPUs.",
        ("collector",),
        doc="No `gpu`/`uuid` labels.",
    ),
    MetricDef("gpuwatch_gpu_collections_total", "counter", "Collection cycles run.", collector=""),
    MetricDef(
        "gpuwatch_nvml_errors_total",
        "counter",
        "NVML errors by error name, init failures included.",
        ("error",),
        doc="Names: GpuIsLost, Timeout, DriverNotLoaded, ModuleNotFound, ...; common names exist at 0 from start-up; NotSupported is not an error (the field is absent instead).",
    ),
)

DEFS = index(METRICS)
