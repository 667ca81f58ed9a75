"""Metric declarations of gpuwatch-slurm-exporter (part of the shared catalog)."""

from ..catalog import MetricDef as M

METRICS = (
    M("gpuwatch_slurm_up", "gauge", "1 when slurmctld answered the last collection cycle, else 0."),
    M("gpuwatch_slurm_collections_total", "counter", "Collection cycles run."),
    M("gpuwatch_slurm_collector_success", "gauge", "1 when the collector's last run succeeded.", ("collector",)),
    M("gpuwatch_slurm_collector_duration_seconds", "gauge", "Duration of the collector's last run.", ("collector",)),
    M("gpuwatch_slurm_node_state", "gauge", "1 for the node's base state.", ("node", "state")),
    M("gpuwatch_slurm_node_flag", "gauge", "1 for each active node state flag.", ("node", "flag")),
    M("gpuwatch_slurm_nodes", "gauge", "Nodes per base state.", ("state",)),
    M("gpuwatch_slurm_node_cpus", "gauge", "Node CPUs by allocation state.", ("node", "state")),
    M("gpuwatch_slurm_node_gpus", "gauge", "Node GPUs (GRES) by allocation state.", ("node", "state")),
    M("gpuwatch_slurm_jobs", "gauge", "Jobs (array tasks counted) per partition and state.", ("partition", "state")),
    M("gpuwatch_slurm_jobs_pending", "gauge", "Pending jobs per partition and reason.", ("partition", "reason")),
    # used by the default alert pack (rules/pack): drain reasons, queue age, job outcomes
    M("gpuwatch_slurm_node_reason_info", "info", "1 for a node's drain/down reason as Slurm reports it.", ("node", "reason", "user")),
    M("gpuwatch_slurm_partition_oldest_pending_job_age_seconds", "gauge",
      "Age of the oldest job pending for resources (not dependency, begin time or hold) per partition.", ("partition",)),
    M("gpuwatch_slurm_jobs_finished_total", "counter", "Jobs finished, by partition and end state, each counted once.", ("partition", "state")),
)
