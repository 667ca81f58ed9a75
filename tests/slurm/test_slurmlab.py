"""SlurmLab itself on every Slurm version: private daemons up, jobs as other users, the version's
quirks applied, and a clean stop (no process left, nothing left running in a version root)."""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import SLURM_VERSIONS, start_lab

from gpuwatch.localstack import roots
from gpuwatch.localstack.slurm import SlurmLabError, pid_alive, version_quirks

pytestmark = pytest.mark.slurm


def test_version_quirks_in_one_place():
    host = version_quirks((22, 5), in_root=False)
    assert (host.cgroup_conf, host.munged_args, host.numeric_user_refs) == ("", (), False)
    q24 = version_quirks((24, 11), in_root=True)
    assert q24.cgroup_conf == "CgroupPlugin=disabled\n" and q24.munged_args == ("--origin=127.0.0.1",)
    assert not q24.numeric_user_refs and version_quirks((26, 5), in_root=True).numeric_user_refs


@pytest.mark.parametrize("version", SLURM_VERSIONS)
def test_lab_runs_jobs_and_stops_cleanly(version, tmp_path_factory):
    lab = start_lab(version, tmp_path_factory, gpus=2)
    base = lab.requested_dir
    with lab:
        assert lab.env["SLURM_CONF"] == str(lab.conf)
        assert "AuthInfo=socket=" in lab.conf.read_text()  # never the system munge socket
        assert f"SlurmctldPort={lab.ctld_port}" in lab.conf.read_text()
        # the clients on lab.env's PATH (and in lab.bin_dir) are this version's
        v = subprocess.run(["sinfo", "--version"], env=lab.env, capture_output=True, text=True, timeout=60)
        assert v.stdout.split()[-1] == lab.version_string, v
        assert (lab.bin_dir / "squeue").exists()
        jid = lab.sbatch(["-p", "gpu", "--gres=gpu:fake:1"], user="nobody", wrap="sleep 300")
        lab.wait_for(
            lambda: lab.run(["squeue", "-h", "-j", jid, "-o", "%T"]).stdout.strip() == "RUNNING",
            what="job running",
        )
        assert lab.run(["squeue", "-h", "-j", jid, "-o", "%u"]).stdout.strip() == "nobody"
        nodes = lab.scontrol("show", "node", lab.node, "-o", "-d")
        assert "Gres=gpu:fake:2" in nodes and "GresUsed=gpu:fake:1" in nodes
        assert f"Version={lab.version_string}" in nodes
        assert "PartitionName=debug" in lab.scontrol("show", "partition", "debug", "-o")
        # a user named the way this version accepts it (26.05: the uid)
        lab.run(["scancel", "--user", lab.user_ref("nobody"), "--state=PENDING"])
        job_pids = lab._marked_pids()
        assert job_pids, "job processes are marked for stop()"
        daemons = [lab.munged_pid, lab.slurmctld_pid, lab.slurmd_pid]
        with pytest.raises(SlurmLabError, match="exited"):
            lab.run(["scontrol", "show", "job", "999999"])
        run_dir = lab.dir
    for pid in daemons + job_pids:
        assert not pid_alive(pid), pid
    assert not run_dir.exists()
    assert (base / "slurmlab-logs" / "slurmctld.log").exists()
    if lab.in_root:  # nothing of this lab still runs in the root (others may use it meanwhile)
        assert lab.root is not None
        ours = []
        for pid in roots._processes_inside(lab.root.path):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f, open(f"/proc/{pid}/environ", "rb") as e:
                    if str(run_dir).encode() in f.read() + e.read():
                        ours.append(pid)
            except OSError:
                continue
        assert ours == []
        # nor anything in its slurmd's mount namespace: job steps (24.11+ slurmstepd clears its
        # environment and outlives slurmd as init's child) are stopped with the lab
        assert lab._slurmd_mntns, "the lab noted its slurmd's mount namespace"
        left = []
        for entry in os.listdir("/proc"):
            try:
                if entry.isdigit() and os.readlink(f"/proc/{entry}/ns/mnt") in lab._slurmd_mntns:
                    left.append(int(entry))
            except OSError:
                continue
        assert left == [], "processes left in the lab's slurmd namespace"
    assert str(run_dir) not in open("/proc/self/mountinfo").read()
    lab.stop()  # idempotent
