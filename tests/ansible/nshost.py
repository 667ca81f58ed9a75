"""Throw-away "hosts" on this machine for converging the Ansible roles for real.

Each host is a network namespace (``ip netns``: its own loopback, ports and addresses; hosts can
be joined pairwise with a veth link) plus a private mount and UTS namespace (``unshare -m -u``)
in which /etc, /var, /usr, /opt, /root and /home are overlay mounts over the machine's own
folders (writes land in a scratch folder) and /run is an empty tmpfs. The host's sshd runs
inside those namespaces, so Ansible and testinfra reach it through SSH like a real pod: the
machine's own /etc, /run and ports are never touched. Everything a host runs lives in its
network namespace; ``stop()`` kills those processes by PID and deletes the namespace.

A host can run another Debian release's userland instead of the machine's (``root=``: a suite
root from :mod:`gpuwatch.localstack.roots`, e.g. trixie with Slurm 24.11 and Python 3.13): the
whole root is then the lower layer of one overlay mount (writes land in the host's scratch
folder, the cached root stays pristine), with /proc, /sys, /dev and an empty /run mounted into
it, all inside the host's private mount namespace. The machine's sshd serves the host with
``ChrootDirectory`` set to that overlay, so every SSH session (Ansible's modules, sftp, the
daemons they start) runs the root's programs: its python3, dpkg, munge and Slurm.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

OVERLAID = ("/etc", "/var", "/usr", "/opt", "/root", "/home")
# Where a root host's overlay is mounted in its own mount namespace: sshd chroots sessions there
# and insists that every component of the path is owned by root and writable by nobody else
# (so not under /tmp). /run is the host's private tmpfs.
CHROOT = "/run/gwhost"

RELAY = textwrap.dedent(
    """\
    import os, selectors, socket, sys
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    s.settimeout(None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    s.shutdown(socket.SHUT_WR)
                    sel.unregister(0)
                    continue
                s.sendall(data)
            else:
                data = s.recv(65536)
                if not data:
                    sys.exit(0)
                os.write(1, data)
    """
)


def sh(*args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


class NsHost:
    """One namespaced host. ``name`` doubles as its hostname (like a RunPod pod id)."""

    def __init__(
        self, name: str, workdir: Path, ssh_pubkey: str, netns_prefix: str, root: Path | None = None
    ):
        self.name = name
        self.root = Path(root) if root is not None else None
        self.dir = workdir / name
        self.netns = f"{netns_prefix}-{name}"[:30]
        self.ssh_pubkey = ssh_pubkey
        self.addr: str | None = None
        self.hosts_lines: list[str] = []
        self.proc: subprocess.Popen | None = None

    # -- network ---------------------------------------------------------------------------
    def create_netns(self) -> None:
        sh("ip", "netns", "add", self.netns)
        sh("ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up")

    def add_local_addr(self, cidr: str) -> None:
        sh("ip", "-n", self.netns, "addr", "add", cidr, "dev", "lo")
        self.addr = cidr.split("/")[0]

    @staticmethod
    def link(a: NsHost, a_cidr: str, b: NsHost, b_cidr: str) -> None:
        """A veth cable between two hosts' namespaces (nothing in the machine's own)."""
        sh(
            "ip",
            "link",
            "add",
            "gwa",
            "netns",
            a.netns,
            "type",
            "veth",
            "peer",
            "name",
            "gwb",
            "netns",
            b.netns,
        )
        for host, dev, cidr in ((a, "gwa", a_cidr), (b, "gwb", b_cidr)):
            sh("ip", "-n", host.netns, "addr", "add", cidr, "dev", dev)
            sh("ip", "-n", host.netns, "link", "set", dev, "up")
            host.addr = cidr.split("/")[0]

    # -- the host itself -------------------------------------------------------------------
    def start(self, hosts_file: str) -> None:
        d = self.dir
        for sub in ("ssh", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "ssh" / "host_key"))
        (d / "ssh" / "authorized_keys").write_text(self.ssh_pubkey + "\n")
        (d / "ssh" / "authorized_keys").chmod(0o600)
        (d / "hosts").write_text(hosts_file)
        (d / "ssh" / "sshd_config").write_text(
            textwrap.dedent(f"""\
            Port 22
            ListenAddress 0.0.0.0
            HostKey {d}/ssh/host_key
            PidFile none
            AuthorizedKeysFile {d}/ssh/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            Subsystem sftp internal-sftp
            AcceptEnv LANG LC_*
            LogLevel ERROR
            """)
            + (f"ChrootDirectory {CHROOT}\n" if self.root is not None else "")
        )
        mounts = self._root_mounts() if self.root is not None else self._overlay_mounts()
        script = [
            "set -e",
            "mount --make-rprivate /",
            *mounts,
            f"hostname {self.name}",
            f"exec /usr/sbin/sshd -D -e -f {d}/ssh/sshd_config",
        ]
        (d / "boot.sh").write_text("\n".join(script) + "\n")
        log = open(d / "log" / "sshd.log", "ab")
        self.proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.netns,
                "unshare",
                "-m",
                "-u",
                "--propagation",
                "private",
                "/bin/sh",
                str(d / "boot.sh"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ssh()

    def _overlay_mounts(self) -> list[str]:
        """The machine's own userland: its folders overlaid, writes in the scratch folder."""
        d = self.dir
        for path in OVERLAID:
            tag = path.strip("/")
            (d / "upper" / tag).mkdir(parents=True, exist_ok=True)
            (d / "work" / tag).mkdir(parents=True, exist_ok=True)
        lines = [
            f"mount -t overlay overlay -o lowerdir={p},upperdir={d}/upper/{p.strip('/')},"
            f"workdir={d}/work/{p.strip('/')} {p}"
            for p in OVERLAID
        ]
        lines += [
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            "mkdir -p /run/sshd /run/lock",
            "chmod 1777 /run/lock",
            f"cat {d}/hosts > /etc/hosts",
            f"echo {self.name} > /etc/hostname",
        ]
        return lines

    def _root_mounts(self) -> list[str]:
        """A suite root's userland: the whole root under one overlay at CHROOT (copy-on-write:
        the cached root is only ever a lower layer), with the kernel's file systems mounted in."""
        d, m = self.dir, CHROOT
        if not (self.root / "usr/bin/python3").exists():
            raise RuntimeError(f"{self.root}: not a Debian root with python3")
        for sub in ("upper/root", "work/root"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        # The overlay's top folder takes the upper layer's owner and mode: sshd wants root and 0755.
        os.chown(d / "upper/root", 0, 0)
        (d / "upper/root").chmod(0o755)
        lines = [
            "mount -t tmpfs -o mode=0755 tmpfs /run",
            f"mkdir -p /run/sshd {m}",
            f"mount -t overlay overlay -o lowerdir={self.root},upperdir={d}/upper/root,workdir={d}/work/root {m}",
            f"mount -t proc proc {m}/proc",
            f"mount --rbind /sys {m}/sys",
            f"mount --rbind /dev {m}/dev",
            f"mount -t tmpfs -o mode=0755 tmpfs {m}/run",
            f"mkdir -p {m}/run/lock",
            f"chmod 1777 {m}/run/lock",
            f"cat {d}/hosts > {m}/etc/hosts",
            f"echo {self.name} > {m}/etc/hostname",
        ]
        return lines

    def _wait_ssh(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: sshd exited: {(self.dir / 'log' / 'sshd.log').read_text()}")
            probe = sh(
                "ip",
                "netns",
                "exec",
                self.netns,
                sys.executable,
                "-c",
                "import socket; socket.create_connection(('127.0.0.1', 22), 1)",
                check=False,
            )
            if probe.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name}: sshd did not come up in {timeout}s")

    def proxy_command(self, relay: Path) -> str:
        return f"ip netns exec {self.netns} /usr/bin/python3 {relay} 127.0.0.1 22"

    def pids(self) -> list[int]:
        out = sh("ip", "netns", "pids", self.netns, check=False).stdout.split()
        return [int(p) for p in out if p.isdigit()]

    def stop(self) -> list[int]:
        """Kill every process in this host's network namespace (by PID), wait until they are
        gone (a process leaves the namespace before it has finished exiting), delete it."""
        killed: dict[int, str | None] = {}
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in [p for p in self.pids() if p != os.getpid()]:
                killed.setdefault(pid, start_time(pid))
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
            if not self.pids():
                break
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            start_time(pid) == st and st is not None for pid, st in killed.items()
        ):
            time.sleep(0.1)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        sh("ip", "netns", "del", self.netns, check=False)
        return list(killed)


def start_time(pid: int) -> str | None:
    """Start time of a running (not zombie) process, to tell it from a later one with its PID."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


class Cluster:
    """Hosts plus the SSH plumbing (key, relay, ssh_config, inventory) to reach them."""

    def __init__(self, workdir: Path, names: list[str], root: Path | None = None):
        """``root``: a Debian suite root every host runs (see the module doc); None: the machine's."""
        self.dir = workdir
        self.prefix = f"gwt{os.getpid() % 100000}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "id_ed25519"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpuwatch-converge", "-f", str(self.key))
        self.relay = self.dir / "relay.py"
        self.relay.write_text(RELAY)
        pub = (self.dir / "id_ed25519.pub").read_text().strip()
        self.hosts = [NsHost(n, self.dir, pub, self.prefix, root) for n in names]
        # SSH connection-sharing sockets (short path: unix sockets are limited to ~108 bytes).
        # Ansible puts its own here too (ANSIBLE_SSH_CONTROL_PATH_DIR); stop() closes them all.
        self.control_dir = Path(tempfile.mkdtemp(prefix="gwcp"))

    def start(self) -> Cluster:
        try:
            for h in self.hosts:
                h.create_netns()
            if len(self.hosts) == 1:
                self.hosts[0].add_local_addr("10.213.0.1/32")
            else:
                for i, h in enumerate(self.hosts[1:], start=2):
                    NsHost.link(self.hosts[0], f"10.213.{i}.1/24", h, f"10.213.{i}.2/24")
            lines = ["127.0.0.1 localhost"] + [
                f"{h.addr} {h.name}.runpod.internal {h.name}" for h in self.hosts
            ]
            for h in self.hosts:
                h.start("\n".join(lines) + "\n")
            self.write_ssh_config()
        except BaseException:
            self.stop()
            raise
        return self

    def write_ssh_config(self) -> None:
        blocks = []
        for h in self.hosts:
            blocks.append(
                textwrap.dedent(f"""\
                Host {h.name}
                  HostName {h.name}
                  User root
                  IdentityFile {self.key}
                  IdentitiesOnly yes
                  ProxyCommand {h.proxy_command(self.relay)}
                  StrictHostKeyChecking no
                  UserKnownHostsFile /dev/null
                  LogLevel ERROR
                  ControlMaster auto
                  ControlPath {self.control_dir}/%C
                  ControlPersist 60
                """)
            )
        self.ssh_config = self.dir / "ssh_config"
        self.ssh_config.write_text("\n".join(blocks))

    def ssh(self, host: str, command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ssh", "-F", str(self.ssh_config), host, command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self) -> None:
        for sock in sorted(self.control_dir.glob("*")):
            subprocess.run(
                ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "gw-mux"], capture_output=True, timeout=10
            )
        for h in self.hosts:
            h.stop()
        shutil.rmtree(self.control_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
