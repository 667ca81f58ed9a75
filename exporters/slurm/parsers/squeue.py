"""``squeue --all --array --states=all -h -O ...``: one row per job / array task, ``|``-separated.

``--array`` expands pending array tasks (``6_[1-4%2]`` becomes four rows) so every task counts;
``--states=all`` keeps recently finished jobs (slurmctld's MinJobAge window) visible for the
finished-jobs counters. The pending reason is the last column so a ``|`` in it cannot shift
columns. Costs JOB_INFO + PARTITION_INFO.
"""

from __future__ import annotations

from .common import ParseError, parse_timestamp, to_int
from .gres import parse_tres_alloc, parse_tres_request
from .common import label_word

SQUEUE_FIELDS = (
    ("JobArrayID", "id"),          # 12, 6_3 (array task), 6_[1-4] only without --array
    ("Partition", "partition"),    # "a,b" for a job pending in several partitions
    ("State", "state"),            # PENDING, RUNNING, COMPLETED, ...
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
    ("Reason", "reason"),          # must stay last
)

FINISHED_STATES = frozenset({
    "completed", "failed", "node_fail", "out_of_memory", "timeout", "cancelled",
    "preempted", "boot_fail", "deadline", "revoked", "special_exit",
})
ACTIVE_STATES = frozenset({"pending", "running", "suspended", "completing", "configuring", "stopped",
                           "resizing", "requeued", "requeue_hold", "requeue_fed", "resv_del_hold",
                           "signaling", "stage_out"})
_BIG = 1 << 30  # Slurm prints NO_VAL (4294967294) for unknown counts


def squeue_argv() -> list[str]:
    fmt = ",".join(f"{f}:|" for f, _ in SQUEUE_FIELDS)
    return ["squeue", "--all", "--array", "--states=all", "--noheader", "--Format", fmt]


class Job:
    __slots__ = ("id", "partition", "state", "user", "account", "cpus", "gpus", "eligible", "submit",
                 "end", "reason")

    def __init__(self, id, partition, state, user, account, cpus, gpus, eligible, submit, end, reason):
        self.id = id
        self.partition = partition
        self.state = state
        self.user = user
        self.account = account
        self.cpus = cpus
        self.gpus = gpus
        self.eligible = eligible
        self.submit = submit
        self.end = end
        self.reason = reason

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.partition}, {self.state}, {self.user}, cpus={self.cpus}, gpus={self.gpus})"


def _count(text: str, default: int = 1) -> int:
    v = to_int(text)
    if v is None or v < 0 or v >= _BIG:
        return default
    return v


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


def parse_squeue(text: str, command: str = "squeue") -> tuple[list[Job], int]:
    """Parse :func:`squeue_argv` output into jobs; returns (jobs, bad_line_count).

    Raises ParseError when there is output but not a single usable line."""
    ncols = len(SQUEUE_FIELDS)
    jobs: list[Job] = []
    bad = 0
    lines = 0
    ts_cache: dict[str, float | None] = {}

    def ts(v: str) -> float | None:
        r = ts_cache.get(v, -1.0)
        if r == -1.0:
            r = parse_timestamp(v)
            if len(ts_cache) < 100000:
                ts_cache[v] = r
        return r

    for line in text.splitlines():
        if not line:
            continue
        lines += 1
        c = line.split("|", ncols - 1)
        if len(c) < ncols:
            bad += 1
            continue
        jid = c[0].strip()
        if not jid or not jid[0].isdigit():
            bad += 1
            continue
        state = _state(c[2])
        nodes = _count(c[6])
        tasks = _count(c[7])
        reason = c[-1]
        if reason.endswith("|"):
            reason = reason[:-1]
        cpus = _count(c[5], 0)
        gpus = job_gpus(nodes, tasks, c[8], c[9], c[10], c[11]) if (c[8] != "N/A" or c[9] != "N/A"
                                                                   or c[10] != "N/A" or "gres/" in c[11]) else 0
        account = c[4].strip()
        jobs.append(Job(jid, c[1].strip() or "unknown", state, c[3].strip(),
                        "none" if account in ("(null)", "") else account, cpus, gpus,
                        ts(c[12]), ts(c[13]), ts(c[14]), reason))
    if lines and not jobs:
        raise ParseError(command, f"none of {lines} lines had the {ncols} expected '|'-separated columns")
    return jobs, bad
