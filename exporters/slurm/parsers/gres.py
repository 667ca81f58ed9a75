"""GRES strings: configured (``Gres=``), in use (``GresUsed=``) and job requests (``tres-per-*``).

Configured/used, as scontrol and sinfo print them::

    gpu:fake:2                  gpu:h100:8(S:0-1)            gpu:4
    gpu:a100:4(S:0-3),nsight:no_consume:1                    gpu:h100:4,gpu:a100:2
    gpu:fake:1(IDX:0)           gpu:model_a:0(IDX:N/A)       gpu:2(IDX:0,2)     (null)

Job requests (squeue ``tres-per-node`` / ``tres-per-job`` / ``tres-per-task``; 22.05 prints
``gres:gpu:2``, newer releases ``gres/gpu:2``, typed ``gres/gpu:h100:2``)::

    gres:gpu:2     gres/gpu:h100:1     gres:gpu:1,gres:nic:1     N/A
"""

from __future__ import annotations

from .common import split_top


def _count_tail(parts: list[str]) -> int | None:
    last = parts[-1]
    if last.isdigit():
        return int(last)
    # "gpu:h100:8K"? (k/m suffixes are valid for counts)
    if last[:-1].isdigit() and last[-1:].lower() in ("k", "m", "g"):
        return int(last[:-1]) * {"k": 1024, "m": 1024**2, "g": 1024**3}[last[-1].lower()]
    return None


def parse_gres(text: str | None, name: str = "gpu") -> dict[str, int]:
    """Counts of GRES ``name`` by type (``""`` for untyped): ``gpu:h100:8`` -> ``{"h100": 8}``.

    Unparseable items are skipped (the caller counts nothing for them).
    """
    out: dict[str, int] = {}
    if not text:
        return out
    text = text.strip()
    if text in ("(null)", "N/A", "none", ""):
        return out
    for item in split_top(text):
        item = item.strip()
        base = item.replace("(null)", "")
        if base.endswith(")") and "(" in base:
            base = base[: base.rindex("(")]  # drop "(S:0-3)" / "(IDX:0,2)"
        parts = base.split(":")
        if parts[0] != name:
            continue
        if "no_consume" in parts:
            continue
        if len(parts) == 1:
            out[""] = out.get("", 0) + 1
            continue
        count = _count_tail(parts)
        if count is None:
            continue
        gtype = parts[1] if len(parts) >= 3 else ""
        out[gtype] = out.get(gtype, 0) + count
    return out


def gres_total(text: str | None, name: str = "gpu") -> int:
    return sum(parse_gres(text, name).values())


def parse_tres_request(text: str | None, name: str = "gpu") -> int:
    """GPUs in a job's request (``gres:gpu:2``, ``gres/gpu:h100:1``, ``gpu:2``, ``gres/gpu=2``).

    Typed and untyped entries are summed; 0 when none or unparseable.
    """
    if not text:
        return 0
    text = text.strip()
    if text in ("N/A", "(null)", ""):
        return 0
    total = 0
    for item in split_top(text):
        item = item.strip()
        for prefix in ("gres:", "gres/"):
            if item.startswith(prefix):
                item = item[len(prefix) :]
                break
        item = item.replace("=", ":")
        parts = item.split(":")
        if parts[0] != name:
            continue
        if len(parts) == 1:
            total += 1
            continue
        count = _count_tail(parts)
        if count is not None:
            total += count
    return total


def parse_tres_alloc(text: str | None, name: str = "gpu") -> int | None:
    """GPUs in an allocated-TRES string ``cpu=2,mem=1G,gres/gpu=2,gres/gpu:h100=2``.

    None when the string carries no ``gres/gpu`` entry at all (Slurm lists GRES in TRES only
    when ``AccountingStorageTRES`` includes it), so callers can fall back to the request.
    """
    if not text:
        return None
    generic = None
    typed = 0
    seen_typed = False
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            continue
        key = key.strip()
        if key == f"gres/{name}":
            generic = int(value) if value.strip().isdigit() else generic
        elif key.startswith(f"gres/{name}:") and value.strip().isdigit():
            typed += int(value)
            seen_typed = True
    if generic is not None:
        return generic
    return typed if seen_typed else None
