"""A real single-host Slurm for tests, demos and benchmarks: :class:`SlurmLab`.

It runs Debian's own programs (``munged``, ``slurmctld``, ``slurmd``), each in the foreground as
a child of this process, with everything private to one folder: its own munge key and socket,
its own ``slurm.conf`` on free TCP ports, state/spool/log/pid paths, and two fake GPUs (character
devices made with ``mknod``, declared as ``gpu:fake:2``). Nothing touches ``/etc``, ``/run/munge``
or the default ports, so it works beside the distribution's own munge/Slurm daemons and beside
other labs started at the same time.

Usage::

    with SlurmLab(tmp_path) as lab:
        lab.sbatch(["-p", "gpu", "--gres=gpu:1"], user="nobody")
        print(lab.run(["squeue"]).stdout)
        subprocess.Popen(["gpuwatch-slurm-exporter", ...], env=lab.env)

``lab.env`` is the environment every Slurm client (and the exporter) needs (``SLURM_CONF``,
PATH with the Slurm binaries). ``lab.node`` is the one node's name (the short hostname, which
slurmctld insists on). ``lab.stop()`` (or leaving the ``with`` block) stops the daemons by PID,
kills job processes the lab started, waits for every one of them (a zombie counts as gone) and
removes the folder unless ``keep=True``.

Versions: by default the host's packages (Debian 12: Slurm 22.05). ``SlurmLab(root="trixie")``
(Slurm 24.11) or ``root="sid"`` (Slurm 26.05) runs the same lab from a Debian suite root
(:mod:`gpuwatch.localstack.roots`, built on first use): every daemon and client runs inside the
root with the lab's folder mounted at the same path, and ``lab.bin_dir`` holds wrapper scripts
(``sinfo``, ``squeue``, ...) that run the root's clients, first on ``lab.env``'s PATH, so the
exporter (``--slurm.bin-dir`` or PATH) talks to the newer Slurm unchanged. What differs between
versions is handled in one place, :func:`version_quirks`.

Needs root (slurmd launches jobs as other users; munged runs as user ``munge``) and the Debian
packages ``munge`` and ``slurm-wlm``. :class:`SlurmLabError` explains what failed and quotes the
relevant daemon log lines.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .procs import free_port, pid_alive  # one definition, in procs; re-exported (__all__)
from .roots import Root, RootError

__all__ = [
    "CLIENTS",
    "VERSION_SUITES",
    "SlurmLab",
    "SlurmLabError",
    "VersionQuirks",
    "free_port",
    "pid_alive",
    "version_quirks",
]

# The Slurm versions the project tests, and where each comes from ("host": the host's packages).
VERSION_SUITES = {"22.05": "host", "24.11": "trixie", "26.05": "sid"}
# Client programs a root lab wraps in lab.bin_dir (what the exporter and the tests run).
CLIENTS = (
    "sinfo",
    "squeue",
    "sdiag",
    "scontrol",
    "sshare",
    "sacct",
    "sprio",
    "sbatch",
    "scancel",
    "srun",
    "salloc",
    "sacctmgr",
)

DEFAULT_BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin")
DEFAULT_PARTITIONS = (
    # name, extra partition options
    ("debug", "Default=YES MaxTime=INFINITE State=UP"),
    ("gpu", "MaxTime=2-00:00:00 State=UP"),
)
MARKER = "GPUWATCH_SLURMLAB"  # environment variable set on every process the lab starts


class SlurmLabError(RuntimeError):
    """The lab could not start or a Slurm command failed; the message says which and why."""


def _traversable_by_others(path: Path) -> bool:
    """Whether users other than root can reach ``path`` (munge and job users must)."""
    path = path.resolve()
    for p in [path, *path.parents]:
        try:
            if not p.stat().st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue
    return True


@dataclass(frozen=True)
class VersionQuirks:
    """What the lab does differently per Slurm version and environment (the one place for it)."""

    version: tuple[int, int]
    cgroup_conf: str  # cgroup.conf text ("" writes none)
    munged_args: tuple[str, ...]  # extra munged options
    numeric_user_refs: bool  # scancel --user / reservation Users= need the uid, not the name


def version_quirks(version: tuple[int, int], in_root: bool) -> VersionQuirks:
    """The version-dependent settings of a lab, from ``(major, minor)`` and where it runs.

    - 23.02+ has ``CgroupPlugin=disabled``; from 24.11 slurmd needs it in a root (no cgroup
      file system mounted there: "No filesystem mounted on /sys/fs/cgroup"). 22.05 on the host
      uses the host's cgroup mount and writes no cgroup.conf.
    - In a minbase root munged cannot work out its origin address from the host name: it is
      given ``--origin=127.0.0.1``.
    - 26.05 refuses the user name ``nobody`` (uid 65534) in ``scancel --user`` and reservations.
    """
    return VersionQuirks(
        version=version,
        cgroup_conf="CgroupPlugin=disabled\n" if version >= (23, 2) and in_root else "",
        munged_args=("--origin=127.0.0.1",) if in_root else (),
        numeric_user_refs=version >= (26, 5),
    )


class SlurmLab:
    """A private single-host Slurm cluster (munge + slurmctld + slurmd with 2 fake GPUs).

    Parameters (all optional):

    - ``root_dir``: where the caller wants the lab. Its daemons need a folder that the ``munge``
      user and job users can traverse; when ``root_dir`` is not (pytest's ``tmp_path`` is under a
      0700 folder), the lab runs in a fresh ``/tmp/slurmlab-*`` folder and leaves a
      ``root_dir/slurmlab`` symlink to it. Logs are copied to ``root_dir/slurmlab-logs`` on stop.
    - ``partitions``: sequence of ``(name, options)``; every partition holds the one node.
      Default: ``debug`` (default partition) and ``gpu`` (MaxTime 2 days).
    - ``licenses``: the ``Licenses=`` value (default ``fluent:4,matlab:2``).
    - ``cpus``: CPUs to declare for the node (default: what ``slurmd -C`` finds). More than the
      hardware has is allowed (``SlurmdParameters=config_overrides``).
    - ``real_memory``: MiB to declare (default 4000), ``gpus``: fake GPUs (default 2).
    - ``max_job_count`` / ``max_array_size``: raise them for benchmarks with 10,000+ jobs.
    - ``min_job_age``: seconds a finished job stays visible to squeue (default 300).
    - ``extra_conf``: more ``slurm.conf`` lines (appended; a later key wins in Slurm).
    - ``bin_dir``: where the Slurm/munge programs live (default: /usr/bin, /usr/sbin).
    - ``keep``: keep the folder after stop (default False).
    - ``return_to_service``: slurm.conf ReturnToService (default 1: DOWN set by hand stays DOWN).
    - ``start_timeout``: seconds to wait for each daemon to become ready (default 60; a busy machine is slow).
    - ``root``: ``None``/``"host"`` (the host's Slurm), a suite (``"trixie"``, ``"sid"``) or a
      :class:`~gpuwatch.localstack.roots.Root`; a suite's root is built on first use.
    """

    def __init__(
        self,
        root_dir: str | os.PathLike | None = None,
        *,
        partitions: Sequence[tuple[str, str]] = DEFAULT_PARTITIONS,
        licenses: str | None = "fluent:4,matlab:2",
        cpus: int | None = None,
        real_memory: int = 4000,
        gpus: int = 2,
        max_job_count: int = 20000,
        max_array_size: int = 10001,
        min_job_age: int = 300,
        extra_conf: str = "",
        bin_dir: str | os.PathLike | None = None,
        keep: bool = False,
        start_timeout: float = 60.0,
        return_to_service: int = 1,
        root: Root | str | None = None,
    ):
        self.requested_dir = Path(root_dir) if root_dir is not None else None
        self.partitions = tuple(partitions)
        self.licenses = licenses
        self.cpus = cpus
        self.real_memory = real_memory
        self.gpus = gpus
        self.max_job_count = max_job_count
        self.max_array_size = max_array_size
        self.min_job_age = min_job_age
        self.extra_conf = extra_conf
        self.bin_dirs = (str(bin_dir),) if bin_dir else DEFAULT_BIN_DIRS
        self.keep = keep
        self.return_to_service = return_to_service
        self.start_timeout = start_timeout
        self.node = socket.gethostname().split(".")[0]
        self.dir: Path | None = None
        self._made_tmp = False
        self._procs: dict[str, subprocess.Popen] = {}
        # Mount namespaces of this lab's slurmd in a version root (each program there runs in its
        # own); the job steps it forks stay in it even after slurmd is gone (see _marked_pids).
        self._slurmd_mntns: set[str] = set()
        self.ctld_port = self.slurmd_port = 0
        self.lab_id = f"{os.getpid()}-{id(self):x}"
        self._root_arg = root
        self.root: Root | None = root if isinstance(root, Root) else None
        self.version: tuple[int, int] = (0, 0)
        self.version_string = ""
        self.quirks = version_quirks((0, 0), False)

    # ------------------------------------------------------------------ paths and environment
    @property
    def in_root(self) -> bool:
        return self.root is not None and not self.root.is_host

    def _bin(self, name: str) -> str:
        if self.in_root:
            assert self.root is not None
            found = self.root.has(name)
            if found is None:
                raise SlurmLabError(f"{name}: not found in the {self.root}")
            return found
        for d in self.bin_dirs:
            p = Path(d) / name
            if p.is_file() and os.access(p, os.X_OK):
                return str(p)
        found = shutil.which(name)
        if found:
            return found
        raise SlurmLabError(
            f"{name}: not found in {', '.join(self.bin_dirs)} or PATH "
            "(install the Debian packages munge and slurm-wlm)"
        )

    def _cmd(self, argv: Sequence[str], user: str | None = None) -> list[str]:
        """``argv`` (program by name or path) as run for this lab: as ``user`` when given, and
        inside the root (with the lab's folder mounted) for a root lab."""
        args = list(argv)
        if "/" not in args[0]:
            args[0] = self._bin(args[0])
        if user is not None:
            args = [self._bin("runuser"), "-u", user, "--", *args]
        if self.in_root:
            assert self.root is not None
            return [*self.root.prefix(binds=[self.dir] if self.dir is not None else []), *args]
        return args

    def _ids(self, user: str) -> tuple[int, int]:
        """(uid, gid) of a system user as the lab's daemons see it (a root has its own users)."""
        if self.in_root:
            assert self.root is not None
            try:
                return self.root.ids(user)
            except RootError as err:
                raise SlurmLabError(str(err)) from None
        pw = pwd.getpwnam(user)
        return pw.pw_uid, pw.pw_gid

    def _chown(self, path: Path, user: str) -> None:
        os.chown(path, *self._ids(user))

    def user_ref(self, user: str) -> str:
        """How to name ``user`` in ``scancel --user``/reservation ``Users=`` on this version."""
        if self.quirks.numeric_user_refs and not user.isdigit():
            if self.in_root:
                return str(self._ids(user)[0])
            return str(pwd.getpwnam(user).pw_uid)
        return user

    @property
    def bin_dir(self) -> Path:
        """A folder holding this lab's Slurm clients (for ``--slurm.bin-dir``): wrapper scripts
        that run the root's programs for a root lab, the host's folder of ``sinfo`` otherwise."""
        if self.in_root:
            return self._need_dir() / "bin"
        return Path(self._bin("sinfo")).parent

    @property
    def conf(self) -> Path:
        return self._need_dir() / "etc" / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self._need_dir() / "munge" / "munge.socket"

    @property
    def workdir(self) -> Path:
        """A world-writable folder for job output (jobs of any user may ``--chdir`` here)."""
        return self._need_dir() / "work"

    @property
    def log_dir(self) -> Path:
        return self._need_dir() / "log"

    def _need_dir(self) -> Path:
        if self.dir is None:
            raise SlurmLabError("the lab has not been started (use `with SlurmLab(...) as lab:` or .start())")
        return self.dir

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm clients and the exporter: SLURM_CONF and a PATH with Slurm's tools."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLURM_", "SQUEUE_", "SINFO_", "SBATCH_"))
        }
        env.pop(MARKER, None)
        env["SLURM_CONF"] = str(self.conf)
        path = env.get("PATH", "")
        extra = [d for d in self.bin_dirs if d not in path.split(os.pathsep)]
        if self.in_root:
            extra = [str(self.bin_dir)]
        env["PATH"] = os.pathsep.join([*extra, path]) if path else os.pathsep.join(extra)
        env["LC_ALL"] = "C"
        return env

    @property
    def slurmctld_pid(self) -> int:
        return self._procs["slurmctld"].pid

    @property
    def slurmd_pid(self) -> int:
        return self._procs["slurmd"].pid

    @property
    def munged_pid(self) -> int:
        return self._procs["munged"].pid

    # ------------------------------------------------------------------ start
    def __enter__(self) -> SlurmLab:
        if not self._procs:  # `with SlurmLab(...).start() as lab:` works too
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> SlurmLab:
        if self._procs:
            raise SlurmLabError("this lab is already running")
        if os.geteuid() != 0:
            raise SlurmLabError(
                "SlurmLab needs root (slurmd starts jobs as other users, munged runs as munge)"
            )
        if self.root is None and self._root_arg not in (None, "host"):
            try:
                self.root = Root.ensure(str(self._root_arg))
            except RootError as err:
                raise SlurmLabError(f"Slurm root {self._root_arg}: {err}") from None
        for user in ("munge", "slurm"):
            try:
                self._ids(user)
            except (KeyError, SlurmLabError):
                raise SlurmLabError(
                    f"user {user!r} missing (install the Debian packages munge and slurm-wlm)"
                ) from None
        self._detect_version()
        self._make_dir()
        atexit.register(self.stop)  # a lab nobody stopped does not outlive the interpreter
        try:
            self._write_files()
            self._start_munged()
            last_err: Exception | None = None
            for _attempt in range(3):  # a port picked as free may be taken by the time a daemon binds it
                try:
                    self._start_slurm()
                    last_err = None
                    break
                except SlurmLabError as err:
                    last_err = err
                    if "Address already in use" not in str(err):
                        raise
                    self._stop_slurm_daemons()
                    self._write_files()
            if last_err is not None:
                raise last_err
        except BaseException:
            self.stop()
            raise
        return self

    def _detect_version(self) -> None:
        """Read ``slurmd -V`` ("slurm 22.05.8", "slurm-wlm 24.11.5") and pick the quirks."""
        try:
            r = subprocess.run(self._cmd(["slurmd", "-V"]), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as err:
            raise SlurmLabError(f"slurmd -V: {err}") from None
        words = r.stdout.split()
        try:
            major, minor = words[-1].split(".")[:2]
            self.version = (int(major), int(minor))
        except (IndexError, ValueError):
            raise SlurmLabError(
                f"slurmd -V: unexpected output {r.stdout.strip()!r} {r.stderr.strip()!r}"
            ) from None
        self.version_string = words[-1]
        self.quirks = version_quirks(self.version, self.in_root)

    def _make_dir(self) -> None:
        req = self.requested_dir
        if req is not None:
            req.mkdir(parents=True, exist_ok=True)
        # munge's socket path must stay short (sockaddr_un: 108 bytes) and reachable by other users
        if req is not None and _traversable_by_others(req) and len(str(req.resolve())) < 60:
            d = req / "slurmlab"
            if d.exists():
                shutil.rmtree(d)
            d.mkdir()
        else:
            d = Path(tempfile.mkdtemp(prefix="slurmlab-", dir="/tmp"))
            self._made_tmp = True
            if req is not None:
                link = req / "slurmlab"
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(d)
        os.chmod(d, 0o755)
        self.dir = d

    def _write_files(self) -> None:
        d = self._need_dir()
        for sub in ("etc", "munge", "state", "spool", "log", "run", "dev", "work"):
            (d / sub).mkdir(exist_ok=True)
        os.chmod(d / "etc", 0o755)
        self._chown(d / "munge", "munge")
        os.chmod(d / "munge", 0o755)
        for sub in ("state", "log", "run"):
            self._chown(d / sub, "slurm")
            os.chmod(d / sub, 0o755)
        os.chmod(d / "work", 0o1777)
        for i in range(self.gpus):
            dev = d / "dev" / f"fakegpu{i}"
            if not dev.exists():
                # character devices (the null device's numbers); slurmd refuses plain files
                os.mknod(dev, 0o666 | 0o020000, os.makedev(1, 3))
        self.ctld_port, self.slurmd_port = free_port(), free_port()
        while self.slurmd_port == self.ctld_port:
            self.slurmd_port = free_port()
        cpus = self.cpus or self._detected_cpus()
        gres = f" Gres=gpu:fake:{self.gpus}" if self.gpus else ""
        lines = [
            "# written by gpuwatch.localstack.slurm.SlurmLab",
            f"ClusterName=lab{os.getpid() % 100000}",
            f"SlurmctldHost={self.node}",
            f"SlurmctldPort={self.ctld_port}",
            f"SlurmdPort={self.slurmd_port}",
            "SlurmUser=slurm",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={d / 'munge' / 'munge.socket'}",
            "CredType=cred/munge",
            f"StateSaveLocation={d / 'state'}",
            f"SlurmdSpoolDir={d / 'spool'}",
            f"SlurmctldPidFile={d / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={d / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={d / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={d / 'log' / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=100",  # without it a job takes all node memory and jobs run one at a time
            "SlurmdParameters=config_overrides",
            # 1, not 2: a node set DOWN by an operator (or a test) stays DOWN until resumed; a node
            # that was only unreachable returns by itself when slurmd registers again.
            f"ReturnToService={self.return_to_service}",
            "GresTypes=gpu",
            f"MaxJobCount={self.max_job_count}",
            f"MaxArraySize={self.max_array_size}",
            f"MinJobAge={self.min_job_age}",
            "KillWait=2",
            "InactiveLimit=0",
            "SlurmdTimeout=300",
            "SchedulerParameters=bf_interval=5",
        ]
        if self.licenses:
            lines.append(f"Licenses={self.licenses}")
        lines.append(
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={self.real_memory}{gres} State=UNKNOWN"
        )
        for name, opts in self.partitions:
            lines.append(f"PartitionName={name} Nodes={self.node} {opts}".rstrip())
        if self.extra_conf:
            lines.append(self.extra_conf.strip())
        (d / "etc" / "slurm.conf").write_text("\n".join(lines) + "\n")
        gres_conf = ""
        if self.gpus:
            last = self.gpus - 1
            files = f"{d / 'dev'}/fakegpu[0-{last}]" if last else f"{d / 'dev'}/fakegpu0"
            gres_conf = f"NodeName={self.node} Name=gpu Type=fake File={files}\n"
        (d / "etc" / "gres.conf").write_text(gres_conf)
        conf_files = ["slurm.conf", "gres.conf"]
        if self.quirks.cgroup_conf:
            (d / "etc" / "cgroup.conf").write_text(self.quirks.cgroup_conf)
            conf_files.append("cgroup.conf")
        for f in conf_files:
            os.chmod(d / "etc" / f, 0o644)
        if self.in_root:
            assert self.root is not None
            have = [c for c in CLIENTS if self.root.has(c)]
            self.root.write_wrappers(d / "bin", have, binds=[d], env={"SLURM_CONF": str(self.conf)})

    def _detected_cpus(self) -> int:
        try:
            out = subprocess.run(
                self._cmd(["slurmd", "-C"]),
                capture_output=True,
                text=True,
                timeout=20,
                env=self._daemon_env(),
            ).stdout
            for tok in out.split():
                if tok.startswith("CPUs="):
                    return int(tok[5:])
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
        return os.cpu_count() or 1

    def _daemon_env(self) -> dict[str, str]:
        env = self.env if self.dir is not None else dict(os.environ)
        env[MARKER] = self.lab_id
        return env

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.stdout", "ab")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._daemon_env(),
                start_new_session=True,  # no terminal signals; stopped only by PID
                close_fds=True,
            )
        finally:
            log.close()
        self._procs[name] = proc
        return proc

    def _start_munged(self) -> None:
        d = self._need_dir()
        key = d / "munge" / "munge.key"
        subprocess.run(
            self._cmd(["mungekey", "--create", f"--keyfile={key}", "--force"]),
            check=True,
            capture_output=True,
            timeout=30,
        )
        self._chown(key, "munge")
        os.chmod(key, 0o600)
        munge_log = d / "munge" / "munged.log"
        argv = [
            "munged",
            *self.quirks.munged_args,
            "--foreground",
            "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={key}",
            f"--pid-file={d / 'munge' / 'munged.pid'}",
            f"--log-file={munge_log}",
            f"--seed-file={d / 'munge' / 'munged.seed'}",
        ]
        proc = self._spawn("munged", self._cmd(argv, user="munge"))
        self._wait(
            lambda: self.munge_socket.exists(),
            10,
            "munged did not create its socket",
            proc,
            [munge_log, self.log_dir / "munged.stdout"],
        )

    def _start_slurm(self) -> None:
        ctld_log = self.log_dir / "slurmctld.log"
        slurmd_log = self.log_dir / "slurmd.log"
        ctld = self._spawn("slurmctld", self._cmd(["slurmctld", "-D", "-i", "-f", str(self.conf)]))
        self._wait(
            lambda: self._ping(),
            self.start_timeout,
            "slurmctld did not answer `scontrol ping`",
            ctld,
            [ctld_log, self.log_dir / "slurmctld.stdout"],
        )
        slurmd = self._spawn("slurmd", self._cmd(["slurmd", "-D", "-f", str(self.conf)]))
        self._wait(
            lambda: self.node_states() == {"idle"},
            self.start_timeout,
            "the node did not become idle",
            slurmd,
            [slurmd_log, ctld_log, self.log_dir / "slurmd.stdout"],
        )

    def _ping(self) -> bool:
        try:
            r = self.run(["scontrol", "ping"], check=False, timeout=5)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 0 and "is UP" in r.stdout

    def node_states(self) -> set[str]:
        """The node's state words from ``sinfo -N -h -o %T`` (e.g. ``{"idle"}``), empty on error."""
        try:
            r = self.run(["sinfo", "-N", "-h", "-o", "%T"], check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return set()
        return set(r.stdout.split()) if r.returncode == 0 else set()

    def _wait(
        self, pred, timeout: float, what: str, proc: subprocess.Popen | None, logs: Iterable[Path]
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            if proc is not None and proc.poll() is not None:
                name = next((n for n, p in self._procs.items() if p is proc), "the daemon")
                raise SlurmLabError(f"{what}: {name} exited with {proc.returncode}\n" + self._tail(logs))
            time.sleep(0.1)
        raise SlurmLabError(f"{what} within {timeout:.0f}s\n" + self._tail(logs))

    @staticmethod
    def _tail(logs: Iterable[Path], n: int = 15) -> str:
        out = []
        for p in logs:
            try:
                lines = p.read_text(errors="replace").splitlines()[-n:]
            except OSError:
                continue
            if lines:
                out.append(f"--- {p} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(out)

    # ------------------------------------------------------------------ using the lab
    def run(
        self,
        args: Sequence[str],
        user: str | None = None,
        *,
        check: bool = True,
        timeout: float = 60,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess:
        """Run a Slurm client command (``["squeue", "-h"]``) against the lab, optionally as ``user``.

        Returns the CompletedProcess with text stdout/stderr. With ``check`` (default) a non-zero
        exit raises :class:`SlurmLabError` quoting the command and its stderr.
        """
        args = list(args)
        if not args:
            raise ValueError("run: empty command")
        shown = " ".join(args) + (f" (as {user})" if user else "")
        args = self._cmd(args, user=user)
        full_env = self.env
        if env:
            full_env.update(env)
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=full_env, input=input)
        if check and r.returncode != 0:
            raise SlurmLabError(f"`{shown}` exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def sbatch(
        self,
        args: Sequence[str] = (),
        *,
        user: str | None = None,
        script: str | None = None,
        wrap: str | None = "sleep 600",
        timeout: float = 60,
    ) -> str:
        """Submit a batch job; returns its job id (``"12"``, or ``"12;cluster"`` stripped to ``"12"``).

        ``args`` are extra sbatch options (``["-p", "gpu", "--gres=gpu:1", "--hold"]``). The job
        runs ``wrap`` (default ``sleep 600``) or the given ``script`` text, in :attr:`workdir`.
        Job processes are marked so that :meth:`stop` kills them.
        """
        cmd = ["sbatch", "--parsable", f"--chdir={self.workdir}", "-o", "/dev/null", *args]
        if script is None:
            cmd += ["--wrap", wrap or "true"]
        r = self.run(cmd, user=user, timeout=timeout, input=script, env={MARKER: self.lab_id})
        return r.stdout.strip().split(";")[0]

    def scontrol(self, *args: str) -> str:
        """``scontrol ARGS`` as root; returns stdout (raises SlurmLabError on failure)."""
        return self.run(["scontrol", *args]).stdout

    def set_node_state(self, state: str, reason: str | None = None) -> None:
        """``scontrol update NodeName=<node> State=<state> [Reason=...]`` (drain, down, resume, ...)."""
        args = ["update", f"NodeName={self.node}", f"State={state}"]
        if reason is not None:
            args.append(f"Reason={reason}")
        self.scontrol(*args)

    def cancel_all(self) -> None:
        """Cancel every job (as root)."""
        r = self.run(["squeue", "-h", "-o", "%A"], check=False)
        ids = sorted(set(r.stdout.split()))
        if ids:
            self.run(["scancel", "--quiet", *ids], check=False, timeout=120)

    def wait_for(
        self, predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition"
    ) -> None:
        """Poll ``predicate()`` until it is true; raise SlurmLabError (with log tails) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(interval)
        raise SlurmLabError(
            f"{what} not reached within {timeout:.0f}s\n"
            + self._tail([self.log_dir / "slurmctld.log", self.log_dir / "slurmd.log"], 8)
        )

    def stop_slurmctld(self) -> None:
        """Stop slurmctld only (clients then get "Unable to contact slurm controller")."""
        self._stop_proc("slurmctld")

    def start_slurmctld(self) -> None:
        """Start slurmctld again after :meth:`stop_slurmctld`, recovering its saved state (jobs survive)."""
        if "slurmctld" in self._procs:
            raise SlurmLabError("slurmctld is already running")
        ctld = self._spawn("slurmctld", self._cmd(["slurmctld", "-D", "-f", str(self.conf)]))
        self._wait(
            lambda: self._ping(),
            self.start_timeout,
            "slurmctld did not come back",
            ctld,
            [self.log_dir / "slurmctld.log"],
        )

    def restart_slurmctld(self) -> None:
        """Stop and start slurmctld (state is kept: jobs survive)."""
        self.stop_slurmctld()
        self.start_slurmctld()

    # ------------------------------------------------------------------ stop
    def _marked_pids(self) -> list[int]:
        """PIDs of the processes this lab's slurmd started (slurmstepd, job scripts and whatever
        they spawned): processes carrying the lab's marker in their environment, plus all their
        descendants and slurmd's (a job's children may run with the job's own environment).
        The daemons themselves and this process are excluded."""
        needle = f"{MARKER}={self.lab_id}".encode()
        own = {os.getpid()} | {p.pid for p in self._procs.values()}
        self._remember_slurmd_mntns()
        parent: dict[int, int] = {}
        marked: set[int] = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    parent[pid] = int(f.read().rsplit(b")", 1)[1].split()[1])
                # Newer slurmstepd (24.11+) clears its environment and is reparented to init: in a
                # root it is found by the private mount namespace it shares with its slurmd.
                if self._slurmd_mntns and os.readlink(f"/proc/{pid}/ns/mnt") in self._slurmd_mntns:
                    marked.add(pid)
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        marked.add(pid)
            except (OSError, IndexError, ValueError):
                continue
        roots = set(marked)
        slurmd = self._procs.get("slurmd")
        if slurmd is not None:
            roots.add(slurmd.pid)
        children: dict[int, list[int]] = {}
        for pid, ppid in parent.items():
            children.setdefault(ppid, []).append(pid)

        def subtree(starts) -> set[int]:
            found: set[int] = set()
            stack = list(starts)
            while stack:
                pid = stack.pop()
                if pid not in found:
                    found.add(pid)
                    stack.extend(children.get(pid, ()))
            return found

        # munged and slurmctld (with its slurmscriptd) are stopped by _stop_proc, not here
        keep = subtree(p.pid for n, p in self._procs.items() if n != "slurmd")
        return sorted(subtree(roots) - keep - own)

    def _remember_slurmd_mntns(self) -> None:
        """Note the mount namespace of a running slurmd, if it has one of its own (in a root)."""
        proc = self._procs.get("slurmd")
        if proc is None or proc.poll() is not None:
            return
        try:
            ns = os.readlink(f"/proc/{proc.pid}/ns/mnt")
            own = os.readlink("/proc/self/ns/mnt")
        except OSError:
            return
        if ns != own:  # never the host's namespace: that would take in every process here
            self._slurmd_mntns.add(ns)

    def _stop_proc(self, name: str, grace: float = 10.0) -> None:
        if name == "slurmd":
            self._remember_slurmd_mntns()
        proc = self._procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            if proc is not None:
                proc.wait()
            return
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a SIGSTOPped daemon cannot act on SIGTERM
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def _kill_marked(self) -> None:
        pids = self._marked_pids()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        for pid in pids:
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def _stop_slurm_daemons(self) -> None:
        # slurmctld first: stopped after slurmd it can hang in shutdown waiting on its agents.
        self._stop_proc("slurmctld", grace=5.0)
        self._stop_proc("slurmd", grace=5.0)
        self._kill_marked()

    def stop(self) -> None:
        """Stop job processes, slurmd, slurmctld and munged by PID and wait for each. Idempotent."""
        atexit.unregister(self.stop)
        try:
            self._stop_slurm_daemons()
            self._stop_proc("munged")
            self._kill_marked()
        finally:
            for name in list(self._procs):
                self._stop_proc(name)
            if self.dir is not None:
                if self.requested_dir is not None and self.log_dir.exists():
                    dest = self.requested_dir / "slurmlab-logs"
                    shutil.rmtree(dest, ignore_errors=True)
                    shutil.copytree(self.log_dir, dest, dirs_exist_ok=True)
                if not self.keep:
                    if self._made_tmp or self.dir.name == "slurmlab":
                        shutil.rmtree(self.dir, ignore_errors=True)
                    if self.requested_dir is not None:
                        link = self.requested_dir / "slurmlab"
                        if link.is_symlink():
                            link.unlink()
                self.dir = None if not self.keep else self.dir

    def __repr__(self) -> str:
        where = f", root={self.root.suite}" if self.in_root and self.root is not None else ""
        return f"SlurmLab(dir={self.dir}, node={self.node}, slurmctld_port={self.ctld_port}, version={self.version_string}{where})"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gpuwatch.localstack.slurm``: start a lab, print how to use it, stop on Ctrl-C."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", default=None, help="folder for the lab (default: a new /tmp/slurmlab-*)")
    p.add_argument(
        "--version",
        choices=sorted(VERSION_SUITES),
        default="22.05",
        help="Slurm version: 22.05 (the host's), 24.11 (trixie root) or 26.05 (sid root)",
    )
    a = p.parse_args(argv)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    with SlurmLab(a.dir, root=VERSION_SUITES[a.version]) as lab:
        print(
            f"Slurm {lab.version_string} lab up: export SLURM_CONF={lab.conf} PATH={lab.bin_dir}:$PATH"
            f"  (node {lab.node}); Ctrl-C stops it",
            flush=True,
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
