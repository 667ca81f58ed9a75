"""Node state strings, in every form Slurm prints them.

Forms handled (all case-insensitive):

- scontrol / ``sinfo -O StateComplete``: ``BASE+FLAG+FLAG`` (``MIXED+DRAIN``,
  ``IDLE+CLOUD+POWERED_DOWN``, ``IDLE+MAINTENANCE+RESERVED``, ``DOWN*+DRAIN``).
- sinfo ``%T`` long names and ``%t`` compact names, which hide the base state behind a flag
  (``draining``/``drng``, ``drained``/``drain``, ``maint``, ``reboot``, ``planned``/``plnd``,
  ``inval``, ``completing``/``comp`` ...). For these the base state is Slurm's own rule
  (DRAINING = allocated or mixed, DRAINED = idle or down; see the table) and ``exact`` is False.
- one-character suffixes: ``*`` not responding, ``~`` powered down, ``#`` powering up,
  ``!`` power down pending, ``%`` powering down, ``$`` maintenance reservation, ``@`` reboot
  requested, ``^`` reboot issued, ``-`` planned by the backfill scheduler (``mixed-``).
- anything else (a state a future Slurm invents) is reported as its own lowercased word: never
  an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .common import label_word

BASE_STATES = ("idle", "mixed", "allocated", "down", "future", "unknown", "error")

# Alternate spellings of base states (long and compact).
_BASE_ALIASES = {
    "idle": "idle",
    "mixed": "mixed",
    "mix": "mixed",
    "allocated": "allocated",
    "alloc": "allocated",
    "allocated_": "allocated",
    "down": "down",
    "future": "future",
    "futr": "future",
    "unknown": "unknown",
    "unk": "unknown",
    "error": "error",
    "err": "error",
}

# Words that stand for a flag (and hide the base state): word -> (flags, implied base).
_FLAG_WORDS = {
    "draining": (("drain",), "allocated"),
    "drng": (("drain",), "allocated"),
    "drained": (("drain",), "idle"),
    "drain": (("drain",), "idle"),
    "drained_": (("drain",), "idle"),
    "completing": (("completing",), "allocated"),
    "comp": (("completing",), "allocated"),
    "maint": (("maint",), "idle"),
    "maintenance": (("maint",), "idle"),
    "reserved": (("reserved",), "idle"),
    "resv": (("reserved",), "idle"),
    "planned": (("planned",), "idle"),
    "plnd": (("planned",), "idle"),
    "inval": (("invalid",), "unknown"),
    "invalid": (("invalid",), "unknown"),
    "invalid_reg": (("invalid",), "unknown"),
    "fail": (("fail",), "idle"),
    "failing": (("fail",), "allocated"),
    "failg": (("fail",), "allocated"),
    "reboot": (("reboot_requested",), "idle"),
    "reboot_requested": (("reboot_requested",), "idle"),
    "reboot_issued": (("reboot_issued",), "idle"),
    "boot": (("reboot_issued",), "idle"),
    "booting": (("reboot_issued",), "idle"),
    "power_down": (("power_down",), "idle"),
    "pow_dn": (("powering_down",), "idle"),
    "powering_down": (("powering_down",), "idle"),
    "powered_down": (("powered_down",), "idle"),
    "powering_up": (("powering_up",), "idle"),
    "pow_up": (("powering_up",), "idle"),
    "npc": (("no_power_capping",), "idle"),
    "perfctrs": (("perfctrs",), "idle"),
    "blocked": (("blocked",), "idle"),
    "block": (("blocked",), "idle"),
}

# Flag words inside BASE+FLAG strings -> normalised flag name.
_FLAG_ALIASES = {
    "maintenance": "maint",
    "maint": "maint",
    "not_responding": "not_responding",
    "no_respond": "not_responding",
    "not_resp": "not_responding",
    "invalid_reg": "invalid",
    "inval": "invalid",
    "invalid": "invalid",
    "reboot": "reboot_requested",
    "reboot_requested": "reboot_requested",
    "drng": "drain",
    "drained": "drain",
    "draining": "drain",
}

_SUFFIXES = {
    "*": "not_responding",
    "~": "powered_down",
    "#": "powering_up",
    "!": "power_down",
    "%": "powering_down",
    "$": "maint",
    "@": "reboot_requested",
    "^": "reboot_issued",
    "-": "planned",
}


@dataclass(frozen=True)
class NodeState:
    base: str
    flags: frozenset[str] = field(default_factory=frozenset)
    exact: bool = True  # False when the base state had to be inferred from a flag word
    known: bool = True  # False when a word was not recognised (reported as-is)


def _strip_suffixes(word: str, flags: set[str]) -> str:
    while word and word[-1] in _SUFFIXES:
        flags.add(_SUFFIXES[word[-1]])
        word = word[:-1]
    return word


def parse_node_state(text: str | None) -> NodeState:
    """Parse one node state string (any form above) into base state + flags. Never raises."""
    if text is None:
        return NodeState("unknown", frozenset(), False, False)
    raw = text.strip().lower()
    if not raw:
        return NodeState("unknown", frozenset(), False, False)
    flags: set[str] = set()
    # ``+`` separates BASE and flags; a trailing '+' (no flag after it) is ignored.
    parts = [p for p in raw.split("+")]
    words = []
    for p in parts:
        w = _strip_suffixes(p.strip(), flags)
        if w:
            words.append(w)
    if not words:
        return NodeState("unknown", frozenset(flags), False, False)
    first, rest = words[0], words[1:]
    known = True
    exact = True
    if first in _BASE_ALIASES:
        base = _BASE_ALIASES[first]
    elif first in _FLAG_WORDS:
        implied_flags, base = _FLAG_WORDS[first]
        flags.update(implied_flags)
        exact = False
    else:
        base = label_word(first)
        known = False
    for w in rest:
        if w in _BASE_ALIASES:  # e.g. "DRAIN+IDLE" in some odd order: take the real base
            if not exact or not known:
                base = _BASE_ALIASES[w]
                exact = True
            continue
        flags.add(_FLAG_ALIASES.get(w, label_word(w)))
    return NodeState(base, frozenset(flags), exact, known)
