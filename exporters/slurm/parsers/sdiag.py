"""``sdiag``: scheduler statistics, RPC counts by message type and by user.

Layouts from 22.05 to 25.05 are read the same way: ``Key: value`` lines inside sections
(``Main schedule statistics``, ``Backfilling stats``, ``Main scheduler exit`` (23.x+),
``Backfill exit``, ...), and the two RPC tables::

    REQUEST_NODE_INFO                       ( 2007) count:26     ave_time:238    total_time:6197
    root            (       0) count:128    ave_time:294    total_time:37671
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .common import ParseError

_RPC = re.compile(r"^\s*(\S+)\s+\(\s*(\d+)\)\s+count:(\d+)\s+ave_time:(\d+)\s+total_time:(\d+)")
_KV = re.compile(r"^\s*([A-Za-z][^:]*?)\s*:\s*(-?\d+(?:\.\d+)?)\s*(?:\((\d+)\))?\s*$")
_TS = re.compile(r"^\s*(sdiag output at|data since|[A-Za-z][^:]*?(?=:))\s*:?\s+.*\((\d{9,})\)\s*$", re.I)
_PENDING = re.compile(r"^\s*(\S+)\s+\(\s*\d+\)\s+count:(\d+)")


@dataclass
class Sdiag:
    values: dict[str, float] = field(default_factory=dict)  # "section/key" -> number
    rpc_by_type: dict[str, tuple[int, int]] = field(default_factory=dict)  # type -> (count, total usec)
    rpc_by_user: dict[str, tuple[int, int]] = field(default_factory=dict)
    rpc_pending: dict[str, int] = field(default_factory=dict)

    def get(self, key: str) -> float | None:
        return self.values.get(key)


# Section headings (lower case, start of the line) -> section key; the first match wins, so a
# heading that starts another heading's words must come first.
SECTIONS = (
    ("main schedule statistics", "main"),
    ("main scheduler exit", "main_exit"),
    ("backfilling stats", "backfill"),
    ("backfill exit", "backfill_exit"),
    ("remote procedure call statistics by message type", "rpc_type"),
    ("remote procedure call statistics by user", "rpc_user"),
    ("pending rpc statistics", "rpc_pending"),
    ("rpc queue", "rpc_queue"),
)


def _section(line: str) -> str | None:
    low = line.strip().lower().rstrip(":")
    return next((key for heading, key in SECTIONS if low.startswith(heading)), None)


def parse_sdiag(text: str, command: str = "sdiag") -> Sdiag:
    out = Sdiag()
    section = "general"
    for line in text.split("\n"):
        if not line.strip() or line.startswith("*"):
            continue
        sec = _section(line)
        if sec is not None:
            section = sec
            continue
        if section in ("rpc_type", "rpc_user"):
            m = _RPC.match(line)
            if m:
                target = out.rpc_by_type if section == "rpc_type" else out.rpc_by_user
                target[m.group(1)] = (int(m.group(3)), int(m.group(5)))
                continue
        if section == "rpc_pending":
            m = _PENDING.match(line)
            if m:
                out.rpc_pending[m.group(1)] = int(m.group(2))
            continue
        if not line[0].isspace():
            # a top-level key ends any indented section (e.g. "Latency for 1000 calls ...")
            if section not in ("general",):
                section = "general"
        m = _KV.match(line)
        if m:
            out.values[f"{section}/{m.group(1).strip().lower()}"] = float(m.group(2))
            continue
        m = _TS.match(line)
        if m:
            out.values[f"{section}/{m.group(1).strip().lower()}"] = float(m.group(2))
    if not out.values and not out.rpc_by_type:
        raise ParseError(command, "no statistics found (expected lines like 'Server thread count: 3')")
    return out
