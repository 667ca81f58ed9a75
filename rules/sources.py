"""Finding the inputs: rule group files, thresholds, notifications, runbook, from files or folders."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import RulesError

PACK_DIR = Path(__file__).resolve().parent / "pack"
CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"
THRESHOLDS = ("thresholds.yml", "thresholds.yaml")
NOTIFICATIONS = ("notifications.yml", "notifications.yaml")
RUNBOOK = "RUNBOOK.md"
PACK_FILES = ("pack.yml", "pack.yaml")  # pack settings (catalogs:), not a rule group


@dataclass
class Source:
    path: Path
    display: str  # how messages and DO NOT EDIT headers name it


@dataclass
class Sources:
    groups: list[Source] = field(default_factory=list)
    thresholds: list[Source] = field(default_factory=list)
    notifications: list[Source] = field(default_factory=list)
    runbooks: list[Source] = field(default_factory=list)
    packs: list[Source] = field(default_factory=list)


def display_name(path: Path) -> str:
    """A stable name: the default pack as ``rules/pack/...``, others relative to the cwd."""
    path = path.resolve()
    for root, name in ((PACK_DIR, "rules/pack/"), (CATALOG_DIR, "rules/catalogs/")):
        try:
            return name + path.relative_to(root).as_posix()
        except ValueError:
            pass
    rel = Path(os.path.relpath(path, Path.cwd().resolve())).as_posix()
    if rel == ".." or rel.startswith("../"):
        return path.as_posix()  # outside the working folder: the absolute path reads better than ../..
    return rel


def _add(out: Sources, path: Path, explicit: bool) -> None:
    name = path.name
    src = Source(path, display_name(path))
    if name in THRESHOLDS:
        out.thresholds.append(src)
    elif name in NOTIFICATIONS:
        out.notifications.append(src)
    elif name == RUNBOOK:
        out.runbooks.append(src)
    elif name in PACK_FILES:
        out.packs.append(src)
    elif name.endswith((".yml", ".yaml")):
        out.groups.append(src)
    elif explicit:
        raise RulesError("not a rule file (expected .yml or .yaml)", src.display)


def collect(srcs: list[str]) -> Sources:
    """Files as given; folders contribute their *.yml/*.yaml files and RUNBOOK.md (not subfolders)."""
    out = Sources()
    for s in srcs or [str(PACK_DIR)]:
        p = Path(s)
        if p.is_dir():
            entries = sorted(e for e in p.iterdir() if e.is_file())
            for e in entries:
                _add(out, e, False)
        elif p.is_file():
            _add(out, p, True)
        else:
            raise RulesError("no such file or folder", s)
    if not out.groups:
        raise RulesError(
            "no rule files found (*.yml in the given folders)", ", ".join(srcs or [str(PACK_DIR)])
        )
    return out


def anchor(title: str) -> str:
    """The GitHub-style anchor of a Markdown heading (``## Disk Full`` -> ``disk-full``)."""
    import re

    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def runbook_anchors(text: str) -> set[str]:
    """GitHub-style anchors of a Markdown document's headings."""
    import re

    anchors = set()
    for line in text.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            anchors.add(anchor(m.group(1)))
    return anchors


def read_text(src: Source) -> str:
    try:
        return src.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read: {exc}", src.display) from None


def relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path, start)
