"""slurmctld cost of one collection cycle, measured against a real slurmctld (SlurmLab).

1. RPCs per cycle, by message type, counted exactly: ``sdiag -r``, run the command set, ``sdiag``
   (minus that sdiag's own REQUEST_STATS_INFO). Compared side by side with the commands that
   vpenso/prometheus-slurm-exporter (10 commands) and SckyzO/slurm_exporter (14 commands here,
   one ``sinfo -p`` per partition) run on every scrape, as their documentation lists them.
2. Cycle time with 10,000+ jobs (2,000 of them separate held jobs, the rest held array tasks):
   gpuwatch's full cycle (commands + parse + render) as a ratio to running its bare commands
   (output discarded), and the other exporters' command sets. Median of interleaved runs.

Needs root and the Debian packages munge + slurm-wlm.

    sudo python bench/slurm_rpc.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time

from gpuwatch.exporters.slurm.exporter import Exporter
from gpuwatch.exporters.slurm.parsers.sdiag import parse_sdiag
from gpuwatch.exporters.slurm.parsers.sinfo import sinfo_argv
from gpuwatch.exporters.slurm.parsers.squeue import squeue_argv
from gpuwatch.exporters.slurm.runner import Runner, slurm_env
from gpuwatch.localstack.slurm import SlurmLab

GPUWATCH = [sinfo_argv(), squeue_argv(), ["sdiag"]]

# vpenso/prometheus-slurm-exporter, default collectors (accounts, cpus, node, nodes, partitions,
# queue, scheduler, fairshare, users): one command each, partitions two.
VPENSO = [
    ["squeue", "-a", "-r", "-h", "-o", "%A|%a|%T|%C"],
    ["sinfo", "-h", "-o", "%C"],
    ["sinfo", "-h", "-N", "-O", "NodeList,AllocMem,Memory,CPUsState,StateLong"],
    ["sinfo", "-h", "-o", "%D|%T"],
    ["sinfo", "-h", "-o", "%R,%C"],
    ["squeue", "-a", "-r", "-h", "-o", "%P", "--states=PENDING"],
    ["squeue", "-a", "-r", "-h", "-o", "%A,%T,%r", "--states=all"],
    ["sdiag"],
    ["sshare", "-n", "-P", "-o", "account,fairshare"],
    ["squeue", "-a", "-r", "-h", "-o", "%A|%u|%T|%C"],
]


def sckyzo(partitions: list[str]) -> list[list[str]]:
    """SckyzO/slurm_exporter, collectors on by default except gpus (accounts, cpus, fairshare,
    node, nodes, partitions, queue, reservations, scheduler, users); nodes runs one sinfo per
    partition. With the lab's two partitions: 14 commands."""
    cmds = [
        ["squeue", "-a", "-r", "-h", "-o", "%A|%a|%T|%C"],
        ["sinfo", "-h", "-o", "%C"],
        ["sshare", "-n", "-P", "-o", "account,fairshare"],
        ["sinfo", "-h", "-N", "-O", "NodeList,AllocMem,Memory,CPUsState,StateLong,Partition"],
        ["sinfo", "-h", "-o", "%R"],
        ["scontrol", "show", "nodes", "-o"],
    ]
    cmds += [["sinfo", "-h", "-o", "%D|%T|%b", "-p", p] for p in partitions]
    cmds += [
        ["sinfo", "-h", "-o", "%R,%C"],
        ["squeue", "-a", "-r", "-h", "-o", "%P", "--states=PENDING"],
        ["squeue", "-h", "-o", "%P,%T,%C,%r,%u"],
        ["scontrol", "show", "reservation"],
        ["sdiag"],
        ["squeue", "-a", "-r", "-h", "-o", "%A|%u|%T|%C"],
    ]
    return cmds


def rpcs_during(lab: SlurmLab, env: dict, action) -> dict[str, int]:
    lab.run(["sdiag", "-r"])
    action()
    s = parse_sdiag(lab.run(["sdiag"]).stdout)
    counts = {t: c for t, (c, _) in s.rpc_by_type.items()}
    counts["REQUEST_STATS_INFO"] = counts.get("REQUEST_STATS_INFO", 0) - 1  # the closing sdiag
    # only what the client commands asked for (not slurmd's registrations / pings meanwhile)
    return {
        t: c
        for t, c in sorted(counts.items())
        if c > 0
        and t.startswith("REQUEST_")
        and t not in ("REQUEST_PING", "REQUEST_NODE_REGISTRATION_STATUS")
    }


def run_bare(cmds: list[list[str]], env: dict) -> float:
    t0 = time.perf_counter()
    for argv in cmds:
        subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def load(lab: SlurmLab, njobs: int, singles: int) -> tuple[int, int]:
    """Submit ``njobs`` jobs: a few running jobs from several users, ``singles`` held jobs that are
    each their own slurmctld record, and held job arrays for the rest. Returns (jobs, records)."""
    from concurrent.futures import ThreadPoolExecutor

    users = ("nobody", "daemon", None)
    for i in range(6):
        lab.sbatch(
            ["-t", "30", "-p", "gpu" if i % 2 else "debug"] + (["--gpus=1"] if i % 2 else []),
            user=users[i % 3],
        )
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: lab.sbatch(
                    ["--hold", "-t", "10", "-p", "debug,gpu" if i % 7 == 0 else "debug"], user=users[i % 3]
                ),
                range(singles),
            )
        )
    left = njobs - 6 - singles
    while left > 0:
        n = min(left, 10000)
        lab.sbatch(["--hold", f"--array=0-{n - 1}", "-t", "10"], user=users[left % 3], timeout=120)
        left -= n
    tasks = len(lab.run(["squeue", "-a", "-r", "-h", "-o", "%i"], timeout=120).stdout.split())
    records = len(lab.run(["squeue", "-a", "-h", "-o", "%i"], timeout=120).stdout.split())
    return tasks, records


def run(quick: bool = False) -> dict:
    njobs = 2000 if quick else 12000
    singles = 200 if quick else 2000
    reps = 3 if quick else 7
    with SlurmLab(cpus=4, max_job_count=max(20000, njobs * 2), max_array_size=10001) as lab:
        env = slurm_env(lab.env)
        jobs_visible, records = load(lab, njobs, singles)
        parts = [p for p, _ in lab.partitions]
        exporter = Exporter(["jobs", "nodes", "partitions", "scheduler"], Runner(timeout=60, env=lab.env))
        exporter.collect_once()  # warm-up (first cycle remembers finished jobs)
        sets = {
            "gpuwatch (default collectors)": (GPUWATCH, lambda: exporter.collect_once()),
            "vpenso/prometheus-slurm-exporter": (VPENSO, None),
            "SckyzO/slurm_exporter": (sckyzo(parts), None),
        }
        rpc_rows = []
        for name, (cmds, action) in sets.items():
            rpcs = rpcs_during(lab, env, action or (lambda c=cmds: run_bare(c, env)))
            rpc_rows.append(
                {"exporter": name, "commands": len(cmds), "rpcs": sum(rpcs.values()), "by_type": rpcs}
            )
        bare, full, other = [], [], {"vpenso": [], "sckyzo": []}
        for _ in range(reps):  # interleaved so that load from other processes hits all alike
            bare.append(run_bare(GPUWATCH, env))
            t0 = time.perf_counter()
            exporter.collect_once()
            full.append(time.perf_counter() - t0)
            other["vpenso"].append(run_bare(VPENSO, env))
            other["sckyzo"].append(run_bare(sckyzo(parts), env))
        med = statistics.median
        timing = {
            "jobs": jobs_visible,
            "job_records": records,
            "repetitions": reps,
            "bare_commands_s": round(med(bare), 3),
            "exporter_cycle_s": round(med(full), 3),
            "ratio": round(med(full) / med(bare), 2),
            "vpenso_commands_s": round(med(other["vpenso"]), 3),
            "sckyzo_commands_s": round(med(other["sckyzo"]), 3),
        }
    return {
        "name": "slurm_rpc",
        "title": "Slurm exporter: slurmctld RPCs per cycle and cycle time against a real slurmctld",
        "rpc_rows": rpc_rows,
        "timing": timing,
        "goal": "<= 5 RPCs per cycle; cycle time <= 1.5x the bare commands with 10,000+ jobs",
        "goal_met": rpc_rows[0]["rpcs"] <= 5 and timing["ratio"] <= 1.5 and (quick or jobs_visible >= 10000),
    }


def print_table(res: dict) -> None:
    print(res["title"])
    print(f"{'exporter':<34} {'commands':>8} {'RPCs':>5}  by message type")
    for r in res["rpc_rows"]:
        types = ", ".join(f"{t.removeprefix('REQUEST_')}={c}" for t, c in r["by_type"].items())
        print(f"{r['exporter']:<34} {r['commands']:>8} {r['rpcs']:>5}  {types}")
    t = res["timing"]
    print(
        f"\ncycle time with {t['jobs']} jobs in {t['job_records']} slurmctld job records "
        f"(median of {t['repetitions']}):"
    )
    print(f"  gpuwatch bare commands      {t['bare_commands_s']:>7} s")
    print(f"  gpuwatch full cycle         {t['exporter_cycle_s']:>7} s   ratio {t['ratio']}x")
    print(f"  vpenso command set          {t['vpenso_commands_s']:>7} s")
    print(f"  SckyzO command set          {t['sckyzo_commands_s']:>7} s")
    print(f"goal ({res['goal']}): {'met' if res['goal_met'] else 'NOT met'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 jobs, 3 repetitions")
    print_table(run(ap.parse_args().quick))
