"""Metric declarations of gpuwatch-slurm-exporter (part of the shared catalog).

Every series the exporter emits is declared here; collectors build their families from these
declarations (:func:`family`) and a test checks that nothing undeclared comes out.
"""

from ..common.metric import MetricDef, MetricFamily

_NODE = ("node",)
_PART = ("partition",)

METRICS = (
    # --- core (names fixed by the issue) -------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_up",
        "gauge",
        "1 when slurmctld answered the last collection cycle and that cycle is current, else 0.",
        doc="Current: younger than `--slurm.stale-after`; before the first cycle completes the value is 0. 0 means a timeout or connection failure; parse failures do not count here (they show in `gpuwatch_slurm_collector_success`).",
    ),
    MetricDef(
        "gpuwatch_slurm_collections_total",
        "counter",
        "Background collection cycles run.",
        doc="One per `--slurm.poll-interval`, whatever the number of scrapes.",
    ),
    MetricDef(
        "gpuwatch_slurm_collector_success",
        "gauge",
        "1 when the collector's last run succeeded.",
        ("collector",),
    ),
    MetricDef(
        "gpuwatch_slurm_collector_duration_seconds",
        "gauge",
        "Duration of the collector's last run.",
        ("collector",),
    ),
    MetricDef(
        "gpuwatch_slurm_node_state",
        "gauge",
        "1 for the node's base state.",
        ("node", "state"),
        collector="nodes",
        doc="States: idle, mixed, allocated, down, future, unknown, error; an unknown future state appears as its own lowercased word.",
    ),
    MetricDef(
        "gpuwatch_slurm_node_flag",
        "gauge",
        "1 for each active state flag of the node.",
        ("node", "flag"),
        collector="nodes",
        doc="Flags, lowercased: drain, completing, not_responding, powered_down, powering_up, powering_down, maint, reserved, fail, planned, reboot_requested, reboot_issued, cloud, invalid, ...",
    ),
    MetricDef(
        "gpuwatch_slurm_nodes",
        "gauge",
        "Nodes per base state.",
        ("state",),
        collector="nodes",
        doc="All base states are always present, 0 when none.",
    ),
    MetricDef(
        "gpuwatch_slurm_node_cpus",
        "gauge",
        "Node CPUs by state allocated, idle or other.",
        ("node", "state"),
        collector="nodes",
        doc="other: CPUs of a down or drained node. The sum is the configured CPUs.",
    ),
    MetricDef(
        "gpuwatch_slurm_node_gpus",
        "gauge",
        "Node GPUs from GRES by state allocated, idle or other.",
        ("node", "state"),
        collector="nodes",
        doc="Typed GRES (gpu:h100:8) included. other: free GPUs on a node that cannot take jobs (drained, down, failing, not responding, powered down). The sum is the configured GPUs.",
    ),
    MetricDef(
        "gpuwatch_slurm_jobs",
        "gauge",
        "Jobs per partition and state, each array task counted.",
        ("partition", "state"),
        collector="jobs",
        doc="States: pending, running, suspended, completing, ... A job pending in several partitions keeps Slurm's a,b partition value.",
    ),
    MetricDef(
        "gpuwatch_slurm_jobs_pending",
        "gauge",
        "Pending jobs per partition and reason, each array task counted.",
        ("partition", "reason"),
        collector="jobs",
        doc="Reasons are normalised to Slurm's short reason names (Priority, Resources, ReqNodeNotAvail, ...); Other when unrecognised.",
    ),
    # --- exporter self-monitoring --------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_collector_errors_total",
        "counter",
        "Collector failures by kind.",
        ("collector", "kind"),
        doc="Kinds: timeout (command killed), command (non-zero exit or missing program), parse (output not understood), internal.",
    ),
    MetricDef(
        "gpuwatch_slurm_bad_lines_total",
        "counter",
        "Output lines skipped because they could not be parsed.",
        ("command",),
    ),
    MetricDef(
        "gpuwatch_slurm_command_duration_seconds",
        "gauge",
        "Wall time of the command's last run in the collection cycle.",
        ("command",),
    ),
    MetricDef(
        "gpuwatch_slurm_commands",
        "gauge",
        "Slurm client commands run in the last collection cycle.",
    ),
    MetricDef(
        "gpuwatch_slurm_collection_duration_seconds",
        "gauge",
        "Duration of the last collection cycle.",
    ),
    MetricDef(
        "gpuwatch_slurm_last_collection_timestamp_seconds",
        "gauge",
        "Unix time the last collection cycle finished.",
        doc="For staleness checks; kept in the degraded body served while the data is stale.",
    ),
    MetricDef(
        "gpuwatch_slurm_collection_failures_total",
        "counter",
        "Collection cycles that raised an unexpected error and produced no new data.",
    ),
    MetricDef(
        "gpuwatch_slurm_poller_restarts_total",
        "counter",
        "Times the background poller thread was found dead and restarted.",
    ),
    MetricDef(
        "gpuwatch_slurm_stale_after_seconds",
        "gauge",
        "Age of the last completed cycle past which the data counts as stale.",
        doc="Past it, scrapes get `gpuwatch_slurm_up 0` and no Slurm series (`--slurm.stale-after`).",
    ),
    # --- nodes ---------------------------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_node_memory_bytes",
        "gauge",
        "Memory configured for Slurm on the node (RealMemory).",
        _NODE,
        collector="nodes",
    ),
    MetricDef(
        "gpuwatch_slurm_node_memory_allocated_bytes",
        "gauge",
        "Memory allocated to jobs on the node.",
        _NODE,
        collector="nodes",
    ),
    MetricDef(
        "gpuwatch_slurm_node_memory_free_bytes",
        "gauge",
        "Free memory the node's OS reports.",
        _NODE,
        collector="nodes",
    ),
    MetricDef(
        "gpuwatch_slurm_node_info",
        "info",
        "Static node facts: partitions and configured GRES.",
        ("node", "partitions", "gres"),
        collector="nodes",
    ),
    MetricDef(
        "gpuwatch_slurm_node_reason_info",
        "info",
        "The reason set on a drained/down/failed node.",
        ("node", "reason"),
        collector="nodes",
    ),
    MetricDef(
        "gpuwatch_slurm_node_reason_timestamp_seconds",
        "gauge",
        "Unix time the node's reason was set.",
        _NODE,
        collector="nodes",
    ),
    # --- partitions ----------------------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_partition_info",
        "info",
        "Partition facts.",
        ("partition", "default"),
        collector="partitions",
        doc="`default` is true for the default partition.",
    ),
    MetricDef(
        "gpuwatch_slurm_partition_state",
        "gauge",
        "1 for the partition's state (up, down, drain, inact).",
        ("partition", "state"),
        collector="partitions",
    ),
    MetricDef(
        "gpuwatch_slurm_partition_max_time_seconds",
        "gauge",
        "Partition MaxTime.",
        _PART,
        collector="partitions",
        doc="+Inf when unlimited.",
    ),
    MetricDef(
        "gpuwatch_slurm_partition_nodes",
        "gauge",
        "Nodes in the partition per base state.",
        ("partition", "state"),
        collector="partitions",
    ),
    MetricDef(
        "gpuwatch_slurm_partition_cpus",
        "gauge",
        "CPUs in the partition by allocation state.",
        ("partition", "state"),
        collector="partitions",
    ),
    MetricDef(
        "gpuwatch_slurm_partition_gpus",
        "gauge",
        "GPUs in the partition by allocation state.",
        ("partition", "state"),
        collector="partitions",
    ),
    # --- jobs ----------------------------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_job_cpus",
        "gauge",
        "CPUs of pending/running jobs per partition and state.",
        ("partition", "state"),
        collector="jobs",
    ),
    MetricDef(
        "gpuwatch_slurm_job_gpus",
        "gauge",
        "GPUs held (running) or requested (pending) per partition and state.",
        ("partition", "state"),
        collector="jobs",
        doc="Requests are read from --gres, --gpus, --gpus-per-node and --gpus-per-task.",
    ),
    MetricDef(
        "gpuwatch_slurm_pending_job_oldest_age_seconds",
        "gauge",
        "Age since eligibility of the oldest job pending for resources or priority.",
        _PART,
        collector="jobs",
        doc="Jobs waiting on a dependency, a begin time or a hold do not count; 0 when none.",
    ),
    MetricDef(
        "gpuwatch_slurm_jobs_finished_total",
        "counter",
        "Jobs that finished since the exporter started, by partition and end state, each counted once.",
        ("partition", "state"),
        collector="jobs",
    ),
    # --- scheduler (sdiag) ---------------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_scheduler_threads", "gauge", "slurmctld server threads.", collector="scheduler"
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_agent_queue_size",
        "gauge",
        "slurmctld agent queue size (outgoing RPCs).",
        collector="scheduler",
    ),
    MetricDef("gpuwatch_slurm_scheduler_agents", "gauge", "slurmctld agent count.", collector="scheduler"),
    MetricDef(
        "gpuwatch_slurm_scheduler_agent_threads", "gauge", "slurmctld agent threads.", collector="scheduler"
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_dbd_agent_queue_size",
        "gauge",
        "Messages queued for slurmdbd.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_jobs_total",
        "counter",
        "Job events counted by slurmctld since its statistics reset.",
        ("event",),
        collector="scheduler",
        doc="slurmctld resets its statistics daily, or on `sdiag -r`.",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_cycle_last_seconds",
        "gauge",
        "Main scheduler: last cycle duration.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_cycle_max_seconds",
        "gauge",
        "Main scheduler: longest cycle since reset.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_cycle_mean_seconds",
        "gauge",
        "Main scheduler: mean cycle duration.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_cycles_total",
        "counter",
        "Main scheduler cycles since statistics reset.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_cycle_mean_depth",
        "gauge",
        "Main scheduler: mean jobs examined per cycle.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_queue_length",
        "gauge",
        "Main scheduler: last queue length.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_jobs_total",
        "counter",
        "Jobs started by backfill since slurmctld start.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_cycle_last_seconds",
        "gauge",
        "Backfill: last cycle duration.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_cycle_max_seconds",
        "gauge",
        "Backfill: longest cycle since reset.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_cycle_mean_seconds",
        "gauge",
        "Backfill: mean cycle duration.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_cycles_total",
        "counter",
        "Backfill cycles since statistics reset.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_last_depth",
        "gauge",
        "Backfill: jobs examined in the last cycle.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_queue_length", "gauge", "Backfill: last queue length.", collector="scheduler"
    ),
    MetricDef(
        "gpuwatch_slurm_backfill_last_cycle_timestamp_seconds",
        "gauge",
        "Unix time of the last backfill cycle.",
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_rpc_total",
        "counter",
        "RPCs slurmctld served by message type (sdiag).",
        ("type",),
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_rpc_duration_seconds_total",
        "counter",
        "Time slurmctld spent on RPCs by message type.",
        ("type",),
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_rpc_user_total",
        "counter",
        "RPCs slurmctld served by user (sdiag).",
        ("user",),
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_rpc_user_duration_seconds_total",
        "counter",
        "Time slurmctld spent on a user's RPCs.",
        ("user",),
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_rpc_pending",
        "gauge",
        "RPCs queued in slurmctld by message type.",
        ("type",),
        collector="scheduler",
    ),
    MetricDef(
        "gpuwatch_slurm_scheduler_stats_reset_timestamp_seconds",
        "gauge",
        "Unix time slurmctld's sdiag statistics were last reset.",
        collector="scheduler",
    ),
    # --- fairshare (sshare, off by default) ----------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_fairshare",
        "gauge",
        "Fair-share factor (0..1) per account and user.",
        ("account", "user"),
        collector="fairshare",
    ),
    MetricDef(
        "gpuwatch_slurm_share_normalized",
        "gauge",
        "Normalised shares per account and user.",
        ("account", "user"),
        collector="fairshare",
    ),
    MetricDef(
        "gpuwatch_slurm_share_effective_usage",
        "gauge",
        "Effective usage per account and user.",
        ("account", "user"),
        collector="fairshare",
    ),
    MetricDef(
        "gpuwatch_slurm_share_raw_usage",
        "gauge",
        "Raw decayed usage per account and user.",
        ("account", "user"),
        collector="fairshare",
    ),
    # --- licenses (off by default) -------------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_license_configured",
        "gauge",
        "Licenses configured (Total).",
        ("license",),
        collector="licenses",
    ),
    MetricDef("gpuwatch_slurm_license_used", "gauge", "Licenses in use.", ("license",), collector="licenses"),
    MetricDef("gpuwatch_slurm_license_free", "gauge", "Licenses free.", ("license",), collector="licenses"),
    MetricDef(
        "gpuwatch_slurm_license_reserved", "gauge", "Licenses reserved.", ("license",), collector="licenses"
    ),
    # --- reservations (off by default) ---------------------------------------------------------
    MetricDef(
        "gpuwatch_slurm_reservation_info",
        "info",
        "A reservation and its state.",
        ("reservation", "state", "partition", "flags"),
        collector="reservations",
    ),
    MetricDef(
        "gpuwatch_slurm_reservation_nodes",
        "gauge",
        "Nodes in the reservation.",
        ("reservation",),
        collector="reservations",
    ),
    MetricDef(
        "gpuwatch_slurm_reservation_cores",
        "gauge",
        "Cores in the reservation.",
        ("reservation",),
        collector="reservations",
    ),
    MetricDef(
        "gpuwatch_slurm_reservation_start_timestamp_seconds",
        "gauge",
        "Reservation start.",
        ("reservation",),
        collector="reservations",
    ),
    MetricDef(
        "gpuwatch_slurm_reservation_end_timestamp_seconds",
        "gauge",
        "Reservation end.",
        ("reservation",),
        collector="reservations",
    ),
    # --- users / accounts (off by default: high cardinality) -----------------------------------
    MetricDef(
        "gpuwatch_slurm_user_jobs",
        "gauge",
        "Pending/running jobs per user.",
        ("user", "state"),
        collector="users",
        doc="Off by default: one series per user (high cardinality).",
    ),
    MetricDef(
        "gpuwatch_slurm_user_cpus",
        "gauge",
        "CPUs of pending/running jobs per user.",
        ("user", "state"),
        collector="users",
    ),
    MetricDef(
        "gpuwatch_slurm_user_gpus",
        "gauge",
        "GPUs of pending/running jobs per user.",
        ("user", "state"),
        collector="users",
    ),
    MetricDef(
        "gpuwatch_slurm_account_jobs",
        "gauge",
        "Pending/running jobs per account.",
        ("account", "state"),
        collector="users",
    ),
    MetricDef(
        "gpuwatch_slurm_account_cpus",
        "gauge",
        "CPUs of pending/running jobs per account.",
        ("account", "state"),
        collector="users",
    ),
    MetricDef(
        "gpuwatch_slurm_account_gpus",
        "gauge",
        "GPUs of pending/running jobs per account.",
        ("account", "state"),
        collector="users",
    ),
)

BY_NAME = {m.name: m for m in METRICS}


def family(name: str) -> MetricFamily:
    """A fresh, empty family for the declared metric ``name`` (labels and help from the catalog)."""
    return MetricFamily(BY_NAME[name])
