"""Durations (``30d``, ``1h30m``, ``15s``) and times (RFC 3339, Unix seconds, ``now``,
``now-2d``) as the command line takes them."""

from __future__ import annotations

import datetime as dt
import math
import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(text: str) -> float:
    """Prometheus-style duration in seconds; ValueError when malformed or not above zero."""
    s = text.strip()
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m:
            raise ValueError(f"{text!r} is not a duration like 30d, 12h, 1h30m or 15s")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if not s or total <= 0:
        raise ValueError(f"{text!r} is not a duration above zero (like 30d, 12h or 15s)")
    return total


def parse_time(text: str, now: float) -> float:
    """RFC 3339 (``2026-12-01T10:00:00Z``, a date ``2026-12-01`` as midnight UTC), Unix seconds,
    ``now``, ``now-DURATION`` or ``-DURATION``."""
    s = text.strip()
    if s == "now":
        return now
    relative = s[4:] if s.startswith("now-") else s[1:] if s.startswith("-") and s[-1:].isalpha() else None
    if relative is not None:  # now-2d, or -2d as Grafana's relative ranges write it
        try:
            return now - parse_duration(relative)
        except ValueError:
            raise ValueError(f"{text!r} is not a time (relative like now-2d or -2d, 1h30m, 15s)") from None
    try:
        seconds = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"{text!r} is not a time (Unix seconds are finite and not negative)")
        return seconds
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time (RFC 3339 like 2026-12-01T10:00:00Z, Unix seconds, now-2d)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.timestamp()


def rfc3339(t: float) -> str:
    """UTC, second precision (``2026-12-01T10:00:00Z``)."""
    return dt.datetime.fromtimestamp(round(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_duration(seconds: float) -> str:
    """``2-03:04:05`` / ``03:04:05``, like Slurm's elapsed time."""
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}-" if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


def promql_duration(seconds: float) -> str:
    """Seconds -> a PromQL duration in whole milliseconds (``93784500ms``), never zero."""
    ms = max(1, int(round(seconds * 1000)))
    if ms % 1000 == 0:
        return f"{ms // 1000}s"
    return f"{ms}ms"
