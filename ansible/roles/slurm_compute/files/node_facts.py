#!/usr/bin/env python3
"""Prints this node's Slurm description as JSON: short hostname, CPUs and memory as the node's
cgroup limits allow them (inside a container `slurmd -C` reports the whole host), GPU devices
matching a glob, and the cgroup version. Run by the slurm_compute role via ansible.builtin.script."""

import glob
import json
import math
import os
import re
import socket
import sys


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cgroup_version():
    return 2 if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else 1


def cpu_limit():
    cpus = len(os.sched_getaffinity(0))
    quota = period = None
    v2 = read("/sys/fs/cgroup/cpu.max")
    if v2:
        q, _, p = v2.partition(" ")
        if q != "max":
            quota, period = int(q), int(p or 100000)
    else:
        q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or read("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us")
        p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") or read(
            "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us"
        )
        if q and p and int(q) > 0:
            quota, period = int(q), int(p)
    if quota and period:
        cpus = min(cpus, max(1, math.floor(quota / period)))
    return cpus


def memory_limit_mib():
    total = None
    for line in (read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) * 1024
    limits = [total] if total else []
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        value = read(path)
        if value and value.isdigit() and int(value) < (1 << 60):
            limits.append(int(value))
    return min(limits) // (1024 * 1024)


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "/dev/nvidia[0-9]*"
    gpus = sorted(
        (p for p in glob.glob(pattern) if re.search(r"[0-9]+$", p)),
        key=lambda p: int(re.search(r"([0-9]+)$", p).group(1)),
    )
    print(
        json.dumps(
            {
                "hostname": socket.gethostname().split(".")[0],
                "cpus": cpu_limit(),
                "real_memory": memory_limit_mib(),
                "gpus": gpus,
                "cgroup_version": cgroup_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
