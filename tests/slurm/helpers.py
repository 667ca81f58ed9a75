"""Small helpers for reading /metrics text in tests."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str | bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(series name, sorted label pairs): value} for every sample in the exposition text."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(smp: dict, name: str, **labels) -> float | None:
    return smp.get((name, tuple(sorted(labels.items()))))


def series_names(smp: dict) -> set[str]:
    return {name for name, _ in smp}
