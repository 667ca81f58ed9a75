"""Small helpers for reading /metrics text in the Slurm tests (exact label sets; the parser is
gpuwatch.testing's)."""

from __future__ import annotations

from gpuwatch.testing.metrics import parse_metrics


def samples(text: str | bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(series name, sorted label pairs): value} for every sample in the exposition text."""
    return {(name, tuple(sorted(labels))): v for (name, labels), v in parse_metrics(text).items()}


def value(smp: dict, name: str, **labels) -> float | None:
    return smp.get((name, tuple(sorted(labels.items()))))


def series_names(smp: dict) -> set[str]:
    return {name for name, _ in smp}
