"""Record real Slurm output in the exact formats the exporter asks for (maintainer tool).

    sudo .venv/bin/python tests/slurm/record_fixtures.py tests/fixtures/slurm/lab-22.05

Starts a SlurmLab, builds a cluster state (running GPU jobs from several users, pending jobs with
Resources/Priority/JobHeldUser/BeginTime/Dependency/PartitionConfig/PartitionNodeLimit/
JobArrayTaskLimit, a job pending in two partitions, finished jobs, a maintenance reservation),
and saves each command's stdout per stage (busy, draining, down). INDEX.tsv lists the commands.
Not run by the tests: the files it writes are the test input.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

from gpuwatch.exporters.slurm.parsers.sinfo import sinfo_argv  # noqa: E402
from gpuwatch.exporters.slurm.parsers.squeue import squeue_argv  # noqa: E402
from gpuwatch.exporters.slurm.runner import slurm_env  # noqa: E402
from gpuwatch.localstack.slurm import SlurmLab  # noqa: E402

COMMANDS = {
    "sinfo.txt": sinfo_argv(),
    "squeue.txt": squeue_argv(),
    "sdiag.txt": ["sdiag"],
    "licenses.txt": ["scontrol", "show", "licenses", "-o"],
    "reservations.txt": ["scontrol", "show", "reservation", "-o"],
    "sshare.txt": ["sshare", "-a", "-P"],
}


def record(lab: SlurmLab, out: Path, stage: str, index: list[str]) -> None:
    d = out / stage
    d.mkdir(parents=True, exist_ok=True)
    env = slurm_env(lab.env)
    for fname, argv in COMMANDS.items():
        r = lab.run(argv, env=env)
        (d / fname).write_text(r.stdout)
        index.append(f"{stage}/{fname}\t{' '.join(argv)}")


def main(out: str) -> None:
    outdir = Path(out)
    index = ["file\tcommand"]
    with SlurmLab(cpus=4) as lab:
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
        lab.sbatch(["-c", "8", "-J", "too_many_cpus", "-t", "10"])
        lab.sbatch(["-N", "2", "-J", "too_many_nodes", "-t", "10"])
        lab.scontrol(
            "create",
            "reservation",
            "ReservationName=maint_window",
            "StartTime=now+2hours",
            "Duration=60",
            "Nodes=ALL",
            "Users=root",
            "Flags=MAINT,IGNORE_JOBS",
        )
        lab.sbatch(["-J", "no_limit"], user="nobody")  # overlaps the reservation: ReqNodeNotAvail
        time.sleep(6)  # let the main and backfill schedulers assign reasons
        record(lab, outdir, "busy", index)
        lab.set_node_state("drain", "gpu fell off the bus")
        time.sleep(1)
        record(lab, outdir, "draining", index)
        lab.set_node_state("down", "node dead")
        time.sleep(1)
        record(lab, outdir, "down", index)
    (outdir / "INDEX.tsv").write_text("\n".join(index) + "\n")
    (outdir / "VERSION").write_text("Slurm 22.05.8 (Debian 12), recorded by tests/slurm/record_fixtures.py\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "tests/fixtures/slurm/lab-22.05"))
