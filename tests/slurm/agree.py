"""What Slurm itself says (``scontrol show node``, ``squeue``) next to what the exporter says.

Read independently of the exporter's parsers (plain splitting of scontrol's ``Key=Value`` line
and squeue's ``%P|%T|%r`` columns), so a comparison catches a parser that misreads a version.
Used by the live tests on every Slurm version and by the parser tests on the recorded files.
"""

from __future__ import annotations

import re

from .helpers import value

NODE_FIELDS = ("base", "flags", "cpus_alloc", "cpus_total", "gpus_total", "gpus_used")
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"}


def _gpu_count(text: str) -> int:
    """GPUs in a Gres/GresUsed value: ``gpu:fake:2``, ``gpu:fake:2(IDX:0-1)``, ``gpu:2``."""
    total = 0
    for item in re.split(r",(?![^(]*\))", text or ""):
        item = re.sub(r"\(.*\)$", "", item.strip())
        if item.startswith("gpu"):
            last = item.split(":")[-1]
            total += int(last) if last.isdigit() else 1
    return total


def scontrol_nodes(text: str) -> dict[str, dict]:
    """``scontrol show node --details --oneliner`` -> {node: facts named as in NODE_FIELDS}."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("NodeName="):
            continue
        kv = dict(re.findall(r"(\w+)=(\S*)", line))
        words = kv["State"].lower().split("+")
        base = words[0].rstrip("*~#!%$@^-")
        flags = {w for w in words[1:] if w}
        if words[0].endswith("*"):
            flags.add("not_responding")
        out[kv["NodeName"]] = {
            "base": base,
            "flags": flags,
            "cpus_alloc": int(kv["CPUAlloc"]),
            "cpus_total": int(kv.get("CPUEfctv") or kv["CPUTot"]),
            "gpus_total": _gpu_count(kv.get("Gres", "")),
            "gpus_used": _gpu_count(kv.get("GresUsed", "")),
        }
    return out


def exporter_node(smp: dict, node: str) -> dict:
    """The same facts from the exporter's /metrics samples."""
    states = [
        ls for (n, ls), v in smp.items() if n == "gpuwatch_slurm_node_state" and ("node", node) in ls and v
    ]
    flags = {
        dict(ls)["flag"]
        for (n, ls), v in smp.items()
        if n == "gpuwatch_slurm_node_flag" and ("node", node) in ls and v
    }
    cpus = {
        st: value(smp, "gpuwatch_slurm_node_cpus", node=node, state=st) or 0
        for st in ("allocated", "idle", "other")
    }
    gpus = {
        st: value(smp, "gpuwatch_slurm_node_gpus", node=node, state=st) or 0
        for st in ("allocated", "idle", "other")
    }
    return {
        "base": dict(states[0])["state"] if len(states) == 1 else f"{len(states)} states",
        "flags": flags,
        "cpus_alloc": int(cpus["allocated"]),
        "cpus_total": int(sum(cpus.values())),
        "gpus_total": int(sum(gpus.values())),
        "gpus_used": int(gpus["allocated"]),
    }


def squeue_counts(text: str) -> dict[tuple[str, str], int]:
    """``squeue -h -r -t all -o %P|%T`` (arrays expanded) -> {(partition, state): jobs} of the
    jobs not finished (the exporter counts finished ones in a separate counter)."""
    out: dict[tuple[str, str], int] = {}
    for line in text.splitlines():
        if "|" not in line:
            continue
        part, state = line.split("|")[:2]
        if state in FINAL_STATES:
            continue
        k = (part, state.lower())
        out[k] = out.get(k, 0) + 1
    return out


def exporter_counts(smp: dict) -> dict[tuple[str, str], int]:
    return {
        (dict(ls)["partition"], dict(ls)["state"]): int(v)
        for (n, ls), v in smp.items()
        if n == "gpuwatch_slurm_jobs" and v
    }
