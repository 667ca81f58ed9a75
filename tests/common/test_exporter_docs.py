"""docs/slurm-exporter.md and docs/gpu-exporter.md say what `--help` says: every flag of the
exporter's parser has a row in the flags table and every row is a flag the exporter has, with the
default the parser uses; every collector's on/off default in the collectors table is the one it
registered with."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from gpuwatch.exporters.gpu.cli import build_parser as gpu_parser
from gpuwatch.exporters.gpu.collectors import COLLECTORS as GPU_COLLECTORS
from gpuwatch.exporters.slurm.cli import build_parser as slurm_parser
from gpuwatch.exporters.slurm.collectors import COLLECTORS as SLURM_COLLECTORS

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXPORTERS = {
    "slurm-exporter.md": (slurm_parser, SLURM_COLLECTORS),
    "gpu-exporter.md": (gpu_parser, GPU_COLLECTORS),
}
NO_DEFAULT = {"", "none", "computed", "path"}  # cells that name no value (parser default None)


def table_rows(text: str, first_cell: str) -> dict[str, str]:
    """{first cell's `code`: second cell} of the table rows whose first cell is `first_cell...`."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and (m := re.fullmatch(r"`(" + first_cell + r"[^` ]*)[^`]*`", cells[0])):
            rows[m.group(1)] = cells[1]
    return rows


def flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        o: a
        for a in parser._actions
        for o in a.option_strings
        if o.startswith("--") and o != "--help" and not o.startswith(("--collector.", "--no-collector."))
    }


@pytest.mark.parametrize("page", sorted(EXPORTERS))
def test_flag_table_is_the_parsers_flags_with_their_defaults(page):
    build, _ = EXPORTERS[page]
    parser = build()
    actions = flags(parser)
    rows = table_rows((DOCS / page).read_text(), "--")
    rows.pop("--collector.NAME", None)
    assert sorted(rows) == sorted(actions), f"{page}: flags table vs --help"
    for flag, cell in rows.items():
        action = actions[flag]
        if action.nargs == 0:  # --version
            continue
        shown = cell.strip("`").lower()
        if shown in NO_DEFAULT:
            assert action.default is None, (page, flag, cell, action.default)
        else:
            assert action.type is not None or isinstance(action.default, str), (page, flag)
            parsed = action.type(cell.strip("`")) if callable(action.type) else cell.strip("`")
            assert parsed == action.default, (page, flag, cell, action.default)


@pytest.mark.parametrize("page", sorted(EXPORTERS))
def test_collector_table_defaults_are_the_registered_ones(page):
    _, collectors = EXPORTERS[page]
    text = (DOCS / page).read_text().split("## Collectors", 1)[1]
    rows = table_rows(text, "[a-z_]+")
    documented = {name: cell.strip("*").split()[0] for name, cell in rows.items() if name in collectors.specs}
    registered = {name: "on" if spec.default_enabled else "off" for name, spec in collectors.specs.items()}
    assert documented == registered


def test_table_rows_reads_code_cells():
    text = "| `--a.b` | `2s` | x |\n| `--c DIR` | none | y |\n| no | code |\n"
    assert table_rows(text, "--") == {"--a.b": "`2s`", "--c": "none"}
