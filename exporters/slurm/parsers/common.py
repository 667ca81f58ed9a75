"""Helpers shared by the Slurm output parsers."""

from __future__ import annotations

import calendar
import re
import time


class ParseError(ValueError):
    """Output of a Slurm command could not be understood; the message names command, line, field."""

    def __init__(self, command: str, message: str, line: int | None = None):
        where = f"{command}: line {line}: " if line is not None else f"{command}: "
        super().__init__(where + message)
        self.command = command
        self.line = line


_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def to_int(text: str | None) -> int | None:
    """``"12"`` -> 12; ``N/A``, ``(null)``, ``UNLIMITED``, empty, garbage -> None."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    if text.startswith("-") and text[1:].isdigit():
        return int(text)
    return None


def to_float(text: str | None) -> float | None:
    if text is None:
        return None
    text = text.strip()
    return float(text) if _NUM.match(text) else None


def parse_timestamp(text: str | None) -> float | None:
    """Slurm's ISO-like ``2026-11-30T15:34:41`` (printed in the client's TZ; we run clients with
    TZ=UTC) -> epoch seconds. ``N/A``, ``Unknown``, ``None``, garbage -> None."""
    if not text or len(text) != 19 or text[4] != "-" or text[10] != "T":
        return None
    try:
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def parse_duration(text: str | None) -> float | None:
    """Slurm time limits: ``[D-]HH:MM:SS``, ``MM:SS``, ``MM`` -> seconds.
    ``infinite``/``UNLIMITED`` -> +inf; ``n/a``/``NONE``/garbage -> None."""
    if text is None:
        return None
    t = text.strip().lower()
    if t in ("infinite", "unlimited"):
        return float("inf")
    days = 0
    if "-" in t:
        d, _, t = t.partition("-")
        if not d.isdigit():
            return None
        days = int(d)
    parts = t.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        return None
    nums = [int(p) for p in parts]
    if len(nums) == 1:
        secs = nums[0] * 60
    elif len(nums) == 2:
        secs = nums[0] * 60 + nums[1]
    else:
        secs = nums[0] * 3600 + nums[1] * 60 + nums[2]
    return float(days * 86400 + secs)


_LABEL_SAFE = re.compile(r"[^a-z0-9_]+")


def label_word(text: str) -> str:
    """Lowercase ``text`` and keep it label-friendly (``POWERED_DOWN`` -> ``powered_down``)."""
    return _LABEL_SAFE.sub("_", text.strip().lower()).strip("_") or "unknown"


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses: ``gpu:2(IDX:0,2),nic:1`` -> two items."""
    if "(" not in text:
        return text.split(sep)
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out
