"""The one domain exception of gpuwatch-rules, and the two classes of findings.

Everything below the CLI raises :class:`RulesError`; only the CLI turns it into
``FILE:LINE[:COL]: message`` lines on stderr and a non-zero exit status.

A finding is an *error* (what Prometheus, promtool or Alertmanager would refuse, or what can never
work: nothing is written) or a *warning* (style and practice, or what works but shows nothing:
printed as ``FILE:LINE:COL: warning: message``, and the outputs are written). ``--strict`` refuses
warnings too. The table of which is which is in docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input, with where it is (line and column are 1-based)."""

    file: str
    line: int | None
    col: int | None
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {'warning: ' if self.warning else ''}{self.message}"


class RulesError(Exception):
    """One or more problems in the inputs (or in writing the outputs)."""

    def __init__(
        self,
        message: str | None = None,
        file: str = "",
        line: int | None = None,
        col: int | None = None,
        problems: Iterable[Problem] = (),
    ) -> None:
        probs = list(problems)
        if message is not None:
            probs.insert(0, Problem(file, line, col, message))
        self.problems: list[Problem] = probs
        super().__init__("\n".join(str(p) for p in probs))

    @property
    def file(self) -> str:
        return self.problems[0].file if self.problems else ""

    @property
    def line(self) -> int | None:
        return self.problems[0].line if self.problems else None

    @property
    def col(self) -> int | None:
        return self.problems[0].col if self.problems else None

    @property
    def n_warnings(self) -> int:
        """How many of the problems are warnings (they stop a compile only under --strict)."""
        return sum(1 for p in self.problems if p.warning)


class Problems:
    """Collects findings so that one run reports all of them, not just the first.

    ``add`` records an error, ``warn`` a warning; with ``strict`` a warning stops the compile
    like an error (it is still printed as a warning, so the reader knows which rule it was)."""

    def __init__(self, strict: bool = False) -> None:
        self.items: list[Problem] = []
        self.strict = strict

    def add(self, file: str, pos: tuple[int, int] | None, message: str) -> None:
        line, col = pos if pos else (None, None)
        self.items.append(Problem(file, line, col, message))

    def warn(self, file: str, pos: tuple[int, int] | None, message: str) -> None:
        line, col = pos if pos else (None, None)
        self.items.append(Problem(file, line, col, message, warning=True))

    def extend(self, err: RulesError) -> None:
        self.items.extend(err.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def sorted(self) -> list[Problem]:
        """Files in the order first met, within a file by line and column; duplicates once."""
        order: dict[str, int] = {}
        for p in self.items:
            order.setdefault(p.file, len(order))
        uniq = list(dict.fromkeys(self.items))
        uniq.sort(key=lambda p: (order[p.file], p.line or 0, p.col or 0))
        return uniq

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.sorted() if p.warning]

    def raise_if_any(self) -> None:
        """Raise when there is an error (or, under ``strict``, a warning); the exception lists the
        warnings too, in place, so one run shows everything."""
        if any(not p.warning or self.strict for p in self.items):
            raise RulesError(problems=self.sorted())
