"""Writing outputs atomically, and comparing them with what is on disk (drift check).

gpuwatch-rules owns these trees and nothing else in OUTDIR: ``prometheus/rules``,
``prometheus/tests``, ``alertmanager`` and, in the Grafana folder, ``dashboards`` and
``provisioning``. A compile stages every file in a temporary folder next to its destination and
then swaps each owned tree in with renames; when anything fails before the swap, nothing in OUTDIR
has changed, and a failure during the swap puts the previous trees back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .api import Compiled
from .errors import RulesError

OWNED = {
    "out": ("prometheus/rules", "prometheus/tests", "alertmanager"),
    "grafana": ("dashboards", "provisioning"),
}


@dataclass
class Plan:
    roots: dict[str, Path]
    files: dict[tuple[str, str], str]
    secrets: dict[str, str] = field(default_factory=dict)
    secrets_dir: Path | None = None

    def target(self, key: tuple[str, str]) -> Path:
        return self.roots[key[0]] / key[1]

    def owned_dirs(self) -> list[tuple[str, str]]:
        return [(root, d) for root in self.roots for d in OWNED[root]]


def plan_for(c: Compiled, outdir: str, dashboards_dir: str | None, secrets_dir: str | None) -> Plan:
    """Where a compile's files go: OUTDIR, and the Grafana folder (default OUTDIR/grafana)."""
    roots = {
        "out": Path(outdir),
        "grafana": Path(dashboards_dir) if dashboards_dir else Path(outdir) / "grafana",
    }
    return Plan(roots, c.files, c.secrets, Path(secrets_dir) if secrets_dir else None)


def _existing(plan: Plan) -> dict[tuple[str, str], bytes]:
    out = {}
    for root, d in plan.owned_dirs():
        base = plan.roots[root] / d
        if not base.is_dir():
            continue
        for dirpath, _, names in os.walk(base):
            for n in names:
                f = Path(dirpath) / n
                out[(root, f.relative_to(plan.roots[root]).as_posix())] = f.read_bytes()
    return out


def drift(plan: Plan) -> list[str]:
    """Paths that differ from what a compile would write (missing, changed or stale)."""
    have = _existing(plan)
    diffs = []
    for key, text in sorted(plan.files.items()):
        got = have.pop(key, None)
        if got is None:
            diffs.append(f"missing: {plan.target(key)}")
        elif got != text.encode():
            diffs.append(f"out of date: {plan.target(key)}")
    for key in sorted(have):
        diffs.append(f"not generated any more: {plan.target(key)}")
    return diffs


def changed(plan: Plan) -> int:
    return len(drift(plan))


def write(plan: Plan) -> None:
    staged: list[tuple[Path, Path]] = []  # (staging tree, destination tree)
    tmpdirs: list[Path] = []
    try:
        for root, d in plan.owned_dirs():
            dest = plan.roots[root] / d
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.gpuwatch-rules-", dir=dest.parent))
            tmpdirs.append(tmp)
            tmp.chmod(0o755)
            for (r, rel), text in plan.files.items():
                if r != root or not (rel == d or rel.startswith(d + "/")):
                    continue
                f = tmp / rel[len(d) + 1 :]
                f.parent.mkdir(parents=True, exist_ok=True)
                with open(f, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                f.chmod(0o644)
            staged.append((tmp, dest))
        if plan.secrets:
            assert plan.secrets_dir is not None
            plan.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name, value in sorted(plan.secrets.items()):
                fd, tmpname = tempfile.mkstemp(prefix=f".{name}.", dir=plan.secrets_dir)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(value)
                os.chmod(tmpname, 0o600)
                os.replace(tmpname, plan.secrets_dir / name)
    except OSError as exc:
        for t in tmpdirs:
            shutil.rmtree(t, ignore_errors=True)
        raise RulesError(f"cannot write outputs: {exc}", str(getattr(exc, "filename", "") or "")) from None

    swapped: list[tuple[Path, Path | None]] = []  # (dest, backup)
    try:
        for tmp, dest in staged:
            backup = None
            if dest.exists():
                backup = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
                backup.rmdir()
                os.rename(dest, backup)
            swapped.append((dest, backup))
            os.rename(tmp, dest)
    except OSError as exc:
        for dest, backup in reversed(swapped):  # put the previous trees back
            if dest.exists() and backup is not None:
                shutil.rmtree(dest, ignore_errors=True)
            if backup is not None:
                os.rename(backup, dest)
        for t in tmpdirs:
            shutil.rmtree(t, ignore_errors=True)
        raise RulesError(f"cannot swap in the outputs: {exc}", str(exc.filename or "")) from None
    for _, backup in swapped:
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
