"""Processes on each GPU and the Slurm jobs using it (see :mod:`gpuwatch.exporters.gpu.attribution`).

Stage "gpu" (in the GPU's reader): NVML's compute processes, each resolved to a job through
``/proc/PID/cgroup`` or its environ. Stage "node" (once per cycle): the environ scan for
allocations and the mapping folder. Stage "render": both joined on the GPU's minor number / PCI
bus id / UUID.
Per-job memory: processes resolved to a job count for that job; on a GPU allocated to exactly
one job, processes that cannot be resolved (host PIDs seen from a container) count for it too.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from ...common.collector import CollectorError
from ...common.log import kv
from ...common.metric import Families
from .. import attribution
from .base import COLLECTORS, GpuCollector, GpuRead, NodeCycle, Options, View
from .mig import mig_state

log = logging.getLogger("gpuwatch.gpu.jobs")


@COLLECTORS.register(
    "jobs",
    default=True,
    help="GPU processes and Slurm job attribution (environ, cgroup, mapping folder)",
    needs=("gpu", "node", "render"),
)
class JobsCollector(GpuCollector):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.scanner = attribution.ProcScanner(options.proc_root)
        self._lock = threading.Lock()
        self._alloc: dict[str, attribution.Job] = {}
        self._mapping: dict[attribution.GpuRef, list[tuple[str, str]]] = {}
        self._mapping_error = ""
        self._mig: dict[str, frozenset[str]] = {}  # GPU uuid -> its MIG device UUIDs (lowercased), last seen

    def collect(self, source: Any) -> Families | None:
        if isinstance(source, GpuRead):
            return self._processes(source)
        if isinstance(source, NodeCycle):
            self._scan()
            return None
        return self._join(source)

    def _processes(self, read: GpuRead) -> Families:
        """The GPU's compute processes, each resolved to a job now (its /proc entry may go)."""
        dev, out = read.dev, read.families()
        nv = dev.nv
        _, migs = mig_state(dev, read.extras)
        mig_uuids = frozenset(u.lower() for _, u in migs if u)
        if dev.uuid:
            self._mig[dev.uuid] = mig_uuids
        procs = dev.read("processes", nv.nvmlDeviceGetComputeRunningProcesses)
        if procs is None:
            return out
        out.add("gpuwatch_gpu_processes", dev.labels, float(len(procs)))
        resolved = []
        on = (dev.uuid, dev.minor, dev.pci_bus_id, mig_uuids)
        with self._lock:
            for p in procs:
                mem = p.usedGpuMemory if isinstance(getattr(p, "usedGpuMemory", None), int) else 0
                resolved.append((p.pid, mem, self.scanner.pid_job(p.pid, on)))
        read.extras["processes"] = resolved
        return out

    def _scan(self) -> None:
        """Allocations from the processes' environ, and the mapping folder."""
        with self._lock:
            alloc = self.scanner.scan()
        mapping, err = {}, ""
        path = self.options.job_mapping_dir
        if path:
            try:
                mapping = attribution.read_mapping_dir(path)
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

    def _join(self, view: View) -> Families:
        """Jobs per GPU: allocations, mapping folder and resolved processes together."""
        out = view.families()
        alloc, mapping = self._alloc, self._mapping
        for dev in view.devices:
            if not dev.uuid:
                continue
            jobs: dict[str, str] = {}  # job id -> user
            migs = self._mig.get(dev.uuid, frozenset())
            for job in alloc.values():
                if any(attribution.matches(r, dev.uuid, dev.minor, dev.pci_bus_id, migs) for r in job.gpus):
                    jobs[job.job_id] = jobs.get(job.job_id) or job.user
            for ref, entries in mapping.items():
                if attribution.matches(ref, dev.uuid, dev.minor, dev.pci_bus_id, migs):
                    for job_id, user in entries:
                        jobs[job_id] = jobs.get(job_id) or user
            mem: dict[str, float] = {}
            procs = view.extras.get(dev.index, {}).get("processes", [])
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
            raise CollectorError(self._mapping_error, out)
        return out
