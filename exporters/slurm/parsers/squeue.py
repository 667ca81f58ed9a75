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


# squeue -O names for the same data in other captures (and compact states)
_KEYS = {f.lower(): k for f, k in SQUEUE_FIELDS}
_KEYS.update({"jobid": "id", "statecompact": "state", "user": "user", "numcpus": "cpus"})
_COMPACT = {
    "PD": "PENDING", "R": "RUNNING", "S": "SUSPENDED", "CG": "COMPLETING", "CD": "COMPLETED",
    "CA": "CANCELLED", "F": "FAILED", "TO": "TIMEOUT", "NF": "NODE_FAIL", "PR": "PREEMPTED",
    "BF": "BOOT_FAIL", "DL": "DEADLINE", "OOM": "OUT_OF_MEMORY", "CF": "CONFIGURING", "RS": "RESIZING",
    "RQ": "REQUEUED", "RH": "REQUEUE_HOLD", "RF": "REQUEUE_FED", "RD": "RESV_DEL_HOLD", "RV": "REVOKED",
    "SI": "SIGNALING", "SE": "SPECIAL_EXIT", "SO": "STAGE_OUT", "ST": "STOPPED",
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
    NA = ncols  # index of an extra "N/A" column appended for absent fields
    g = {k: ix.get(k, NA) for k in ("id", "partition", "state", "user", "account", "cpus", "nodes", "tasks",
                                     "tres_per_node", "tres_per_job", "tres_per_task", "tres_alloc",
                                     "eligible", "submit", "end", "reason")}
    i_id, i_part, i_state, i_user, i_acct = g["id"], g["partition"], g["state"], g["user"], g["account"]
    i_cpus, i_nodes, i_tasks = g["cpus"], g["nodes"], g["tasks"]
    i_tpn, i_tpj, i_tpt, i_alloc = g["tres_per_node"], g["tres_per_job"], g["tres_per_task"], g["tres_alloc"]
    i_elig, i_sub, i_end, i_reason = g["eligible"], g["submit"], g["end"], g["reason"]
    last_free = keys[-1] == "reason"
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

    for line in text.split("\n"):
        if not line:
            continue
        lines += 1
        c = line.split(sep, ncols - 1) if last_free else line.split(sep)
        if len(c) < ncols:
            bad += 1
            continue
        c = c[:ncols]
        c.append("N/A")
        jid = c[i_id].strip()
        if not jid or not jid[0].isdigit():
            bad += 1
            continue
        raw_state = c[i_state]
        state = _state(_COMPACT.get(raw_state, raw_state))
        nodes = _count(c[i_nodes])
        tasks = _count(c[i_tasks])
        reason = c[i_reason]
        if reason.endswith(sep):
            reason = reason[:-1]
        cpus = _count(c[i_cpus], 0)
        tpn, tpj, tpt, alloc = c[i_tpn], c[i_tpj], c[i_tpt], c[i_alloc]
        gpus = job_gpus(nodes, tasks, tpn, tpj, tpt, alloc) if (
            tpn != "N/A" or tpj != "N/A" or tpt != "N/A" or "gres/" in alloc) else 0
        account = c[i_acct].strip()
        user = c[i_user].strip()
        jobs.append(Job(jid, c[i_part].strip() or "unknown", state, "unknown" if user in ("", "N/A") else user,
                        "none" if account in ("(null)", "", "N/A") else account, cpus, gpus,
                        ts(c[i_elig]), ts(c[i_sub]), ts(c[i_end]), reason))
    if lines and not jobs:
        raise ParseError(command, f"none of {lines} lines had the {ncols} expected '{sep}'-separated columns")
    return jobs, bad
