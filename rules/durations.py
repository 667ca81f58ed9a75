"""Prometheus durations (``1h30m``, ``90s``, ``500ms``): parse, validate and print canonically."""

from __future__ import annotations

import re

_UNITS = (
    ("y", 365 * 86400_000),
    ("w", 7 * 86400_000),
    ("d", 86400_000),
    ("h", 3600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
)
_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


# Prometheus keeps durations as Go time.Duration (int64 nanoseconds): about 292 years at most.
MAX_MS = (2**63 - 1) // 1_000_000


class BadDuration(ValueError):
    pass


def parse_ms(text: object) -> int:
    """Milliseconds of a Prometheus duration string; ``BadDuration`` when it is not one."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise BadDuration(f"{text!r} is not a duration like 30s, 5m or 1h30m")
    if isinstance(text, int):
        if text == 0:
            return 0
        raise BadDuration(f"{text!r} has no unit; write it like 30s, 5m or 1h30m")
    s = text.strip()
    m = _RE.match(s)
    if not s or not m or not any(m.groups()):
        if s == "0":
            return 0
        raise BadDuration(f"{text!r} is not a duration like 30s, 5m or 1h30m")
    ms = sum(int(g) * mult for g, (_, mult) in zip(m.groups(), _UNITS) if g)
    if ms > MAX_MS:
        raise BadDuration(f"{text!r} is longer than Prometheus can represent (about 292 years)")
    return ms


def fmt_ms(ms: int) -> str:
    """Canonical form, as Prometheus prints it (``0s``, ``90s`` -> ``1m30s``)."""
    if ms == 0:
        return "0s"
    out = []
    for unit, mult in _UNITS:
        if ms >= mult:
            n, ms = divmod(ms, mult)
            out.append(f"{n}{unit}")
    return "".join(out)
