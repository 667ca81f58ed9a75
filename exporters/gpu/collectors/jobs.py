"""Processes on each GPU and the Slurm jobs using it (see :mod:`gpuwatch.exporters.gpu.jobs`).

Per GPU (in the GPU's reader): NVML's compute processes, each resolved to a job through
``/proc/PID/cgroup`` or its environ. Per cycle (node): the environ scan for allocations and the
mapping folder. At render both are joined on the GPU's minor number / PCI bus id / UUID.
Per-job memory: processes resolved to a job count for that job; on a GPU allocated to exactly
one job, processes that cannot be resolved (host PIDs seen from a container) count for it too.
"""

from __future__ import annotations

import logging
import threading

from ...common.collector import CollectorError
from ...common.log import kv
from .. import jobs as J
from .base import COLLECTORS, Collector
from .mig import mig_state

log = logging.getLogger("gpuwatch.gpu.jobs")


@COLLECTORS.register(
    "jobs", default=True, help="GPU processes and Slurm job attribution (environ, cgroup, mapping folder)"
)
class JobsCollector(Collector):
    name = "jobs"

    def __init__(self, options):
        super().__init__(options)
        self.scanner = J.ProcScanner(options.proc_root)
        self._lock = threading.Lock()
        self._alloc: dict[str, J.Job] = {}
        self._mapping: dict[J.GpuRef, list[tuple[str, str]]] = {}
        self._mapping_error = ""
        self._mig: dict[str, frozenset[str]] = {}  # GPU uuid -> its MIG device UUIDs (lowercased), last seen

    def collect_gpu(self, dev, out, extras):
        nv = dev.nv
        _, migs = mig_state(dev, extras)
        mig_uuids = frozenset(u.lower() for _, u in migs if u)
        if dev.uuid:
            self._mig[dev.uuid] = mig_uuids
        procs = dev.read("processes", nv.nvmlDeviceGetComputeRunningProcesses)
        if procs is None:
            return
        out.add("gpuwatch_gpu_processes", dev.labels, float(len(procs)))
        resolved = []
        on = (dev.uuid, dev.minor, dev.pci_bus_id, mig_uuids)
        with self._lock:
            for p in procs:
                mem = p.usedGpuMemory if isinstance(getattr(p, "usedGpuMemory", None), int) else 0
                resolved.append((p.pid, mem, self.scanner.pid_job(p.pid, on)))
        extras["processes"] = resolved

    def collect_node(self, exporter):
        with self._lock:
            alloc = self.scanner.scan()
        mapping, err = {}, ""
        path = self.options.job_mapping_dir
        if path:
            try:
                mapping = J.read_mapping_dir(path)
            except OSError as exc:
                err = f"--gpu.job-mapping-dir {path}: {exc.strerror or exc}"
                if err != self._mapping_error:
                    kv(
                        log,
                        logging.WARNING,
                        "cannot read job mapping folder",
                        dir=path,
                        error=exc.strerror or exc,
                    )
        self._alloc, self._mapping, self._mapping_error = alloc, mapping, err

    def finish(self, view, out):
        alloc, mapping = self._alloc, self._mapping
        for dev in view.devices:
            if not dev.uuid:
                continue
            jobs: dict[str, str] = {}  # job id -> user
            migs = self._mig.get(dev.uuid, frozenset())
            for job in alloc.values():
                if any(J.matches(r, dev.uuid, dev.minor, dev.pci_bus_id, migs) for r in job.gpus):
                    jobs[job.job_id] = jobs.get(job.job_id) or job.user
            for ref, entries in mapping.items():
                if J.matches(ref, dev.uuid, dev.minor, dev.pci_bus_id, migs):
                    for job_id, user in entries:
                        jobs[job_id] = jobs.get(job_id) or user
            mem: dict[str, float] = {}
            snap = view.snapshots.get(dev.index)
            procs = snap.extras.get("processes", []) if snap is not None and snap.ok else []
            unresolved = 0.0
            for _pid, used, who in procs:
                if who is None:
                    unresolved += used
                    continue
                job_id, user = who
                jobs[job_id] = jobs.get(job_id) or user
                mem[job_id] = mem.get(job_id, 0.0) + used
            if unresolved and len(jobs) == 1:
                only = next(iter(jobs))
                mem[only] = mem.get(only, 0.0) + unresolved
            lb = dev.labels
            for job_id in sorted(jobs):
                out.add("gpuwatch_gpu_job_info", lb + (job_id, jobs[job_id]), 1.0)
            if procs:
                for job_id in sorted(mem):
                    out.add("gpuwatch_gpu_job_memory_used_bytes", lb + (job_id,), mem[job_id])
        if self._mapping_error:
            raise CollectorError(self._mapping_error)
