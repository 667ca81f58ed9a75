"""``sinfo -a -N -h -O ...``: one row per (node, partition), ``|``-separated, no truncation.

One command serves the nodes and the partitions collectors (NODE_INFO + PARTITION_INFO RPCs).
The free-text drain reason is the last column, so a ``|`` inside it cannot shift columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import ParseError, parse_duration, parse_timestamp, to_int
from .gres import parse_gres
from .states import NodeState, parse_node_state

# (sinfo -O field, key). Order matters: the parser maps columns by position.
SINFO_FIELDS = (
    ("NodeList", "node"),
    ("Partition", "partition"),      # "debug*" marks the default partition
    ("Available", "part_state"),     # partition state: up, down, drain, inact
    ("Time", "part_max_time"),       # partition MaxTime
    ("StateComplete", "state"),      # base+flag+flag
    ("CPUsState", "cpus"),           # allocated/idle/other/total
    ("Memory", "memory"),            # configured RealMemory, MiB
    ("AllocMem", "alloc_mem"),       # MiB
    ("FreeMem", "free_mem"),         # MiB, as the OS reports
    ("Gres", "gres"),
    ("GresUsed", "gres_used"),
    ("Timestamp", "reason_time"),
    ("Reason", "reason"),            # free text: must stay last
)


def sinfo_argv() -> list[str]:
    fmt = ",".join(f"{f}:|" for f, _ in SINFO_FIELDS)
    return ["sinfo", "--all", "--Node", "--noheader", "--Format", fmt]


@dataclass
class Node:
    name: str
    state: NodeState
    state_text: str
    partitions: list[str] = field(default_factory=list)
    cpus_alloc: int | None = None
    cpus_idle: int | None = None
    cpus_other: int | None = None
    cpus_total: int | None = None
    memory_mb: int | None = None
    alloc_mem_mb: int | None = None
    free_mem_mb: int | None = None
    gpus_total: int = 0
    gpus_used: int = 0
    gpu_types: dict[str, int] = field(default_factory=dict)
    gres: str = ""
    reason: str = ""
    reason_time: float | None = None


@dataclass
class Partition:
    name: str
    state: str
    default: bool
    max_time: float | None
    nodes: list[str] = field(default_factory=list)


@dataclass
class SinfoResult:
    nodes: dict[str, Node]
    partitions: dict[str, Partition]
    bad_lines: int = 0


def _cpus(text: str) -> tuple[int | None, ...]:
    parts = text.split("/")
    if len(parts) != 4:
        return (None, None, None, None)
    return tuple(to_int(p) for p in parts)  # type: ignore[return-value]


def _free_text(text: str) -> str:
    t = text.strip()
    return "" if t in ("none", "(null)", "N/A") else t


def parse_sinfo(text: str, command: str = "sinfo") -> SinfoResult:
    """Parse the output of :func:`sinfo_argv`. Lines with too few columns or no node name are
    skipped and counted in ``bad_lines``; output with content but no usable line raises ParseError."""
    ncols = len(SINFO_FIELDS)
    nodes: dict[str, Node] = {}
    parts: dict[str, Partition] = {}
    bad = 0
    lines = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        lines += 1
        cols = line.split("|", ncols - 1)
        if len(cols) < ncols:
            bad += 1
            continue
        name = cols[0].strip()
        if not name or " " in name:
            bad += 1
            continue
        reason = cols[-1]
        if reason.endswith("|"):
            reason = reason[:-1]
        pname = cols[1].strip()
        default = pname.endswith("*")
        pname = pname.rstrip("*")
        node = nodes.get(name)
        if node is None:
            state_text = cols[4].strip()
            alloc, idle, other, total = _cpus(cols[5])
            gres = cols[9].strip()
            types = parse_gres(gres)
            node = Node(
                name=name,
                state=parse_node_state(state_text),
                state_text=state_text,
                cpus_alloc=alloc, cpus_idle=idle, cpus_other=other, cpus_total=total,
                memory_mb=to_int(cols[6]),
                alloc_mem_mb=to_int(cols[7]),
                free_mem_mb=to_int(cols[8]),
                gpus_total=sum(types.values()),
                gpus_used=sum(parse_gres(cols[10]).values()),
                gpu_types=types,
                gres=gres if gres != "(null)" else "",
                reason=_free_text(reason),
                reason_time=parse_timestamp(cols[11].strip()),
            )
            nodes[name] = node
        if pname and pname not in node.partitions:
            node.partitions.append(pname)
        if pname:
            p = parts.get(pname)
            if p is None:
                p = parts[pname] = Partition(pname, cols[2].strip().lower() or "unknown", default,
                                             parse_duration(cols[3]))
            p.default = p.default or default
            if name not in p.nodes:
                p.nodes.append(name)
    if lines and not nodes:
        raise ParseError(command, f"none of {lines} lines had the {ncols} expected '|'-separated columns")
    return SinfoResult(nodes, parts, bad)
