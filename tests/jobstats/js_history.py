"""A known 8-hour history for the accuracy tests, and the numbers jobstats must find in it.

Two nodes (targets), 30 s scrapes:

- node-a: 2 x H100 80GB (reports SM/tensor activity), pod-a at $2.40/h (-> $1.20 per GPU-hour).
- node-b: 4 x A100 40GB (no GPM), pod-b at $8.00/h, repriced to $12.00/h at 4 h (-> $2, then $3
  per GPU-hour); the target label changes, so every node-b series splits in two.

Jobs (hours after T0):

- 101 alice, busy: node-a GPU 0, 1:00-3:00, utilisation 0.8/1.0 alternating, 60 GiB, 500 W.
- 102 bob, idle: node-a GPU 1, 1:30-5:30, utilisation 0, 1 GiB, 60 W.
- 103 carol, two nodes: node-a GPU 0 and node-b GPUs 0-1, 3:30-7:00 (across the repricing); XID 13
  on node-b GPU 1 at 5:00 (a per-code series first seen at 1).
- 104 dave, GPU lost: node-b GPUs 2-3, 1:00-6:00; GPU 3 has XID 79 at 3:00, then gpuwatch_gpu_up 0
  and no readings (the allocation, and so gpuwatch_gpu_job_info, goes on).
- 105 erin, running: node-b GPU 0 from 7:30 to the end of the data (8:00).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from gpuwatch.localstack.backfill import History

I = 30  # noqa: E741 - scrape interval (s)
H = 3600
GIB = 2**30
END = 8 * H  # data from T0 to T0 + 8 h (inclusive)
IDLE_W = 50.0

NODES = {
    "node-a": {
        "instance": "10.0.0.1:9400",
        "pod": "pod-a",
        "model": "NVIDIA H100 80GB HBM3",
        "total": 80 * GIB,
        "gpus": 2,
        "price": lambda t: 2.40,
        "gpm": True,
    },
    "node-b": {
        "instance": "10.0.0.2:9400",
        "pod": "pod-b",
        "model": "NVIDIA A100-SXM4-40GB",
        "total": 40 * GIB,
        "gpus": 4,
        "price": lambda t: 8.00 if t < 4 * H else 12.00,
        "gpm": False,
    },
}
LOST = ("node-b", 3, 3 * H)  # node, GPU, when


@dataclass
class Job:
    job_id: str
    user: str
    gpus: list[tuple[str, int]]
    start: int
    end: int  # last sample (inclusive)
    util: object  # float or callable(sample index) -> float
    memory: float
    power: float
    sm: float = 0.0
    tensor: float = 0.0
    xids: dict = field(default_factory=dict)  # (node, gpu) -> [(t, code)]


JOBS = [
    Job(
        "101",
        "alice",
        [("node-a", 0)],
        1 * H,
        3 * H,
        lambda k: 0.8 if k % 2 else 1.0,
        60 * GIB,
        500.0,
        0.7,
        0.4,
    ),
    Job("102", "bob", [("node-a", 1)], int(1.5 * H), int(5.5 * H), 0.0, 1 * GIB, 60.0),
    Job(
        "103",
        "carol",
        [("node-a", 0), ("node-b", 0), ("node-b", 1)],
        int(3.5 * H),
        7 * H,
        0.6,
        20 * GIB,
        300.0,
        0.5,
        0.2,
        {("node-b", 1): [(5 * H, "13")]},
    ),
    Job(
        "104",
        "dave",
        [("node-b", 2), ("node-b", 3)],
        1 * H,
        6 * H,
        0.5,
        30 * GIB,
        250.0,
        xids={("node-b", 3): [(3 * H, "79")]},
    ),
    Job("105", "erin", [("node-b", 0)], int(7.5 * H), END, 0.95, 35 * GIB, 350.0),
]


def uuid(node: str, gpu: int) -> str:
    return f"GPU-{'a' if node == 'node-a' else 'b'}{gpu:07d}-0000-4000-8000-000000000000"


def job_on(node: str, gpu: int, t: int) -> Job | None:
    for j in JOBS:
        if (node, gpu) in j.gpus and j.start <= t <= j.end:
            return j
    return None


def lost(node: str, gpu: int, t: int) -> bool:
    return (node, gpu) == LOST[:2] and t >= LOST[2]


def _put(series: dict, spec: dict, node: str, g: int, metric: str, t: int, v: float, **extra: str) -> None:
    labels = {
        "job": "gpuwatch-gpu",
        "instance": spec["instance"],
        "node": node,
        "pod": spec["pod"],
        "role": "compute",
        "hourly_cost_usd": f"{spec['price'](t):.2f}",
        "gpu": str(g),
        "uuid": uuid(node, g),
        **extra,
    }
    series.setdefault((metric, tuple(sorted(labels.items()))), []).append((t, v))


def build(t0: int) -> History:
    hist = History()
    times = range(0, END + 1, I)
    for node, spec in NODES.items():
        for g in range(spec["gpus"]):
            series: dict[tuple[str, tuple], list[tuple[float, float]]] = {}

            put = functools.partial(_put, series, spec, node, g)
            energy = 1.0e9 + g * 1.0e6
            xid_totals: dict[str, int] = {}
            events = 0
            for k, t in enumerate(times):
                j = job_on(node, g, t)
                power = j.power if j else IDLE_W
                put("gpuwatch_gpu_info", t, 1.0, name=spec["model"], pci_bus_id=f"00000000:{g + 1:02X}:00.0")
                for jj in JOBS:
                    for (n2, g2), evs in jj.xids.items():
                        if (n2, g2) == (node, g):
                            for when, code in evs:
                                if when == t:
                                    xid_totals[code] = xid_totals.get(code, 0) + 1
                                    events += 1
                put("gpuwatch_gpu_xid_events_total", t, float(events))
                for code, n in xid_totals.items():
                    put("gpuwatch_gpu_xid_errors_total", t, float(n), xid=code)
                if j:
                    put("gpuwatch_gpu_job_info", t, 1.0, job_id=j.job_id, user=j.user)
                if lost(node, g, t):
                    put("gpuwatch_gpu_up", t, 0.0)
                    continue
                put("gpuwatch_gpu_up", t, 1.0)
                util = (j.util(k) if callable(j.util) else j.util) if j else 0.0
                put("gpuwatch_gpu_utilization_ratio", t, util)
                put("gpuwatch_gpu_memory_used_bytes", t, j.memory if j else 0.5 * GIB)
                put("gpuwatch_gpu_memory_total_bytes", t, float(spec["total"]))
                put("gpuwatch_gpu_power_watts", t, power)
                put("gpuwatch_gpu_energy_joules_total", t, energy)
                if spec["gpm"]:
                    put("gpuwatch_gpu_sm_active_ratio", t, j.sm if j else 0.0)
                    put("gpuwatch_gpu_tensor_active_ratio", t, j.tensor if j else 0.0)
                energy += power * I  # joules until the next sample
            for (name, labels), pts in series.items():
                hist.add(name, dict(labels), [(t0 + t, v) for t, v in pts])
    return hist


# --- the expected answers (from the definitions above, not from the samples) ------------------


def per_gpu_cost(node: str, start: int, end: int) -> float:
    spec = NODES[node]
    total, t = 0.0, start
    while t < end:  # price changes only on the hour
        nxt = min(end, (t // H + 1) * H)
        total += (nxt - t) / H * spec["price"](t) / spec["gpus"]
        t = nxt
    return total


def expected_util(j: Job) -> tuple[float, float]:
    ks = [k for k, t in enumerate(range(0, END + 1, I)) if j.start <= t <= j.end]
    vals = [j.util(k) if callable(j.util) else j.util for k in ks]
    return sum(vals) / len(vals), max(vals)
