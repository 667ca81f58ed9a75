"""Pending reasons, normalised to Slurm's short names.

``squeue``'s reason column holds either a short name (``Priority``, ``Resources``,
``JobHeldUser``, ``QOSMaxGRESPerUser`` ...) or, when slurmctld stored a description, a sentence
such as ``Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority
partitions`` or ``ReqNodeNotAvail, UnavailableNodes:gpu[01-03]``. A sentence is one reason, not
one label value per node list: it maps to its short name here. Anything unrecognised becomes
``Other`` so the label stays bounded.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")

# Sentences slurmctld stores as the job's state description, by prefix -> short reason.
_SENTENCES = (
    # squeue --json gives this text for reason Resources (it is the description of WAIT_RESOURCES)
    ("nodes required for job are down", "Resources"),
    ("reqnodenotavail", "ReqNodeNotAvail"),
    ("required node not available", "ReqNodeNotAvail"),
    ("reserved for maintenance", "ReqNodeNotAvail"),
    ("job's qos not permitted", "InvalidQOS"),
    ("job's account not permitted", "InvalidAccount"),
    ("job's user not permitted", "AccountNotAllowed"),
    ("launch failed requeued held", "JobHeldUser"),  # the description of WAIT_HELD_USER
    ("job requeued in held state", "JobHeldAdmin"),
    ("job held", "JobHeldAdmin"),
    ("begintime", "BeginTime"),
    ("dependency", "Dependency"),
    ("partition is down", "PartitionDown"),
    ("partition down", "PartitionDown"),
    ("partition inactive", "PartitionInactive"),
    ("job violates accounting/qos policy", "AccountingPolicy"),
    ("burst buffer", "BurstBufferResources"),
    ("waiting for a prolog", "Prolog"),
    ("node(s) in drain", "ReqNodeNotAvail"),
)

# Reasons that mean "waiting for resources or its turn" (what a queue-time alert is about);
# dependency, begin time, holds, limits and configuration problems are not.
WAITING_FOR_RESOURCES = frozenset(
    {
        "Resources",
        "Priority",
        "None",
        "ReqNodeNotAvail",
        "Reservation",
        "Licenses",
        "NodeDown",
        "PowerUpNodes",
        "Cleaning",
        "Prolog",
        "BurstBufferResources",
    }
)


def normalize_reason(text: str | None) -> str:
    """Short Slurm reason for a squeue reason cell (``(Priority)``, a sentence, ...)."""
    if text is None:
        return "None"
    t = text.strip()
    if t in ("(null)", "N/A", ""):
        return "None"
    if t.startswith("(") and t.endswith(")"):
        t = t[1:-1].strip()
    if not t or t in ("(null)", "N/A"):
        return "None"
    if _TOKEN.match(t):
        return t
    low = t.lower()
    for prefix, short in _SENTENCES:
        if low.startswith(prefix):
            return short
    head = re.split(r"[,:( ]", t, maxsplit=1)[0]
    if _TOKEN.match(head) and head[0].isupper() and any(c.isupper() for c in head[1:]):
        return head  # "ReqNodeNotAvail, UnavailableNodes:..." style
    return "Other"
