"""Record real Slurm output in the exact formats the exporter asks for (maintainer tool).

    sudo .venv/bin/python tests/slurm/record_fixtures.py [--version 24.11] [OUT_DIR]

(default OUT_DIR: tests/fixtures/slurm/lab-VERSION; 22.05 is the host's Slurm, 24.11 and 26.05
run from the Debian trixie and sid roots of gpuwatch.localstack.roots, built when missing)

Starts a SlurmLab, builds a cluster state (running GPU jobs from several users, pending jobs with
Resources/Priority/JobHeldUser/BeginTime/Dependency/PartitionConfig/PartitionNodeLimit/
JobArrayTaskLimit, a job pending in two partitions, finished jobs, a maintenance reservation),
and saves each command's stdout per stage (busy, draining, down; for the newer versions also
resumed: the node back in service). INDEX.tsv lists the commands; scontrol_show_node.txt (one
line per node) is saved beside them so tests can compare the exporter with scontrol.
Not run by the tests: the files it writes are the test input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from gpuwatch.exporters.slurm.parsers.sinfo import sinfo_argv  # noqa: E402
from gpuwatch.exporters.slurm.parsers.squeue import squeue_argv  # noqa: E402
from gpuwatch.exporters.slurm.runner import slurm_env  # noqa: E402
from gpuwatch.localstack.slurm import VERSION_SUITES, SlurmLab, SlurmLabError  # noqa: E402

COMMANDS = {
    "sinfo.txt": sinfo_argv(),
    "squeue.txt": squeue_argv(),
    "sdiag.txt": ["sdiag"],
    "licenses.txt": ["scontrol", "show", "licenses", "-o"],
    "reservations.txt": ["scontrol", "show", "reservation", "-o"],
    "sshare.txt": ["sshare", "-a", "-P"],
}


EXTRA = {"scontrol_show_node.txt": ["scontrol", "show", "node", "--details", "--oneliner"]}


def record(lab: SlurmLab, out: Path, stage: str, index: list[str], extra: bool = False) -> None:
    d = out / stage
    d.mkdir(parents=True, exist_ok=True)
    env = slurm_env(lab.env)
    for fname, argv in {**COMMANDS, **(EXTRA if extra else {})}.items():
        r = lab.run(argv, env=env)
        (d / fname).write_text(r.stdout)
        index.append(f"{stage}/{fname}\t{' '.join(argv)}")


def main(out: str, version: str = "22.05") -> None:
    outdir = Path(out)
    index = ["file\tcommand"]
    newer = version != "22.05"  # 22.05's files are the golden input: recorded as they always were
    with SlurmLab(cpus=4, root=VERSION_SUITES[version]) as lab:
        lab.sbatch(["-J", "ok"], wrap="true")
        lab.sbatch(["-J", "fails"], wrap="false", user="nobody")
        c = lab.sbatch(["-J", "cancelled", "--hold"])
        lab.run(["scancel", c])
        lab.wait_for(
            lambda: (
                "COMPLETED" in lab.run(["squeue", "-h", "-t", "all", "-o", "%T"]).stdout
                and "FAILED" in lab.run(["squeue", "-h", "-t", "all", "-o", "%T"]).stdout
            ),
            what="short jobs finished",
        )
        a = lab.sbatch(["-p", "gpu", "--gpus=1", "-J", "gpus_flag", "-t", "10"], user="nobody")
        lab.sbatch(["-p", "gpu", "--gres=gpu:fake:1", "-J", "gres_typed", "-t", "10"], user="daemon")
        lab.wait_for(
            lambda: lab.run(["squeue", "-h", "-t", "R", "-o", "%i"]).stdout.split().__len__() == 2,
            what="two GPU jobs running",
        )
        lab.sbatch(["-p", "gpu", "--gpus-per-node=2", "-J", "gpn", "-t", "10"], user="nobody")
        lab.sbatch(["-p", "debug,gpu", "--gres=gpu:1", "-J", "multi_part", "-t", "10"])
        lab.sbatch(["--hold", "-J", "held", "-t", "10"], user="daemon")
        lab.sbatch(["--begin=now+1hour", "-J", "later", "-t", "10"], user="nobody")
        lab.sbatch([f"--dependency=afterok:{a}", "-J", "dep", "-t", "10"], user="nobody")
        lab.sbatch(["--array=0-3%2", "-L", "matlab:1", "-J", "arr", "-t", "10"], user="daemon")
        for args in (["-c", "8", "-J", "too_many_cpus"], ["-N", "2", "-J", "too_many_nodes"]):
            try:  # 22.05 queues these (PartitionConfig, PartitionNodeLimit); 24.11+ refuses at submit
                lab.sbatch([*args, "-t", "10"])
            except SlurmLabError as err:
                print(f"{version}: {args[-1]} refused at submit: {str(err).splitlines()[-1]}")
        lab.scontrol(
            "create",
            "reservation",
            "ReservationName=maint_window",
            "StartTime=now+2hours",
            "Duration=60",
            "Nodes=ALL",
            f"Users={lab.user_ref('root')}",
            "Flags=MAINT,IGNORE_JOBS",
        )
        lab.sbatch(["-J", "no_limit"], user="nobody")  # overlaps the reservation: ReqNodeNotAvail
        time.sleep(6)  # let the main and backfill schedulers assign reasons
        record(lab, outdir, "busy", index, newer)
        lab.set_node_state("drain", "gpu fell off the bus")
        time.sleep(1)
        record(lab, outdir, "draining", index, newer)
        lab.set_node_state("down", "node dead")
        time.sleep(1)
        record(lab, outdir, "down", index, newer)
        if newer:
            lab.set_node_state("resume")
            lab.wait_for(  # (pending jobs may start at once: idle or mixed)
                lambda: (
                    lab.node_states() and not any(w.startswith(("down", "drain")) for w in lab.node_states())
                ),
                what="node back in service",
            )
            record(lab, outdir, "resumed", index, newer)
        where = "Debian 12" if lab.root is None or lab.root.is_host else f"Debian {lab.root.suite} root"
        (outdir / "INDEX.tsv").write_text("\n".join(index) + "\n")
        (outdir / "VERSION").write_text(
            f"Slurm {lab.version_string} ({where}), recorded by tests/slurm/record_fixtures.py\n"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="record real Slurm output for the parser tests")
    ap.add_argument("--version", choices=sorted(VERSION_SUITES), default="22.05")
    ap.add_argument("out", nargs="?", help="output folder (default tests/fixtures/slurm/lab-VERSION)")
    a = ap.parse_args()
    main(a.out or str(ROOT / f"tests/fixtures/slurm/lab-{a.version}"), a.version)
