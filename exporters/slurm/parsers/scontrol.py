"""``scontrol ... -o`` outputs (one ``Key=Value ...`` record per line): licenses and reservations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from .common import ParseError, parse_timestamp, to_int

_KEY = re.compile(r"(?:^|\s)([A-Za-z][A-Za-z0-9_:/]*)=")


def parse_kv_line(line: str) -> dict[str, str]:
    """``scontrol -o`` record: ``Key=value Key2=value with spaces Key3=...`` -> dict.

    A value runs until the next `` Key=``, so values with spaces (``OS=Linux 6.1 #1 SMP``) survive."""
    out: dict[str, str] = {}
    matches = list(_KEY.finditer(line))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(line)
        out[m.group(1)] = line[m.end() : end].strip()
    return out


def _records(text: str, none_answer: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, fields) of each record; blank lines and scontrol's "No ..." answer skipped."""
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if line and not line.lower().startswith(none_answer):
            yield lineno, parse_kv_line(line)


@dataclass
class License:
    name: str
    total: int
    used: int
    free: int
    reserved: int
    remote: bool


def parse_licenses(text: str, command: str = "scontrol show licenses -o") -> list[License]:
    out = []
    for lineno, kv in _records(text, "no licenses"):
        name = kv.get("LicenseName")
        total = to_int(kv.get("Total"))
        if not name or total is None:
            raise ParseError(command, "expected LicenseName= and Total=", lineno)
        out.append(
            License(
                name,
                total,
                to_int(kv.get("Used")) or 0,
                to_int(kv.get("Free")) or 0,
                to_int(kv.get("Reserved")) or 0,
                kv.get("Remote", "no").lower() == "yes",
            )
        )
    return out


@dataclass
class Reservation:
    name: str
    state: str
    start: float | None
    end: float | None
    node_count: int
    core_count: int
    partition: str
    flags: str


def parse_reservations(text: str, command: str = "scontrol show reservation -o") -> list[Reservation]:
    out = []
    for lineno, kv in _records(text, "no reservations"):
        name = kv.get("ReservationName")
        if not name:
            raise ParseError(command, "expected ReservationName=", lineno)
        out.append(
            Reservation(
                name,
                (kv.get("State") or "unknown").lower(),
                parse_timestamp(kv.get("StartTime")),
                parse_timestamp(kv.get("EndTime")),
                to_int(kv.get("NodeCnt")) or 0,
                to_int(kv.get("CoreCnt")) or 0,
                kv.get("PartitionName") or "",
                kv.get("Flags") or "",
            )
        )
    return out
