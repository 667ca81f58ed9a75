"""``squeue --all --states=all -h -O ...``: one row per job record, ``|``-separated.

Pending array tasks that slurmctld still holds as one record print as one row
(``6_[1-9999%2]``); :func:`array_task_count` counts the tasks from the range, so every task
counts without asking squeue to expand 10,000 identical rows (``--array`` would, at a cost per
row on both sides and no extra information). Running and finished tasks are their own records
and rows (``6_3``). ``--states=all`` keeps recently finished jobs (slurmctld's MinJobAge window) visible for the
finished-jobs counters. The pending reason is the last column so a ``|`` in it cannot shift
columns. Costs JOB_INFO + PARTITION_INFO.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

from .common import ParseError, label_word, to_int
from .gres import parse_tres_alloc, parse_tres_request

SQUEUE_FIELDS = (
    ("JobArrayID", "id"),  # 12, 6_3 (array task), 6_[1-4%2] (pending tasks in one record)
    ("Partition", "partition"),  # "a,b" for a job pending in several partitions
    ("State", "state"),  # PENDING, RUNNING, COMPLETED, ...
    ("UserName", "user"),
    ("Account", "account"),
    ("NumCPUs", "cpus"),
    ("NumNodes", "nodes"),
    ("NumTasks", "tasks"),
    ("tres-per-node", "tres_per_node"),
    ("tres-per-job", "tres_per_job"),
    ("tres-per-task", "tres_per_task"),
    ("tres-alloc", "tres_alloc"),
    ("EligibleTime", "eligible"),
    ("SubmitTime", "submit"),
    ("EndTime", "end"),
    ("Reason", "reason"),  # must stay last
)

FINISHED_STATES = frozenset(
    {
        "completed",
        "failed",
        "node_fail",
        "out_of_memory",
        "timeout",
        "cancelled",
        "preempted",
        "boot_fail",
        "deadline",
        "revoked",
        "special_exit",
    }
)
ACTIVE_STATES = frozenset(
    {
        "pending",
        "running",
        "suspended",
        "completing",
        "configuring",
        "stopped",
        "resizing",
        "requeued",
        "requeue_hold",
        "requeue_fed",
        "resv_del_hold",
        "signaling",
        "stage_out",
    }
)
_BIG = 1 << 30  # Slurm prints NO_VAL (4294967294) for unknown counts


def squeue_argv() -> list[str]:
    fmt = ",".join(f"{f}:|" for f, _ in SQUEUE_FIELDS)
    return ["squeue", "--all", "--states=all", "--noheader", "--Format", fmt]


def array_task_count(jid: str) -> int:
    """Tasks in a job id: ``12`` -> 1, ``6_3`` -> 1, ``6_[1-4%2]`` -> 4, ``6_[1,3,5-7]`` -> 5.

    An unreadable range counts as one (the record exists; its size is unknown)."""
    lb = jid.find("[")
    if lb < 0:
        return 1
    body = jid[lb + 1 :].rstrip("]").split("%", 1)[0]
    total = 0
    for part in body.split(","):
        a, sep, b = part.partition("-")
        if a.isdigit() and (not sep or b.isdigit()):
            total += (int(b) - int(a) + 1) if sep else 1
            if sep and int(b) < int(a):
                return 1
        else:
            return 1
    return max(total, 1)


JOB_FIELDS = tuple("id partition state user account cpus gpus eligible submit end reason count".split())


class Job(tuple):
    """One job record: a tuple (cheap to build 100,000 times per cycle; hot loops unpack it) with
    named read-only fields :data:`JOB_FIELDS`. ``count`` is the number of array tasks in the
    record (``cpus``/``gpus`` are per task). ``eligible``/``submit``/``end`` are Slurm's raw
    timestamp text (``2026-11-30T15:41:56``, ``N/A``): parsed where needed, not 300,000 times."""

    __slots__ = ()
    if TYPE_CHECKING:  # the fields are properties set below, one per JOB_FIELDS entry
        id: str
        partition: str
        state: str
        user: str
        account: str
        cpus: int
        gpus: int
        eligible: str
        submit: str
        end: str
        reason: str  # and count (declared as a property below: tuple.count is a method to mypy)

    def __new__(cls, id, partition, state, user, account, cpus, gpus, eligible, submit, end, reason, count=1):
        return tuple.__new__(
            cls, (id, partition, state, user, account, cpus, gpus, eligible, submit, end, reason, count)
        )

    def __repr__(self) -> str:
        return (
            f"Job({self.id}, {self.partition}, {self.state}, {self.user}, cpus={self.cpus}, gpus={self.gpus})"
        )


for _i, _name in enumerate(JOB_FIELDS):
    setattr(Job, _name, property(itemgetter(_i), doc=f"field {_i}: {_name}"))
del _i, _name


def _count(text: str, default: int = 1) -> int:
    if text.isdigit():
        v = int(text)
        return v if v < _BIG else default
    parsed = to_int(text)
    if parsed is None or parsed < 0 or parsed >= _BIG:
        return default
    return parsed


def job_gpus(nodes: int, tasks: int, per_node: str, per_job: str, per_task: str, alloc: str) -> int:
    """GPUs a job holds (running: allocated TRES when Slurm lists GRES there) or asks for
    (``--gpus``, ``--gres``/``--gpus-per-node`` x nodes, ``--gpus-per-task`` x tasks)."""
    a = parse_tres_alloc(alloc)
    if a is not None:
        return a
    n = parse_tres_request(per_job)
    if n:
        return n
    n = parse_tres_request(per_node)
    if n:
        return n * max(nodes, 1)
    n = parse_tres_request(per_task)
    if n:
        return n * max(tasks, 1)
    return 0


_STATE_CACHE: dict[str, str] = {}


def _state(text: str) -> str:
    s = _STATE_CACHE.get(text)
    if s is None:
        # "CANCELLED by 0" (scontrol style) or a future "RUNNING+X": keep the first word
        s = label_word(text.strip().split(" ", 1)[0].split("+", 1)[0]) if text.strip() else "unknown"
        if len(_STATE_CACHE) < 256:
            _STATE_CACHE[text] = s
    return s


# squeue -O names for the same data in other captures (and compact states)
_KEYS = {f.lower(): k for f, k in SQUEUE_FIELDS}
_KEYS.update({"jobid": "id", "statecompact": "state", "user": "user", "numcpus": "cpus"})
_COMPACT = {
    "PD": "PENDING",
    "R": "RUNNING",
    "S": "SUSPENDED",
    "CG": "COMPLETING",
    "CD": "COMPLETED",
    "CA": "CANCELLED",
    "F": "FAILED",
    "TO": "TIMEOUT",
    "NF": "NODE_FAIL",
    "PR": "PREEMPTED",
    "BF": "BOOT_FAIL",
    "DL": "DEADLINE",
    "OOM": "OUT_OF_MEMORY",
    "CF": "CONFIGURING",
    "RS": "RESIZING",
    "RQ": "REQUEUED",
    "RH": "REQUEUE_HOLD",
    "RF": "REQUEUE_FED",
    "RD": "RESV_DEL_HOLD",
    "RV": "REVOKED",
    "SI": "SIGNALING",
    "SE": "SPECIAL_EXIT",
    "SO": "STAGE_OUT",
    "ST": "STOPPED",
}


def parse_squeue(text: str, command: str = "squeue", fields=None, sep: str = "|") -> tuple[list[Job], int]:
    """Parse ``squeue -O`` output into jobs; returns (jobs, bad_line_count).

    ``fields`` are the ``-O`` field names in column order (default :data:`SQUEUE_FIELDS`, what
    :func:`squeue_argv` asks for). Raises ParseError when there is output but not one usable line.
    """
    names = [f for f, _ in SQUEUE_FIELDS] if fields is None else list(fields)
    keys = [_KEYS.get(f.lower(), f.lower()) for f in names]
    ncols = len(keys)
    ix = {k: i for i, k in enumerate(keys)}
    if "id" not in ix or "state" not in ix:
        raise ValueError("fields must include a job id and a state")
    absent = ncols  # index of an extra "N/A" column appended for absent fields
    g = {
        k: ix.get(k, absent)
        for k in (
            "id",
            "partition",
            "state",
            "user",
            "account",
            "cpus",
            "nodes",
            "tasks",
            "tres_per_node",
            "tres_per_job",
            "tres_per_task",
            "tres_alloc",
            "eligible",
            "submit",
            "end",
            "reason",
        )
    }
    i_id, i_part, i_state, i_user, i_acct = g["id"], g["partition"], g["state"], g["user"], g["account"]
    i_cpus, i_nodes, i_tasks = g["cpus"], g["nodes"], g["tasks"]
    i_tpn, i_tpj, i_tpt, i_alloc = g["tres_per_node"], g["tres_per_job"], g["tres_per_task"], g["tres_alloc"]
    i_elig, i_sub, i_end, i_reason = g["eligible"], g["submit"], g["end"], g["reason"]
    last_free = keys[-1] == "reason"
    jobs: list[Job] = []
    bad = 0
    lines = 0
    gpu_cache: dict[tuple, int] = {}
    state_cache: dict[str, str] = {}
    append = jobs.append
    new = tuple.__new__
    for line in text.split("\n"):
        if not line:
            continue
        lines += 1
        c = line.split(sep, ncols - 1) if last_free else line.split(sep)
        if len(c) < ncols:
            bad += 1
            continue
        if len(c) > ncols:
            del c[ncols:]
        c.append("N/A")
        jid = c[i_id]
        if not jid[:1].isdigit():
            jid = jid.strip()
            if not jid[:1].isdigit():
                bad += 1
                continue
        raw_state = c[i_state]
        state = state_cache.get(raw_state)
        if state is None:
            state = state_cache[raw_state] = _state(_COMPACT.get(raw_state.strip(), raw_state))
        reason = c[i_reason]
        if reason.endswith(sep):
            reason = reason[:-1]
        cpus_s = c[i_cpus]
        cpus = int(cpus_s) if cpus_s.isdigit() and len(cpus_s) < 10 else _count(cpus_s, 0)
        tpn, tpj, tpt, alloc = c[i_tpn], c[i_tpj], c[i_tpt], c[i_alloc]
        if tpn != "N/A" or tpj != "N/A" or tpt != "N/A" or "gres/" in alloc:
            key = (c[i_nodes], c[i_tasks], tpn, tpj, tpt, alloc if "gres/" in alloc else "")
            gpus = gpu_cache.get(key)
            if gpus is None:
                gpus = job_gpus(_count(key[0]), _count(key[1]), *key[2:])
                if len(gpu_cache) < 10000:
                    gpu_cache[key] = gpus
        else:
            gpus = 0
        account = c[i_acct]
        user = c[i_user]
        append(
            new(
                Job,
                (
                    jid,
                    c[i_part] or "unknown",
                    state,
                    user if user and user != "N/A" else "unknown",
                    "none" if account in ("(null)", "", "N/A") else account,
                    cpus,
                    gpus,
                    c[i_elig],
                    c[i_sub],
                    c[i_end],
                    reason,
                    array_task_count(jid) if "[" in jid else 1,
                ),
            )
        )
    if lines and not jobs:
        raise ParseError(command, f"none of {lines} lines had the {ncols} expected '{sep}'-separated columns")
    return jobs, bad
