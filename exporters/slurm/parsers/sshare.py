"""``sshare -a -P``: fair-share factor and usage per account and user (``|``-separated, with a header)."""

from __future__ import annotations

from dataclasses import dataclass

from .common import ParseError, to_float


@dataclass
class Share:
    account: str
    user: str
    raw_shares: float | None
    norm_shares: float | None
    raw_usage: float | None
    effective_usage: float | None
    fairshare: float | None


def parse_sshare(text: str, command: str = "sshare -a -P") -> list[Share]:
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return []
    header = [h.strip() for h in lines[0].split("|")]
    need = ("Account", "User", "FairShare")
    if not all(n in header for n in need):
        raise ParseError(command, f"header lacks {', '.join(n for n in need if n not in header)}", 1)
    idx = {h: i for i, h in enumerate(header)}
    out = []
    for lineno, line in enumerate(lines[1:], 2):
        cols = line.split("|")
        if len(cols) < len(header):
            raise ParseError(command, f"{len(cols)} columns, header has {len(header)}", lineno)

        def g(k: str, cols: list[str] = cols) -> str:
            return cols[idx[k]].strip() if k in idx else ""

        out.append(
            Share(
                g("Account"),
                g("User"),
                to_float(g("RawShares")),
                to_float(g("NormShares")),
                to_float(g("RawUsage")),
                to_float(g("EffectvUsage")),
                to_float(g("FairShare")),
            )
        )
    return out
