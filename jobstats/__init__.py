"""gpuwatch-jobstats: per-job and per-user GPU efficiency and cost, read from Prometheus.

The data are the GPU exporter's series (``gpuwatch_gpu_job_info{job_id,user}`` says which job
holds which GPU; utilisation, memory, power, energy and XID series say how it was used) and the
target labels Prometheus adds (``node``, ``pod``, ``hourly_cost_usd``). See docs/jobstats.md.
"""
