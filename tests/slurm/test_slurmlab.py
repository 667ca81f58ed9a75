"""SlurmLab itself: private daemons up, jobs as other users, and a clean stop (no process left)."""

from __future__ import annotations

import os

import pytest
from conftest import IN_CI, require_programs

from gpuwatch.localstack.slurm import SlurmLab, SlurmLabError, pid_alive

pytestmark = pytest.mark.slurm


def test_lab_runs_jobs_and_stops_cleanly(tmp_path):
    require_programs("munged", "mungekey", "slurmctld", "slurmd", "sbatch")
    if (
        os.geteuid() != 0
    ):  # under CI=true a missing prerequisite fails, never skips (as in conftest.slurm_lab)
        if IN_CI:
            pytest.fail("CI=true and SlurmLab needs root")
        pytest.skip("SlurmLab needs root")
    lab = SlurmLab(tmp_path, gpus=2)
    with lab:
        assert lab.env["SLURM_CONF"] == str(lab.conf)
        assert "AuthInfo=socket=" in lab.conf.read_text()  # never the system munge socket
        assert f"SlurmctldPort={lab.ctld_port}" in lab.conf.read_text()
        jid = lab.sbatch(["-p", "gpu", "--gres=gpu:fake:1"], user="nobody", wrap="sleep 300")
        lab.wait_for(
            lambda: lab.run(["squeue", "-h", "-j", jid, "-o", "%T"]).stdout.strip() == "RUNNING",
            what="job running",
        )
        assert lab.run(["squeue", "-h", "-j", jid, "-o", "%u"]).stdout.strip() == "nobody"
        nodes = lab.scontrol("show", "node", lab.node, "-o", "-d")
        assert "Gres=gpu:fake:2" in nodes and "GresUsed=gpu:fake:1" in nodes
        assert "PartitionName=debug" in lab.scontrol("show", "partition", "debug", "-o")
        job_pids = lab._marked_pids()
        assert job_pids, "job processes are marked for stop()"
        daemons = [lab.munged_pid, lab.slurmctld_pid, lab.slurmd_pid]
        with pytest.raises(SlurmLabError, match="exited"):
            lab.run(["scontrol", "show", "job", "999999"])
        run_dir = lab.dir
    for pid in daemons + job_pids:
        assert not pid_alive(pid), pid
    assert not run_dir.exists()
    assert (tmp_path / "slurmlab-logs" / "slurmctld.log").exists()
    lab.stop()  # idempotent
