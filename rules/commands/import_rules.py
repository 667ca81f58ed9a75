"""``gpuwatch-rules import``: turn Prometheus rule files into a gpuwatch pack folder."""

from __future__ import annotations

import click

from .. import importer
from .options import output_option


@click.command("import")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False), metavar="FILE..."
)
@output_option("Folder for the gpuwatch rule files (one per group); created when missing.")
@click.option(
    "--tests",
    "test_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="A promtool test file (rule_files/tests) for these rules; its alert tests become per-alert "
    "tests: (repeatable).",
)
@click.option("--force", is_flag=True, help="Replace files of the same name already in the output folder.")
@click.option("-q", "--quiet", is_flag=True, help="No summary (warnings are still printed).")
def import_cmd(
    files: tuple[str, ...], outdir: str, test_files: tuple[str, ...], force: bool, quiet: bool
) -> None:
    """Import Prometheus rule files (groups: with alerting and recording rules, or a
    prometheus-operator PrometheusRule) into gpuwatch rule files: one file per group, which
    `gpuwatch-rules compile` turns back into the same rules. Nothing is written when any input
    has an error."""
    res = importer.convert(list(files), list(test_files))
    for w in res.warnings:
        click.echo(str(w), err=True)
    written = importer.write(res.files, outdir, force=force)
    if not quiet:
        n = len(res.warnings)
        click.echo(
            f"imported {res.summary()} into {outdir} ({importer.plural(len(written), 'file')}"
            + (f", {n} warning{'s' if n != 1 else ''}" if n else "")
            + f"); next: gpuwatch-rules compile {outdir} -o OUTDIR"
        )
