"""Version roots: newer Slurm, Prometheus and Alertmanager from Debian suite roots, run in place.

The host keeps its own packages (Debian 12: Slurm 22.05, Prometheus 2.42, Alertmanager 0.25).
For the newer versions our users run, :meth:`Root.ensure` builds a Debian suite root on demand
(``debootstrap --variant=minbase`` of ``trixie`` or ``sid`` with Slurm, munge, Prometheus,
Alertmanager and Python 3), caches it under one folder shared by every clone on the machine, and
runs programs inside it:

    root = Root.ensure("sid")                          # builds once (~1 min), then reuses the cache
    argv = root.argv(["/usr/bin/prometheus", "--config.file=/tmp/x/p.yml"], binds=["/tmp/x"])
    subprocess.run(argv)                                # Prometheus 3.5 from sid, on the host network
    bindir = root.write_wrappers(lab_dir / "bin", ["sinfo", "squeue"], binds=[lab_dir])
    # bindir/sinfo runs sid's sinfo: point --slurm.bin-dir (or PATH) at it

Where the roots live: ``$GPUWATCH_ROOTS_DIR`` or ``/var/cache/gpuwatch/roots`` (one folder per
suite, plus a ``.lock`` file per suite and the build log). ``make labs`` builds them,
``make clean-labs`` removes them. Which packages and versions a root holds is recorded in its
``gpuwatch-root.json``.

How a program runs inside a root: every command gets its own private mount namespace
(``unshare --mount --propagation private``) in which ``/proc``, ``/sys``, ``/dev``, a private
``/tmp``, the host's ``/etc/hosts`` and the caller's folders (``binds``, at the same path) are
mounted into the root, then ``chroot`` runs the program. The mounts exist only inside that
namespace: they vanish when the program (and whatever it forked) exits, however it exits, so
nothing is left mounted after a crash, parallel labs never see (or unmount) each other's mounts,
and the cached root never has a lab's folder mounted in it from the host's point of view (so
deleting the cache cannot reach into a lab). The process started is the program itself (unshare,
sh and chroot each ``exec`` the next), so its PID is the daemon's PID and signals reach it.

Where the mirror comes from: the first enabled ``deb`` source of the host's apt configuration
(``/etc/apt/sources.list``, ``/etc/apt/sources.list.d/*.list`` and ``*.sources``) that serves the
main archive (not ``*-security``), or ``$GPUWATCH_DEBIAN_MIRROR``. Nothing else is contacted.

Needs root (debootstrap, mount, chroot) and the Debian package ``debootstrap``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_PACKAGES",
    "SUITES",
    "Root",
    "RootError",
    "apt_mirror",
    "clean_roots",
    "roots_dir",
]

DEFAULT_ROOTS_DIR = "/var/cache/gpuwatch/roots"
SUITES = ("trixie", "sid")
DEFAULT_PACKAGES = (
    "slurm-wlm",
    "slurm-client",
    "munge",
    "prometheus",
    "prometheus-alertmanager",
    "python3",
    "python3-venv",
)
STAMP = "gpuwatch-root.json"  # written last: a root without it is not finished
APT_SOURCES = Path("/etc/apt")
BUILD_TIMEOUT = 1800.0

# Runs as: unshare --mount --propagation private -- sh -c RUN_SCRIPT gpuwatch-root ROOT [BIND...] -- CMD...
# Every mount lives in this process's private namespace and disappears with it.
RUN_SCRIPT = r"""
set -e
root=$1; shift
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=1777,size=1g gpuwatch-tmp "$root/tmp"
if [ -f /etc/hosts ] && [ -f "$root/etc/hosts" ]; then mount --bind /etc/hosts "$root/etc/hosts"; fi
while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
  [ -d "$root$1" ] || mkdir -p "$root$1"
  mount --bind "$1" "$root$1"
  shift
done
shift
exec chroot "$root" "$@"
"""


class RootError(RuntimeError):
    """A version root could not be built, found or used; the message says which and why."""


def roots_dir() -> Path:
    """The one folder holding every root: ``$GPUWATCH_ROOTS_DIR`` or /var/cache/gpuwatch/roots."""
    return Path(os.environ.get("GPUWATCH_ROOTS_DIR") or DEFAULT_ROOTS_DIR)


# ---------------------------------------------------------------------------------------- mirror
def _source_files(etc_apt: Path) -> list[Path]:
    files = []
    main = etc_apt / "sources.list"
    if main.is_file():
        files.append(main)
    d = etc_apt / "sources.list.d"
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    return files


def _one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            yield words[0], [words[1]]


def _deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    stanzas: list[dict[str, str]] = [{}]
    key = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if stanzas[-1]:
                stanzas.append({})
            key = None
            continue
        if raw[0] in " \t" and key:
            stanzas[-1][key] += " " + raw.strip()
            continue
        if ":" in raw:
            key, _, val = raw.partition(":")
            key = key.strip().lower()
            stanzas[-1][key] = val.strip()
    for st in stanzas:
        if "deb" not in st.get("types", "").split() or st.get("enabled", "yes").lower() == "no":
            continue
        for uri in st.get("uris", "").split():
            yield uri, st.get("suites", "").split()


def apt_mirror(etc_apt: Path = APT_SOURCES) -> str:
    """The Debian mirror the host's apt already uses (``$GPUWATCH_DEBIAN_MIRROR`` wins).

    The first enabled ``deb`` source whose suite is a main-archive suite (``bookworm``,
    ``bookworm-updates``; not ``*-security``). Raises :class:`RootError` naming the files read.
    """
    env = os.environ.get("GPUWATCH_DEBIAN_MIRROR")
    if env:
        return env
    files = _source_files(etc_apt)
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        parse = _deb822_sources if path.suffix == ".sources" else _one_line_sources
        for uri, suites in parse(text):
            if uri.startswith(("http://", "https://", "file:/")) and any(
                not s.endswith("-security") for s in suites
            ):
                return uri.rstrip("/")
    raise RootError(
        "no Debian mirror found in the apt sources ("
        + (", ".join(str(p) for p in files) or f"nothing under {etc_apt}")
        + "); set GPUWATCH_DEBIAN_MIRROR to the mirror's URL"
    )


# ---------------------------------------------------------------------------------------- roots
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``path`` (blocks while another process builds the same root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _processes_inside(path: Path) -> list[int]:
    """PIDs of processes whose root directory is ``path`` or below (a lab still running there)."""
    found = []
    target = str(path.resolve())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            proot = os.readlink(f"/proc/{entry}/root")
        except OSError:
            continue
        if proot == target or proot.startswith(target + "/"):
            found.append(int(entry))
    return found


def _remove_tree(path: Path) -> None:
    """Delete a root. Nothing is mounted in a root in this namespace (see the module doc), and
    ``--one-file-system`` makes sure of it: rm never crosses into another file system."""
    if path.exists() or path.is_symlink():
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], check=False)


@dataclass(frozen=True)
class Root:
    """A Debian suite root (or the host itself: ``Root.host()``) and how to run programs in it."""

    suite: str
    path: Path
    info: dict = field(default_factory=dict, compare=False, repr=False)

    # ------------------------------------------------------------------ finding and building
    @classmethod
    def host(cls) -> Root:
        """The host's own packages: :meth:`argv` returns commands unchanged."""
        return cls("host", Path("/"))

    @property
    def is_host(self) -> bool:
        return self.path == Path("/")

    @classmethod
    def ensure(
        cls,
        suite: str,
        *,
        packages: Sequence[str] = DEFAULT_PACKAGES,
        directory: str | os.PathLike | None = None,
        mirror: str | None = None,
        quiet: bool = True,
    ) -> Root:
        """The cached root for ``suite``, built first when missing or lacking a package.

        ``suite`` ``"host"`` returns :meth:`host`. Two processes asking at once build it once:
        the second waits on the suite's lock and then finds the finished root. A build happens
        in a temporary folder beside the cache and is renamed into place only when complete.
        """
        if suite in ("host", "", None):
            return cls.host()
        if not suite.replace("-", "").isalnum():
            raise RootError(f"suite {suite!r}: not a Debian suite name")
        base = Path(directory) if directory is not None else roots_dir()
        found = cls._cached(suite, base, packages)
        if found is not None:
            return found
        if os.geteuid() != 0:
            raise RootError(f"the {suite} root is not built in {base} and building it needs root (make labs)")
        with _locked(base / f".{suite}.lock"):
            found = cls._cached(suite, base, packages)  # another process may have built it meanwhile
            if found is not None:
                return found
            cls._build(suite, base, packages, mirror or apt_mirror(), quiet)
        found = cls._cached(suite, base, packages)
        if found is None:
            raise RootError(f"{base / suite}: built, but {STAMP} is missing or lacks a package")
        return found

    @classmethod
    def _cached(cls, suite: str, base: Path, packages: Sequence[str]) -> Root | None:
        path = base / suite
        try:
            info = json.loads((path / STAMP).read_text())
        except (OSError, ValueError):
            return None
        if not set(packages) <= set(info.get("packages", ())):
            return None
        return cls(suite, path, info)

    @classmethod
    def _build(cls, suite: str, base: Path, packages: Sequence[str], mirror: str, quiet: bool) -> None:
        debootstrap = shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if debootstrap is None:
            raise RootError("debootstrap: not installed (apt-get install debootstrap)")
        base.mkdir(parents=True, exist_ok=True)
        os.chmod(base, 0o755)
        final = base / suite
        old = cls._cached(suite, base, ())
        packages = sorted(set(packages) | set(old.info.get("packages", ()) if old else ()))
        tmp = Path(tempfile.mkdtemp(prefix=f".build-{suite}-", dir=base))
        os.chmod(tmp, 0o755)  # package scripts run as system users (munge's runs as munge) must get in
        log = base / f"{suite}.build.log"
        argv = [
            "unshare",  # debootstrap mounts /proc and /sys in the target: keep them out of the host's view
            "--mount",
            "--propagation",
            "private",
            "--",
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(packages)}",
            "--components=main",
            suite,
            str(tmp),
            mirror,
        ]
        start = time.monotonic()
        if not quiet:
            print(f"building the {suite} root in {final} from {mirror} (log: {log})", file=sys.stderr)
        try:
            with open(log, "w") as fh:
                fh.write("$ " + shlex.join(argv) + "\n")
                fh.flush()
                r = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    timeout=BUILD_TIMEOUT,
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"},
                )
            if r.returncode != 0:
                with contextlib.suppress(OSError), open(log, "a") as fh:
                    fh.write("\n--- debootstrap/debootstrap.log\n")
                    fh.write((tmp / "debootstrap/debootstrap.log").read_text(errors="replace"))
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-12:])
                raise RootError(
                    f"debootstrap {suite} failed (exit {r.returncode}); last lines of {log}:\n{tail}"
                )
            cls._stop_strays(tmp)
            for deb in (tmp / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()
            versions = cls._versions(tmp, packages)
            missing = [p for p in packages if p not in versions]
            if missing:
                raise RootError(
                    f"debootstrap {suite}: packages not installed: {', '.join(missing)} (see {log})"
                )
            info = {
                "suite": suite,
                "packages": packages,
                "versions": versions,
                "mirror": mirror,
                "built": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.monotonic() - start, 1),
            }
            (tmp / STAMP).write_text(json.dumps(info, indent=2) + "\n")
            if final.exists() or final.is_symlink():
                aside = Path(tempfile.mkdtemp(prefix=f".old-{suite}-", dir=base))
                os.rename(final, aside / suite)
                os.rename(tmp, final)
                _remove_tree(aside)
            else:
                os.rename(tmp, final)
        except subprocess.TimeoutExpired:
            raise RootError(
                f"debootstrap {suite} did not finish within {BUILD_TIMEOUT:.0f}s (see {log})"
            ) from None
        finally:
            if tmp.exists():
                cls._stop_strays(tmp)
                _remove_tree(tmp)

    @staticmethod
    def _stop_strays(path: Path) -> None:
        """Kill processes a package's install script left running inside the new root (by PID)."""
        import signal

        for pid in _processes_inside(path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    @staticmethod
    def _versions(path: Path, packages: Iterable[str]) -> dict[str, str]:
        """{package: version} of the installed ones, read from the root's dpkg status file."""
        wanted, out = set(packages), dict[str, str]()
        try:
            text = (path / "var/lib/dpkg/status").read_text(errors="replace")
        except OSError:
            return out
        for stanza in text.split("\n\n"):
            fields = dict(
                line.split(": ", 1)
                for line in stanza.splitlines()
                if ": " in line and not line.startswith(" ")
            )
            name = fields.get("Package")
            if name in wanted and fields.get("Status", "").endswith(" installed"):
                out[name] = fields.get("Version", "")
        return out

    # ------------------------------------------------------------------ facts about the root
    def version(self, package: str) -> str | None:
        """The installed Debian version of ``package`` in this root (host: from dpkg-query)."""
        if self.is_host:
            r = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True, check=False
            )
            return r.stdout.strip() or None if r.returncode == 0 else None
        return self.info.get("versions", {}).get(package) or self._versions(self.path, [package]).get(package)

    def file(self, path: str | os.PathLike) -> Path:
        """Where the root's ``path`` (absolute, as seen inside) is on the host."""
        p = Path(path)
        return self.path / p.relative_to("/") if p.is_absolute() else self.path / p

    def has(self, program: str) -> str | None:
        """The absolute path (inside the root) of ``program`` if the root has it."""
        if "/" in program:
            return program if self.file(program).is_file() else None
        for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
            if self.file(f"{d}/{program}").is_file():
                return f"{d}/{program}"
        return None

    def ids(self, user: str) -> tuple[int, int]:
        """(uid, gid) of ``user`` as the root's /etc/passwd knows it (root's packages make their own users)."""
        try:
            for line in self.file("/etc/passwd").read_text().splitlines():
                f = line.split(":")
                if len(f) >= 4 and f[0] == user:
                    return int(f[2]), int(f[3])
        except OSError as err:
            raise RootError(f"{self.file('/etc/passwd')}: {err.strerror}") from None
        raise RootError(f"user {user!r} not found in {self.file('/etc/passwd')}")

    # ------------------------------------------------------------------ running programs
    def prefix(self, binds: Iterable[str | os.PathLike] = ()) -> list[str]:
        """The argv prefix that runs the command after it inside the root ([] for the host).

        ``binds``: host folders the program needs (configs, data, sockets); each is mounted at
        the same path inside. Mounts live only as long as the program (see the module doc).
        """
        if self.is_host:
            return []
        if not (self.path / STAMP).is_file():
            raise RootError(f"{self.path}: not a finished root ({STAMP} missing); run `make labs`")
        folders = []
        for b in binds:
            p = Path(b).resolve()
            if not p.is_dir():
                raise RootError(f"bind {b}: not a folder")
            folders.append(str(p))
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            RUN_SCRIPT,
            "gpuwatch-root",
            str(self.path),
            *folders,
            "--",
        ]

    def argv(self, argv: Sequence[str], binds: Iterable[str | os.PathLike] = ()) -> list[str]:
        """``argv`` made to run inside the root (unchanged for the host). The program is looked up
        inside the root when given by name."""
        argv = list(argv)
        if not argv:
            raise ValueError("argv: empty command")
        if self.is_host:
            return argv
        prog = self.has(argv[0])
        if prog is None:
            raise RootError(f"{argv[0]}: not in the {self.suite} root {self.path}")
        return [*self.prefix(binds), prog, *argv[1:]]

    def wrap(self, program: str, binds: Iterable[str | os.PathLike] = ()) -> list[str]:
        """The argv prefix that runs ``program`` (a path or a name) from this root."""
        return self.argv([program], binds)

    def write_wrappers(
        self,
        dest: str | os.PathLike,
        programs: Iterable[str],
        binds: Iterable[str | os.PathLike] = (),
        env: dict[str, str] | None = None,
    ) -> Path:
        """Write one executable script per program into ``dest`` that runs the root's program
        with the same arguments (``exec unshare ... chroot ROOT /usr/bin/sinfo "$@"``), so that
        code running programs by path or from a bin dir (``--slurm.bin-dir``) uses this root.
        ``env``: variables the scripts set first (e.g. ``SLURM_CONF``). Returns ``dest``."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        binds = list(binds)
        for name in programs:
            argv = self.argv([name], binds) if not self.is_host else [self.has(name) or name]
            lines = [
                "#!/bin/sh",
                f"# written by gpuwatch.localstack.roots: {name} from the {self.suite} root",
            ]
            lines += [f"export {k}={shlex.quote(v)}" for k, v in (env or {}).items()]
            lines.append(f'exec {shlex.join(argv)} "$@"')
            p = dest / Path(name).name
            tmp = p.with_name(p.name + ".tmp")
            tmp.write_text("\n".join(lines) + "\n")
            tmp.chmod(0o755)
            os.replace(tmp, p)
        return dest

    def __str__(self) -> str:
        return "host" if self.is_host else f"{self.suite} root {self.path}"


# ---------------------------------------------------------------------------------------- cleaning
def clean_roots(
    directory: str | os.PathLike | None = None, suites: Iterable[str] | None = None
) -> list[Path]:
    """Delete the cached roots (all, or ``suites``); refuses one that a process still runs in."""
    base = Path(directory) if directory is not None else roots_dir()
    if not base.is_dir():
        return []
    names = list(suites) if suites else sorted(p.name for p in base.iterdir() if p.is_dir())
    removed = []
    for name in names:
        path = base / name
        busy = _processes_inside(path)
        if busy:
            raise RootError(
                f"{path}: still in use by PIDs {', '.join(map(str, busy[:10]))}; stop those labs first"
            )
        if path.exists():
            _remove_tree(path)
            removed.append(path)
        for extra in (base / f"{name}.build.log", base / f".{name}.lock"):
            with contextlib.suppress(FileNotFoundError):
                extra.unlink()
    return removed


def split_at_dashes(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the CLI's own arguments, the command after the first ``--``; empty without one)."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    i = argv.index("--")
    return argv[:i], argv[i + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gpuwatch.localstack.roots {build,list,clean,run}``."""
    p = argparse.ArgumentParser(
        prog="python -m gpuwatch.localstack.roots", description=__doc__.split("\n\n")[0]
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the roots that are missing (default: every suite)")
    b.add_argument("suites", nargs="*", default=list(SUITES))
    sub.add_parser("list", help="the cached roots, their packages and versions")
    c = sub.add_parser("clean", help="delete the cached roots")
    c.add_argument("suites", nargs="*")
    r = sub.add_parser("run", help="run a command inside a root: run SUITE [--bind DIR]... -- CMD ARGS")
    r.add_argument("suite")
    r.add_argument("--bind", action="append", default=[])
    own, command = split_at_dashes(sys.argv[1:] if argv is None else argv)
    a = p.parse_args(own)
    try:
        if a.cmd == "build":
            for s in a.suites:
                t0 = time.monotonic()
                root = Root.ensure(s, quiet=False)
                print(f"{s}: {root.path} ({time.monotonic() - t0:.0f}s) " + _summary(root))
        elif a.cmd == "list":
            base = roots_dir()
            for s in sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
                cached = Root._cached(s, base, ())
                print(f"{s}: {base / s} " + (_summary(cached) if cached else "(unfinished)"))
        elif a.cmd == "clean":
            for path in clean_roots(suites=a.suites):
                print(f"removed {path}")
        elif a.cmd == "run":
            if not command:
                p.error("run: give the command after --")
            root = Root.ensure(a.suite)
            full = root.argv(command, binds=a.bind)
            os.execvp(full[0], full)
    except RootError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _summary(root: Root) -> str:
    v = root.info.get("versions", {})
    keys = ("slurm-wlm", "prometheus", "prometheus-alertmanager", "python3")
    return ", ".join(f"{k} {v[k]}" for k in keys if k in v)


if __name__ == "__main__":
    raise SystemExit(main())
