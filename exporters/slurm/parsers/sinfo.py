"""``sinfo -a -N -h -O ...``: one row per (node, partition), ``|``-separated, no truncation.

One command serves the nodes and the partitions collectors (NODE_INFO + PARTITION_INFO RPCs).
The free-text drain reason is the last column, so a ``|`` inside it cannot shift columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .common import ParseError, parse_duration, parse_timestamp, to_int
from .gres import parse_gres
from .states import NodeState, parse_node_state

# (sinfo -O field, key). Order matters: the parser maps columns by position.
SINFO_FIELDS = (
    ("NodeList", "node"),
    ("Partition", "partition"),  # "debug*" marks the default partition
    ("Available", "part_state"),  # partition state: up, down, drain, inact
    ("Time", "part_max_time"),  # partition MaxTime
    ("StateComplete", "state"),  # base+flag+flag
    ("CPUsState", "cpus"),  # allocated/idle/other/total
    ("Memory", "memory"),  # configured RealMemory, MiB
    ("AllocMem", "alloc_mem"),  # MiB
    ("FreeMem", "free_mem"),  # MiB, as the OS reports
    ("Gres", "gres"),
    ("GresUsed", "gres_used"),
    ("Timestamp", "reason_time"),
    ("Reason", "reason"),  # free text: must stay last
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
    return tuple(to_int(p) for p in parts)


def _free_text(text: str) -> str:
    t = text.strip()
    return "" if t in ("none", "(null)", "N/A") else t


# A node's reason counts while it explains the state, as `sinfo -R` shows it: down, drained or
# draining, failing, rebooting. Slurm 24.11 keeps the reason after `scontrol update
# State=RESUME` (scontrol and sinfo still print it for an idle node, idle+not_responding until
# slurmd registers again); 22.05 and 26.05 clear it. The exporter reports the same on every
# version: no reason once resumed. (A node that stops answering turns DOWN with its own reason.)
_REASON_BASES = frozenset({"down", "error"})
_REASON_FLAGS = frozenset({"drain", "fail", "reboot_requested", "reboot_issued", "invalid"})


def _reason_applies(st: NodeState) -> bool:
    return st.base in _REASON_BASES or not _REASON_FLAGS.isdisjoint(st.flags)


def _cpu_base(st: NodeState, alloc: int | None, total: int | None) -> NodeState:
    """``allocated`` while some CPUs are not allocated is ``mixed``: Slurm 22.05's sinfo prints
    ``allocated+drain`` for a node drained while jobs hold some of its CPUs (the drained idle
    CPUs count as "other"), where scontrol says MIXED+DRAIN."""
    if st.base == "allocated" and alloc is not None and total and 0 < alloc < total:
        return replace(st, base="mixed")
    return st


_KEYS = {f.lower(): k for f, k in SINFO_FIELDS}
_KEYS.update(
    {
        "statelong": "state_long",
        "statecompact": "state_long",
        "partitionname": "partition",
        "nodehost": "node",
        "nodes": "node",
        "cpus": "cpus_count",
        "gres": "gres",
        "gresused": "gres_used",
    }
)


def parse_sinfo(text: str, command: str = "sinfo", fields=None, sep: str | None = "|") -> SinfoResult:
    """Parse ``sinfo -N -O`` output into nodes and partitions.

    ``fields`` are the ``-O`` field names in column order (default: :data:`SINFO_FIELDS`, what
    :func:`sinfo_argv` asks for); other captures (``StateLong`` instead of ``StateComplete``,
    space-separated columns with ``sep=None``) parse too. Lines with too few columns or no node
    name are skipped and counted in ``bad_lines``; output with content but no usable line
    raises ParseError.
    """
    names = [f for f, _ in SINFO_FIELDS] if fields is None else list(fields)
    keys = [_KEYS.get(f.lower(), f.lower()) for f in names]
    ncols = len(keys)
    ix = {k: i for i, k in enumerate(keys)}
    i_node = ix.get("node")
    if i_node is None:
        raise ValueError("fields must include NodeList")
    i_state = ix.get("state", ix.get("state_long"))
    last_free = keys[-1] == "reason" and sep is not None

    def col(c, key, default=""):
        i = ix.get(key)
        return c[i] if i is not None else default

    nodes: dict[str, Node] = {}
    parts: dict[str, Partition] = {}
    members: dict[str, set[str]] = {}  # partition -> node names (a set: rows repeat per partition)
    state_cache: dict[str, NodeState] = {}
    gres_cache: dict[str, dict[str, int]] = {}
    ts_cache: dict[str, float | None] = {}

    def gres_of(text: str) -> dict[str, int]:
        r = gres_cache.get(text)
        if r is None:
            r = parse_gres(text)
            if len(gres_cache) < 4096:
                gres_cache[text] = r
        return r

    bad = 0
    lines = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        lines += 1
        if sep is None:
            cols = line.split()
        else:
            cols = line.split(sep, ncols - 1) if last_free else line.split(sep)
        if len(cols) < ncols:
            bad += 1
            continue
        name = cols[i_node].strip()
        if not name or " " in name:
            bad += 1
            continue
        reason = col(cols, "reason")
        if sep is not None and reason.endswith(sep):
            reason = reason[:-1]
        pname = col(cols, "partition").strip()
        default = pname.endswith("*")
        pname = pname.rstrip("*")
        node = nodes.get(name)
        if node is None:
            state_text = cols[i_state].strip() if i_state is not None else ""
            alloc, idle, other, total = _cpus(col(cols, "cpus"))
            gres = col(cols, "gres").strip()
            types = gres_of(gres)
            st = state_cache.get(state_text)
            if st is None:
                st = parse_node_state(state_text)
                if len(state_cache) < 4096:
                    state_cache[state_text] = st
            st = _cpu_base(st, alloc, total)
            rts = col(cols, "reason_time").strip()
            reason_time = ts_cache.get(rts, -1.0)
            if reason_time == -1.0:
                reason_time = ts_cache[rts] = parse_timestamp(rts)
            node = Node(
                name=name,
                state=st,
                state_text=state_text,
                cpus_alloc=alloc,
                cpus_idle=idle,
                cpus_other=other,
                cpus_total=total,
                memory_mb=to_int(col(cols, "memory")),
                alloc_mem_mb=to_int(col(cols, "alloc_mem")),
                free_mem_mb=to_int(col(cols, "free_mem")),
                gpus_total=sum(types.values()),
                gpus_used=sum(gres_of(col(cols, "gres_used")).values()),
                gpu_types=dict(types),
                gres=gres if gres != "(null)" else "",
                reason=_free_text(reason) if _reason_applies(st) else "",
                reason_time=reason_time,
            )
            nodes[name] = node
        if pname:
            if pname not in node.partitions:
                node.partitions.append(pname)
            p = parts.get(pname)
            if p is None:
                p = parts[pname] = Partition(
                    pname,
                    col(cols, "part_state").strip().lower() or "unknown",
                    default,
                    parse_duration(col(cols, "part_max_time")),
                )
                members[pname] = set()
            if default:
                p.default = True
            m = members[pname]
            if name not in m:
                m.add(name)
                p.nodes.append(name)
    if lines and not nodes:
        raise ParseError(command, f"none of {lines} lines had the {ncols} expected columns")
    return SinfoResult(nodes, parts, bad)
