"""Job attribution, all three ways: real processes' environ, NVML processes + cgroup, mapping folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from gpuwatch.exporters.gpu import attribution
from gpuwatch.exporters.gpu.collectors.base import Options

from .helpers import GPU_FIXTURES, parse_metrics, series, value

# A pod given the node's GPUs 4 and 5: NVML shows them as indices 0 and 1.
POD_GPUS = """
gpus:
  - {uuid: GPU-44444444-0000-4000-8000-000000000000, minor: 4, pci_bus_id: "00000000:9A:00.0"}
  - {uuid: GPU-55555555-0000-4000-8000-000000000000, minor: 5, pci_bus_id: "00000000:AB:00.0"}
"""


@pytest.fixture
def start_job_process():
    """Start real processes (``sleep``) with Slurm variables in their environment."""
    procs = []

    def start(**env) -> subprocess.Popen:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        p = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "60"], env={**clean, **env})
        procs.append(p)
        # Popen returns while the child may still be inside execve: its /proc/PID/environ reads
        # empty until the new stack is set up (often so under Python 3.13, which spawns with
        # posix_spawn). A job's processes are past that point; wait for it like a scan would.
        mark = f"SLURM_JOB_ID={env['SLURM_JOB_ID']}".encode() if "SLURM_JOB_ID" in env else b"="
        deadline = time.monotonic() + 5
        while mark not in Path(f"/proc/{p.pid}/environ").read_bytes():
            assert time.monotonic() < deadline, f"environ of {p.pid} never showed {mark!r}"
            time.sleep(0.001)
        return p

    yield start
    for p in procs:
        p.kill()
        p.wait()


def jobs_by_gpu(m) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set] = {}
    for labels in series(m, "gpuwatch_gpu_job_info"):
        d = dict(labels)
        out.setdefault(d["gpu"], set()).add((d["job_id"], d["user"]))
    return out


def test_allocation_from_real_process_environ_joined_by_minor(make_exporter, start_job_process):
    start_job_process(SLURM_JOB_ID="4242", SLURM_JOB_USER="alice", SLURM_JOB_GPUS="5")
    start_job_process(SLURM_JOB_ID="4243", SLURM_JOB_USER="bob", SLURM_JOB_GPUS="4,5", SLURM_STEP_GPUS="4")
    start_job_process(
        SLURM_JOB_ID="4244", SLURM_JOB_USER="eve", SLURM_JOB_GPUS="0,1"
    )  # other GPUs of the node
    start_job_process(SLURM_JOB_ID="4245", SLURM_JOB_USER="cpuonly")  # no GPUs
    exp = make_exporter(POD_GPUS, ["jobs"], options=Options(proc_root="/proc"))
    exp.collect_once()
    got = jobs_by_gpu(parse_metrics(exp.render()))
    # never joined by NVML index: job 4244 (GPUs 0,1 of the node) is not on this pod's GPUs
    assert got == {"0": {("4243", "bob")}, "1": {("4242", "alice")}}


def test_allocation_by_pci_bus_id_and_uuid(make_exporter, start_job_process):
    start_job_process(SLURM_JOB_ID="51", SLURM_JOB_USER="ann", SLURM_JOB_GPUS="0000:9a:00.0")
    start_job_process(
        SLURM_JOB_ID="52", SLURM_JOB_USER="ben", SLURM_STEP_GPUS="GPU-55555555-0000-4000-8000-000000000000"
    )
    exp = make_exporter(POD_GPUS, ["jobs"], options=Options(proc_root="/proc"))
    exp.collect_once()
    assert jobs_by_gpu(parse_metrics(exp.render())) == {"0": {("51", "ann")}, "1": {("52", "ben")}}


def test_job_ends_series_goes(make_exporter, start_job_process):
    p = start_job_process(SLURM_JOB_ID="61", SLURM_JOB_USER="ann", SLURM_JOB_GPUS="4")
    exp = make_exporter(POD_GPUS, ["jobs"], options=Options(proc_root="/proc"))
    exp.collect_once()
    assert jobs_by_gpu(parse_metrics(exp.render())) == {"0": {("61", "ann")}}
    p.kill()
    p.wait()
    exp.collect_once()
    assert jobs_by_gpu(parse_metrics(exp.render())) == {}


def test_nvml_process_resolved_through_real_proc_environ(make_exporter, start_job_process, tmp_path):
    """Bare metal: NVML reports the PID of a job's process; no GPU variables needed."""
    p = start_job_process(SLURM_JOB_ID="7001", SLURM_JOB_USER="carol")
    exp = make_exporter(
        POD_GPUS + f"processes:\n  - {{gpu: 1, pid: {p.pid}, memory_used: 3GiB}}\n",
        ["jobs"],
        options=Options(proc_root="/proc"),
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert jobs_by_gpu(m) == {"1": {("7001", "carol")}}
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="1", job_id="7001") == 3 * 2**30
    assert value(m, "gpuwatch_gpu_processes", gpu="1") == 1


BARE_GPUS = """
gpus:
  - {uuid: GPU-00000000-0000-4000-8000-000000000000, minor: 0}
  - {uuid: GPU-11111111-0000-4000-8000-000000000000, minor: 1}
"""


def test_nvml_processes_resolved_through_cgroup_fixtures(make_exporter):
    """Bare metal (method b): job 1234 by its cgroup v1 path, 5678 by its cgroup v2 path. PID 1002's
    environ says its job holds GPU 0: on GPU 0 it is trusted, on GPU 1 (NVML listing it there
    means another process with the same PID, as in a container) it is not."""
    exp = make_exporter(
        BARE_GPUS
        + """processes:
  - {gpu: 0, pid: 1001, memory_used: 1GiB}
  - {gpu: 0, pid: 1002, memory_used: 2GiB}
  - {gpu: 1, pid: 1002, memory_used: 4GiB}
""",
        ["jobs"],
        options=Options(proc_root=str(GPU_FIXTURES / "proc")),
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert jobs_by_gpu(m) == {"0": {("1234", "root"), ("5678", "bob")}}
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="0", job_id="1234") == 2**30
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="0", job_id="5678") == 2 * 2**30
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="1", job_id="5678") is None
    assert value(m, "gpuwatch_gpu_processes", gpu="1") == 1


def test_container_host_pids_count_for_the_only_job(make_exporter, start_job_process):
    """RunPod: NVML's PIDs are host PIDs absent from the pod's /proc; the GPU's one job gets the memory."""
    start_job_process(SLURM_JOB_ID="8001", SLURM_JOB_USER="dan", SLURM_JOB_GPUS="4")
    exp = make_exporter(
        POD_GPUS
        + "processes:\n  - {gpu: 0, pid: 4000000, memory_used: 5GiB}\n  - {gpu: 0, pid: 4000001, memory_used: 1GiB}\n",
        ["jobs"],
        options=Options(proc_root="/proc"),
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert jobs_by_gpu(m) == {"0": {("8001", "dan")}}
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="0", job_id="8001") == 6 * 2**30


def test_mapping_dir(make_exporter, tmp_path):
    d = tmp_path / "map"
    d.mkdir()
    (d / "4").write_text("9001\n9002 alice\n")  # by minor number (Slurm's GPU id)
    (d / "GPU-55555555-0000-4000-8000-000000000000").write_text("# comment\n9003\nnot-a-job\n")
    (d / "00000000:9A:00.0").write_text("9004\n")
    (d / "7").write_text("9999\n")  # a GPU this node does not have
    (d / ".hidden").write_text("9998\n")
    exp = make_exporter(
        POD_GPUS, ["jobs"], options=Options(proc_root=str(tmp_path / "noproc"), job_mapping_dir=str(d))
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert jobs_by_gpu(m) == {"0": {("9001", ""), ("9002", "alice"), ("9004", "")}, "1": {("9003", "")}}
    assert value(m, "gpuwatch_gpu_collector_success", collector="jobs") == 1
    # the folder vanishing is a collector failure, not a crash
    shutil.rmtree(d)
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_collector_success", collector="jobs") == 0
    assert value(m, "gpuwatch_gpu_up", gpu="0") == 1


@pytest.mark.parametrize(
    "text,want",
    [
        ("0,1", ["minor:0", "minor:1"]),
        ("0-2,6", ["minor:0", "minor:1", "minor:2", "minor:6"]),
        ("", []),
        ("GPU-abc", ["uuid:GPU-abc"]),
        ("0000:3b:00.0", ["bus:00000000:3B:00.0"]),
        ("x,,7", ["minor:7"]),
    ],
)
def test_parse_gpu_list(text, want):
    assert [f"{r.kind}:{r.value}" for r in attribution.parse_gpu_list(text)] == want


@pytest.mark.parametrize(
    "fixture,job,uid", [("1001", "1234", 0), ("1002", "5678", None), ("1003", None, None)]
)
def test_cgroup_parsing(fixture, job, uid):
    text = (GPU_FIXTURES / "proc" / fixture / "cgroup").read_text()
    assert attribution.job_from_cgroup(text) == (job, uid)


def test_cgroup_job_path_must_be_slurms():
    # another runtime's cgroup with a job_N component is not a Slurm job
    assert attribution.job_from_cgroup("0::/kubepods/besteffort/job_42/cri-containerd-1.scope\n") == (
        None,
        None,
    )
    assert attribution.job_from_cgroup("0::/system.slice/slurmstepd.scope/job_42/step_0/user/task_0\n") == (
        "42",
        None,
    )


def write_proc(root, pid: int, cgroup: str, environ: bytes) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cgroup").write_text(cgroup)
    (d / "environ").write_bytes(environ)
    (d / "status").write_text("Name:\tpython\nUid:\t0\t0\t0\t0\n")


def test_host_pid_colliding_with_an_unrelated_local_process(make_exporter, tmp_path):
    """RunPod: NVML's host PIDs can coincide with local PIDs of other processes. Only a local
    process that is plausibly NVML's (Slurm job cgroup or SLURM_JOB_ID, and its GPUs, when listed,
    include this GPU) is attributed; the others stay unresolved and count for the GPU's only job."""
    proc = tmp_path / "proc"
    # local PID 300: a process in a container runtime's cgroup that happens to contain job_9
    write_proc(proc, 300, "0::/kubepods/pod1/job_9/cri-containerd-abc.scope\n", b"PATH=/bin\0")
    # local PID 301: a plain shell (no Slurm trace at all)
    write_proc(proc, 301, "0::/user.slice/user-0.slice/session-1.scope\n", b"HOME=/root\0")
    # local PID 302: a step of job 8003 whose GPU is 5 (NVML saw the host PID 302 on GPU 4)
    write_proc(
        proc,
        302,
        "0::/system.slice/slurmstepd.scope/job_8003/step_0/user/task_0\n",
        b"SLURM_JOB_ID=8003\0SLURM_JOB_USER=fay\0SLURM_STEP_GPUS=5\0",
    )
    # local PID 303: a step of job 8004 on GPU 4 itself: plausible, attributed
    write_proc(
        proc,
        303,
        "0::/system.slice/slurmstepd.scope/job_8004/step_0/user/task_0\n",
        b"SLURM_JOB_ID=8004\0SLURM_JOB_USER=gus\0SLURM_JOB_GPUS=4\0",
    )
    for p in (1001, 1003):  # a cgroup v1 job and an environ-only job, neither listing GPUs
        shutil.copytree(GPU_FIXTURES / "proc" / str(p), proc / str(p))
    on4 = ("GPU-44444444-0000-4000-8000-000000000000", 4, "00000000:9A:00.0", frozenset())
    scanner = attribution.ProcScanner(str(proc))
    assert scanner.pid_job(302) == ("8003", "fay")  # alone it looks like a job...
    assert scanner.pid_job(302, on4) is None  # ...but not one holding GPU 4
    assert scanner.pid_job(300, on4) is None and scanner.pid_job(301, on4) is None
    assert scanner.pid_job(303, on4) == ("8004", "gus")
    exp = make_exporter(
        POD_GPUS
        + """processes:
  - {gpu: 0, pid: 300, memory_used: 1GiB}
  - {gpu: 0, pid: 301, memory_used: 2GiB}
  - {gpu: 0, pid: 302, memory_used: 4GiB}
  - {gpu: 0, pid: 303, memory_used: 8GiB}
  - {gpu: 1, pid: 1001, memory_used: 16GiB}
  - {gpu: 1, pid: 1003, memory_used: 32GiB}
""",
        ["jobs"],
        options=Options(proc_root=str(proc)),
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    got = jobs_by_gpu(m)
    # GPU 0 (minor 4): only job 8004 is there; PIDs 300-302 are unresolved and count for it
    assert got["0"] == {("8004", "gus")}
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="0", job_id="8004") == 15 * 2**30
    # GPU 1 (minor 5): job 8003 by its allocation (method a); 1001/1003 trusted on their Slurm
    # cgroup / SLURM_JOB_ID since they list no GPUs
    assert got["1"] == {("8003", "fay"), ("1234", "root"), ("91011", "carol")}
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="1", job_id="1234") == 16 * 2**30


def test_mig_uuids_map_to_their_parent_gpu(make_exporter, tmp_path):
    """SLURM_JOB_GPUS / SLURM_STEP_GPUS holding MIG device UUIDs name the parent GPU when NVML lists
    that MIG device; the old MIG-GPU-<parent>/gi/ci form names the parent directly; an unknown MIG
    UUID matches nothing."""
    proc = tmp_path / "proc"
    write_proc(
        proc,
        400,
        "0::/system.slice/slurmstepd.scope/job_71/step_0/user/task_0\n",
        b"SLURM_JOB_ID=71\0SLURM_JOB_USER=ann\0SLURM_STEP_GPUS=MIG-aaaaaaaa-0000-4000-8000-000000000002\0",
    )
    write_proc(
        proc,
        401,
        "0::/system.slice/slurmstepd.scope/job_72/step_0/user/task_0\n",
        b"SLURM_JOB_ID=72\0SLURM_JOB_USER=ben\0SLURM_JOB_GPUS=MIG-GPU-55555555-0000-4000-8000-000000000000/1/0\0",
    )
    write_proc(
        proc,
        402,
        "0::/system.slice/slurmstepd.scope/job_73/step_0/user/task_0\n",
        b"SLURM_JOB_ID=73\0SLURM_JOB_USER=cat\0SLURM_JOB_GPUS=MIG-ffffffff-0000-4000-8000-00000000000f\0",
    )
    exp = make_exporter(
        """
gpus:
  - uuid: GPU-44444444-0000-4000-8000-000000000000
    minor: 4
    mig:
      - {gpu_instance_id: 1, uuid: MIG-aaaaaaaa-0000-4000-8000-000000000001}
      - {gpu_instance_id: 2, uuid: MIG-AAAAAAAA-0000-4000-8000-000000000002}
  - {uuid: GPU-55555555-0000-4000-8000-000000000000, minor: 5}
processes:
  - {gpu: 0, pid: 400, memory_used: 1GiB}
""",
        ["jobs"],
        options=Options(proc_root=str(proc)),
    )
    exp.collect_once()
    m = parse_metrics(exp.render())
    assert jobs_by_gpu(m) == {"0": {("71", "ann")}, "1": {("72", "ben")}}
    # the process on the parent GPU is plausible: its MIG device belongs to that GPU
    assert value(m, "gpuwatch_gpu_job_memory_used_bytes", gpu="0", job_id="71") == 2**30
    ref = attribution.GpuRef("uuid", "MIG-aaaaaaaa-0000-4000-8000-000000000002")
    assert not attribution.matches(
        ref, "GPU-44444444-0000-4000-8000-000000000000", 4, ""
    )  # MIG device not known


def test_environ_parsing_keeps_only_slurm_vars():
    env = attribution.parse_environ(b"PATH=/bin\0SLURM_JOB_ID=12\0SLURM_JOB_GPUS=0,1\0SECRET=x\0broken\0")
    assert env == {"SLURM_JOB_ID": "12", "SLURM_JOB_GPUS": "0,1"}


def test_environ_cache_rereads_new_process(tmp_path):
    proc = tmp_path / "proc"
    (proc / "10").mkdir(parents=True)
    (proc / "10" / "environ").write_bytes(b"SLURM_JOB_ID=1\0SLURM_JOB_GPUS=0\0")
    s = attribution.ProcScanner(str(proc))
    assert set(s.scan()) == {"1"}
    (proc / "10" / "environ").write_bytes(b"SLURM_JOB_ID=2\0SLURM_JOB_GPUS=0\0")
    assert set(s.scan()) == {"1"}  # same process: cached
    shutil.rmtree(proc / "10")
    assert s.scan() == {} and s._cache == {}


def test_environ_read_empty_is_not_cached(tmp_path):
    """A process caught inside execve reads an empty environ: the next scan must read it again."""
    proc = tmp_path / "proc"
    (proc / "10").mkdir(parents=True)
    (proc / "10" / "environ").write_bytes(b"")
    s = attribution.ProcScanner(str(proc), negative_ttl=3600)
    assert s.scan() == {}
    (proc / "10" / "environ").write_bytes(b"SLURM_JOB_ID=3\0SLURM_JOB_GPUS=0\0")
    assert set(s.scan()) == {"3"}  # found at once, not after negative_ttl


def test_real_slurm_job_environ_fixture(make_exporter):
    """Captured from a real Slurm 22.05 job (batch script + srun step); NVML order differs from minors."""
    exp = make_exporter(
        """
gpus:
  - {uuid: GPU-22222222-0000-4000-8000-000000000000, minor: 2}
  - {uuid: GPU-00000000-0000-4000-8000-000000000000, minor: 0}
  - {uuid: GPU-11111111-0000-4000-8000-000000000000, minor: 1}
""",
        ["jobs"],
        options=Options(proc_root=str(GPU_FIXTURES / "proc-slurm-22.05")),
    )
    exp.collect_once()
    assert jobs_by_gpu(parse_metrics(exp.render())) == {"1": {("1", "nobody")}, "2": {("1", "nobody")}}
