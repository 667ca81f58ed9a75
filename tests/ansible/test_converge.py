"""Converge ansible/configure.yml for real on namespaced hosts made on this machine (nshost.py):
munge, configless Slurm and both exporters, checked with pytest-testinfra over the same SSH
path Ansible used; then converge again and expect changed=0. A second test joins two hosts
over a veth link and runs a job on both.

The single-host test runs once per host userland (HOST_VERSIONS): the machine's own Debian 12
(Slurm 22.05, Python 3.11) and Debian trixie's from its version root (Slurm 24.11, Python 3.13;
gpuwatch.localstack.roots, built by `make labs`), since the pods run a newer Slurm than 22.05.

Needs root (network namespaces, overlay mounts), iproute2, util-linux's unshare, OpenSSH and
Debian's munge + slurm-wlm: `make deps` installs them; the trixie root needs debootstrap (under
CI=true a root that cannot be built fails the test).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra
from conftest import IN_CI, require_programs, require_root
from converge import PERSIST_DIR, write_inventory
from nshost import Cluster, start_time
from playbook_runner import ANSIBLE_DIR, ROOT, playbook

from gpuwatch.localstack.slurm import VERSION_SUITES

pytestmark = [pytest.mark.ansible, pytest.mark.slurm, pytest.mark.timeout(900)]

CONFIGURE = ANSIBLE_DIR / "configure.yml"
PROGRAMS = (
    "ip",
    "unshare",
    "sshd",
    "ssh",
    "ssh-keygen",
    "munged",
    "mungekey",
    "munge",
    "slurmctld",
    "slurmd",
    "srun",
    "sinfo",
    "scontrol",
    "python3",
)
GPU_METRIC = "gpuwatch_gpu_temperature_celsius"
SLURM_METRIC = "gpuwatch_slurm_node_state"


def require_root_and_programs():
    require_programs(*PROGRAMS)
    if os.geteuid() != 0:
        msg = "needs root (network namespaces and overlay mounts)"
        if IN_CI:
            pytest.fail("CI=true and " + msg, pytrace=False)
        pytest.skip(msg)


HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Slurm versions the single-host converge runs with: the machine's packages and trixie's root.
HOST_VERSIONS = ("22.05", "24.11")


@dataclass(frozen=True)
class HostOS:
    """The userland a test host runs: the Slurm version, the Debian suite root (None: the
    machine's own), its Python (X.Y) and Debian codename."""

    slurm: str
    root: Path | None
    python: str
    codename: str


@pytest.fixture(params=HOST_VERSIONS)
def host_os(request) -> HostOS:
    require_root_and_programs()
    suite = VERSION_SUITES[request.param]
    if suite == "host":
        codename = re.search(r"^VERSION_CODENAME=(\S+)", Path("/etc/os-release").read_text(), re.M)
        return HostOS(request.param, None, HOST_PYTHON, codename.group(1) if codename else "")
    root = require_root(suite)  # built when missing; CI=true: a root that cannot be built fails
    python = re.match(r"\d+\.\d+", root.version("python3") or "")
    assert python, f"{root}: no python3 version in {root.info}"
    return HostOS(request.param, root.path, python.group(0), suite)


def build_wheelhouse(out: Path, python: str) -> Path:
    """gpuwatch[exporters]' dependency wheels (+ supervisor) for nodes with Python PYTHON (X.Y), which have no
    package index: built by this Python when it is that version, else downloaded as binary wheels
    for it (as one prepares an offline node whose Python differs from the control machine's)."""
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = [sys.executable, "-m", "pip"]
    # the role installs gpuwatch[exporters] at its pinned versions: the same here
    pinned = ["--constraint", str(ROOT / "ansible/roles/gpuwatch_exporters/files/constraints.txt")]
    if python == HOST_PYTHON:
        cmd = [
            *pip,
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(out),
            *pinned,
            f"{ROOT}[exporters]",
            "supervisor>=4.2,<5",
        ]
    else:
        subprocess.run(
            [*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        abi = "cp" + python.replace(".", "")
        cmd = [*pip, "download", "--quiet", "--dest", str(out), "--only-binary=:all:"]
        cmd += ["--python-version", python, "--implementation", "cp", "--abi", abi, "--abi", "abi3"]
        cmd += ["--abi", "none"]
        arch = os.uname().machine
        for platform in ("manylinux_2_28", "manylinux_2_17", "manylinux2014"):
            cmd += ["--platform", f"{platform}_{arch}"]
        cmd += [*pinned, f"{next(out.glob('gpuwatch-*.whl'))}[exporters]", "supervisor>=4.2,<5"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
    for whl in out.glob("gpuwatch-*.whl"):
        whl.unlink()
    return out


@pytest.fixture(scope="module")
def wheelhouses(tmp_path_factory):
    """wheelhouses(python) -> the folder of dependency wheels for Python X.Y (made once per module)."""
    made: dict[str, Path] = {}

    def get(python: str) -> Path:
        if python not in made:
            made[python] = build_wheelhouse(tmp_path_factory.mktemp(f"wheelhouse-py{python}"), python)
        return made[python]

    return get


@pytest.fixture(scope="module")
def wheelhouse(wheelhouses):
    """The wheelhouse for hosts running the machine's own Python."""
    require_root_and_programs()
    return wheelhouses(HOST_PYTHON)


def node_name() -> str:
    return "gw" + secrets.token_hex(6)  # shaped like a RunPod pod id (14 lowercase alnum)


def converge(cluster, tmp_path, extra_vars, controller, name):
    extra = write_inventory(
        cluster,
        tmp_path / "inventory.yml",
        controller,
        {
            "gpuwatch_exporters_gpu_scenario_file": str(ROOT / "exporters/gpu/scenarios/default.yaml"),
            "gpuwatch_exporters_basic_auth_password_file": str(tmp_path / "scrape_password"),
            "gpuwatch_targets_dir": str(tmp_path / "targets"),
            "gpuwatch_exporters_build_dir": str(tmp_path / "dist"),
            "gpuwatch_cluster_name": "gwci",
            **extra_vars,
        },
    )
    started = time.monotonic()
    run = playbook(
        CONFIGURE,
        "-e",
        f"@{extra}",
        inventory=tmp_path / "inventory.yml",
        log_path=tmp_path / f"{name}.log",
        timeout=600,
        env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(cluster.control_dir)},
    )
    run.seconds = time.monotonic() - started
    print(f"{name}: rc={run.rc} {run.seconds:.0f}s recap={run.recap}")
    assert run.rc == 0, run.out[-6000:]
    return run


def scrape(host, port, password, with_auth=True):
    """GET /metrics on the host itself (inside its network namespace): (status, body);
    status 0 when nothing listens (yet)."""
    code = (
        "import base64,os,sys,urllib.request,urllib.error\n"
        "r=urllib.request.Request(sys.argv[1])\n"
        "pw=os.environ.get('GW_PW')\n"
        "pw and r.add_header('Authorization','Basic '+base64.b64encode(('gpuwatch:'+pw).encode()).decode())\n"
        "try:\n"
        "  b=urllib.request.urlopen(r,timeout=10); print(b.status); sys.stdout.write(b.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "  print(e.code)\n"
        "except OSError:\n"
        "  print(0)\n"
    )
    env = f"GW_PW={shlex.quote(password)} " if with_auth else ""
    out = host.check_output(f"{env}python3 -c {shlex.quote(code)} http://127.0.0.1:{port}/metrics")
    status, _, body = out.partition("\n")
    return int(status), body


def exporter_pid(host, program):
    out = host.check_output(
        f"{PERSIST_DIR}/venv/bin/supervisorctl -c {PERSIST_DIR}/etc/supervisord.conf pid {program}"
    )
    return int(out.strip())


def has(file, pattern: str) -> bool:
    """Python regex search (multi-line) over a testinfra file's content."""
    return re.search(pattern, file.content_string, re.M) is not None


def daemon(host, pidfile):
    return host.process.get(pid=int(host.file(pidfile).content_string.strip()))


def identity(pid: int):
    """(pid, start time) of a live, non-zombie process, else None: PIDs get reused."""
    st = start_time(pid)
    return None if st is None else (pid, st)


def alive(ident) -> bool:
    return ident is not None and identity(ident[0]) == ident


def assert_no_secret_in(texts, *secrets_):
    for text in texts:
        for secret in secrets_:
            assert secret not in text


def test_single_host_converges_and_is_idempotent(tmp_path, wheelhouses, host_os):
    require_root_and_programs()
    name = node_name()
    wheelhouse = wheelhouses(host_os.python)
    started = time.monotonic()
    with Cluster(tmp_path / "hosts", [name], root=host_os.root) as cluster:
        first = converge(
            cluster, tmp_path, {"gpuwatch_exporters_wheelhouse": str(wheelhouse)}, name, "converge1"
        )
        password = (tmp_path / "scrape_password").read_text().strip()
        assert len(password) >= 32
        host = testinfra.get_host(f"ssh://{name}", ssh_config=str(cluster.ssh_config))

        # The host runs the userland under test: its release, Slurm and Python (the venv's too).
        assert has(host.file("/etc/os-release"), f"^VERSION_CODENAME={host_os.codename}$")
        assert re.fullmatch(
            rf"slurm(-wlm)? {re.escape(host_os.slurm)}\.\d+", host.check_output("slurmctld -V")
        )
        assert re.fullmatch(rf"slurm(-wlm)? {re.escape(host_os.slurm)}\.\d+", host.check_output("slurmd -V"))
        venv_python = host.check_output(f"{PERSIST_DIR}/venv/bin/python -V")
        assert venv_python.startswith(f"Python {host_os.python}."), venv_python

        # Daemons, found through their pid files in the host's private /run (the PID namespace is
        # the machine's), with their owners; all were started over SSH sessions that have ended.
        for pidfile, comm, user in (
            ("/run/munge/munged.pid", "munged", "munge"),
            ("/run/slurm/slurmctld.pid", "slurmctld", "slurm"),
            ("/run/slurm/slurmd.pid", "slurmd", "root"),
            ("/run/gpuwatch/supervisord.pid", None, "root"),
        ):
            proc = daemon(host, pidfile)
            assert proc.user == user and (comm is None or proc.comm == comm), (pidfile, proc)
        gpu_exporter = host.process.get(pid=exporter_pid(host, "gpu-exporter"))
        slurm_exporter = host.process.get(pid=exporter_pid(host, "slurm-exporter"))
        assert gpu_exporter.user == slurm_exporter.user == "gpuwatch"
        assert "bin/gpuwatch-gpu-exporter --web.listen-address=:9400" in gpu_exporter.args
        assert f"--nvml.scenario={PERSIST_DIR}/etc/gpu-scenario.yaml" in gpu_exporter.args
        assert "--gpu.hourly-cost-usd=0.69" in gpu_exporter.args  # the pod's price, as in its file_sd label
        assert "bin/gpuwatch-slurm-exporter --web.listen-address=:9341" in slurm_exporter.args
        assert daemon(host, "/run/slurm/slurmd.pid").args.endswith(
            f"--conf-server {name}.runpod.internal:6817"
        )

        # Files: owners, modes, contents.
        key = host.file("/etc/munge/munge.key")
        assert (key.user, key.group, key.mode) == ("munge", "munge", 0o400)
        conf = host.file("/etc/slurm/slurm.conf")
        assert (conf.user, conf.mode) == ("root", 0o644)
        assert has(conf, f"^SlurmctldHost={name}\\({name}.runpod.internal\\)$")
        assert has(conf, "^SlurmctldParameters=enable_configless$")
        assert has(conf, "^ProctrackType=proctrack/linuxproc$")
        assert has(
            conf,
            f"^NodeName={name} NodeAddr={name}.runpod.internal CPUs=[0-9]+ RealMemory=[0-9]+ State=UNKNOWN$",
        )
        assert has(conf, "# Managed by gpuwatch Ansible")
        cgroup = host.file("/etc/slurm/cgroup.conf")
        if tuple(map(int, host_os.slurm.split("."))) >= (23, 2):
            # Nothing uses cgroups (linuxproc, task/none): disabled, which 24.11 needs without a cgroup fs.
            expected_plugin = "disabled"
        else:
            expected_plugin = (
                "cgroup/v2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "cgroup/v1"
            )
        assert has(cgroup, f"^CgroupPlugin={expected_plugin}$"), cgroup.content_string
        state = host.file(f"{PERSIST_DIR}/slurmctld")
        assert (state.user, state.mode) == ("slurm", 0o700)
        web = host.file(f"{PERSIST_DIR}/etc/web-config.yml")
        assert (web.user, web.group, web.mode) == ("root", "gpuwatch", 0o640)
        assert has(web, r"gpuwatch: \"\$2b\$10\$") and password not in web.content_string
        assert host.file(f"{PERSIST_DIR}/start.sh").mode == 0o755
        assert host.file(f"{PERSIST_DIR}/munge/munge.key").mode == 0o400

        # Slurm works.
        assert host.check_output("sinfo --noheader --Node --format '%N %T'").split() == [name, "idle"]
        assert host.check_output("srun --nodes=1 hostname").strip() == name

        # Both exporters answer behind basic auth, and refuse without it.
        status, body = scrape(host, 9400, password)
        assert status == 200 and GPU_METRIC in body
        status, body = scrape(host, 9341, password)
        assert status == 200 and f'{SLURM_METRIC}{{node="{name}"' in body
        assert scrape(host, 9400, password, with_auth=False)[0] == 401

        # supervisord restarts an exporter that dies.
        before = exporter_pid(host, "gpu-exporter")
        host.check_output(f"kill -9 {before}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                after = exporter_pid(host, "gpu-exporter")
            except AssertionError:
                after = 0
            if after and after != before:
                break
            time.sleep(0.5)
        assert after and after != before
        deadline = time.monotonic() + 30
        while scrape(host, 9400, password)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert scrape(host, 9400, password)[0] == 200

        # The start script on the persistent volume finds everything running.
        out = host.check_output(f"{PERSIST_DIR}/start.sh")
        assert [line.split(" ")[:2] for line in out.splitlines()] == [
            ["munged", "running"],
            ["slurmctld", "running"],
            ["slurmd", "running"],
            ["supervisord", "running"],
        ]

        # A pod restart wipes the container disk: the daemons and /run are gone, and so are the
        # files outside the persistent volume. start.sh brings everything back from the volume.
        bin_dir = f"{PERSIST_DIR}/bin"
        host.check_output(
            " && ".join(
                f"{bin_dir}/{c} stop"
                for c in ("gpuwatch-exporters-ctl", "slurmd-ctl", "slurmctld-ctl", "munge-ctl")
            )
        )
        host.check_output(
            "rm -rf /etc/munge/munge.key /etc/slurm/slurm.conf /etc/slurm/gres.conf"
            " /etc/slurm/cgroup.conf /run/munge /run/slurm /run/gpuwatch"
        )
        out = host.check_output(f"{PERSIST_DIR}/start.sh")
        assert [line.split(" ")[:2] for line in out.splitlines()] == [
            ["munged", "started"],
            ["slurmctld", "started"],
            ["slurmd", "started"],
            ["supervisord", "started"],
        ]
        key = host.file("/etc/munge/munge.key")
        assert (key.user, key.mode) == ("munge", 0o400)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if host.run("sinfo --noheader --Node --format '%N %T'").stdout.split() == [name, "idle"]:
                break
            time.sleep(1)
        assert host.check_output("srun --nodes=1 hostname").strip() == name
        deadline = time.monotonic() + 30
        while scrape(host, 9400, password)[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert scrape(host, 9341, password)[0] == 200 and scrape(host, 9400, password)[0] == 200

        # file_sd targets for compose/.
        gpu_targets = json.loads((tmp_path / "targets" / "gpuwatch-gpu.json").read_text())
        assert gpu_targets == [
            {
                "targets": [f"{name}-9400.proxy.runpod.net:443"],
                "labels": {"node": name, "pod": name, "role": "head", "hourly_cost_usd": "0.69"},
            }
        ]
        slurm_targets = json.loads((tmp_path / "targets" / "gpuwatch-slurm.json").read_text())
        assert slurm_targets == [
            {
                "targets": [f"{name}-9341.proxy.runpod.net:443"],
                "labels": {"pod": name, "role": "head", "hourly_cost_usd": "0.69"},
            }
        ]

        # Converge again: nothing changes.
        second = converge(
            cluster, tmp_path, {"gpuwatch_exporters_wheelhouse": str(wheelhouse)}, name, "converge2"
        )
        assert second.changed() == 0, second.changed_tasks()

        munge_key = host.check_output("base64 -w0 /etc/munge/munge.key")
        logs = [
            first.out,
            second.out,
            (tmp_path / "converge1.log").read_text(),
            (tmp_path / "converge2.log").read_text(),
        ]
        assert_no_secret_in(logs, password, munge_key)
        pids = [identity(p) for p in cluster.hosts[0].pids()]
        assert len(pids) >= 7  # sshd, munged, slurmctld (+ slurmscriptd), slurmd, supervisord, 2 exporters
    # Leaving the block killed every process of the host, by PID.
    assert not [p for p in pids if alive(p)]
    print(
        f"converge timings (Slurm {host_os.slurm}): first {first.seconds:.0f}s, second {second.seconds:.0f}s,"
        f" whole test {time.monotonic() - started:.0f}s"
    )
    if host_os.root is not None:
        # The cached root was only the lower layer of the host's overlay: nothing was written to it.
        assert not (host_os.root / PERSIST_DIR.lstrip("/")).exists()
        assert not (host_os.root / "etc/slurm/slurm.conf").exists()


def test_two_hosts_configless_and_srun_on_both(tmp_path, wheelhouse):
    require_root_and_programs()
    head, worker = node_name(), node_name()
    with Cluster(tmp_path / "hosts", [head, worker]) as cluster:
        # Two fake GPUs on the worker (character devices, as Slurm's GRES needs).
        cluster.ssh(
            worker,
            "mkdir -p /opt/fakegpu && mknod /opt/fakegpu/nvidia0 c 1 3 && mknod /opt/fakegpu/nvidia1 c 1 3",
        )
        run = converge(
            cluster,
            tmp_path,
            {
                "gpuwatch_exporters_wheelhouse": str(wheelhouse),
                "slurm_compute_gpu_devices_glob": "/opt/fakegpu/nvidia[0-9]*",
                "slurm_compute_gpu_type": "fake",
            },
            head,
            "converge",
        )
        password = (tmp_path / "scrape_password").read_text().strip()
        h = testinfra.get_host(f"ssh://{head}", ssh_config=str(cluster.ssh_config))
        w = testinfra.get_host(f"ssh://{worker}", ssh_config=str(cluster.ssh_config))

        # Configless: slurm.conf only on the controller; the worker's slurmd fetched it over the
        # veth link from HEAD.runpod.internal:6817 into its spool's conf-cache.
        assert not w.file("/etc/slurm/slurm.conf").exists
        assert has(w.file("/var/spool/slurmd/conf-cache/slurm.conf"), f"^SlurmctldHost={head}\\(")
        assert has(
            w.file("/var/spool/slurmd/conf-cache/gres.conf"),
            f"^NodeName={worker} Name=gpu Type=fake File=/opt/fakegpu/nvidia0,/opt/fakegpu/nvidia1$",
        )
        assert daemon(w, "/run/slurm/slurmd.pid").args.endswith(f"--conf-server {head}.runpod.internal:6817")
        assert has(
            h.file("/etc/slurm/slurm.conf"),
            f"^NodeName={worker} NodeAddr={worker}.runpod.internal .* Gres=gpu:fake:2 ",
        )
        assert not w.file("/run/slurm/slurmctld.pid").exists

        # One munge key, made on the controller.
        assert (
            h.check_output("sha256sum /etc/munge/munge.key").split()[0]
            == w.check_output("sha256sum /etc/munge/munge.key").split()[0]
        )
        wkey = w.file("/etc/munge/munge.key")
        assert (wkey.user, wkey.mode) == ("munge", 0o400)

        # Both nodes idle, a job step runs on both.
        states = h.check_output("sinfo --noheader --Node --format '%N %T %G'").splitlines()
        assert sorted(states) == sorted([f"{head} idle (null)", f"{worker} idle gpu:fake:2"])
        assert sorted(h.check_output("srun --nodes=2 --ntasks-per-node=1 hostname").split()) == sorted(
            [head, worker]
        )
        # The worker's own client commands find the configless config too.
        assert w.check_output("sinfo --noheader --format %D").strip() == "2"

        # GPU exporter on both, the Slurm exporter on the head only.
        for host in (h, w):
            status, body = scrape(host, 9400, password)
            assert status == 200 and GPU_METRIC in body
        assert scrape(h, 9341, password)[0] == 200
        assert "slurm-exporter" not in w.file(f"{PERSIST_DIR}/etc/supervisord.conf").content_string

        gpu_targets = json.loads((tmp_path / "targets" / "gpuwatch-gpu.json").read_text())
        assert sorted((t["labels"]["node"], t["labels"]["role"]) for t in gpu_targets) == sorted(
            [(head, "head"), (worker, "compute")]
        )
        key = w.check_output("base64 -w0 /etc/munge/munge.key")
        assert_no_secret_in([run.out, (tmp_path / "converge.log").read_text()], password, key)
        print(f"two-host converge: {run.seconds:.0f}s")
        pids = [identity(p) for host in cluster.hosts for p in host.pids()]
    assert not [p for p in pids if alive(p)]
