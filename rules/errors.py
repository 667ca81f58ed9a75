"""The one domain exception of gpuwatch-rules.

Everything below the CLI raises :class:`RulesError`; only the CLI turns it into
``FILE:LINE[:COL]: message`` lines on stderr and a non-zero exit status.
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

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.message}"


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


class Problems:
    """Collects problems so that one run reports all of them, not just the first."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, file: str, pos: tuple[int, int] | None, message: str) -> None:
        line, col = pos if pos else (None, None)
        self.items.append(Problem(file, line, col, message))

    def extend(self, err: RulesError) -> None:
        self.items.extend(err.problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            # files in the order first met, within a file by line and column; duplicates once
            order: dict[str, int] = {}
            for p in self.items:
                order.setdefault(p.file, len(order))
            uniq = list(dict.fromkeys(self.items))
            uniq.sort(key=lambda p: (order[p.file], p.line or 0, p.col or 0))
            raise RulesError(problems=uniq)
