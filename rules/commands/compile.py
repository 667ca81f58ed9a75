"""``gpuwatch-rules compile``: write (or, with --check, compare) the outputs."""

from __future__ import annotations

import time

import click

from .. import compiler, writer
from .options import echo_warnings, output_option, shared_options, to_options


@click.command("compile")
@shared_options
@output_option("Output folder: prometheus/rules, prometheus/tests, alertmanager/, grafana/.")
@click.option(
    "--dashboards-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Put Grafana dashboards and provisioning here instead of OUTDIR/grafana.",
)
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 when OUTDIR is not what a compile would write.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary.")
def compile_cmd(outdir: str, dashboards_dir: str | None, check_only: bool, quiet: bool, **kw: object) -> None:
    """Compile alert definitions (default: the shipped pack) into Prometheus rules, promtool tests,
    alertmanager.yml and Grafana dashboards."""
    t0 = time.perf_counter()
    opts = to_options(**kw)  # type: ignore[arg-type]
    c = compiler.compile_sources(opts)
    echo_warnings(c)
    plan = writer.plan_for(c, outdir, dashboards_dir, opts.secrets_dir)
    diffs = writer.drift(plan)
    if check_only:
        if diffs:
            for d in diffs:
                click.echo(d, err=True)
            click.echo(
                f"{len(diffs)} generated files are out of date; run: gpuwatch-rules compile ... "
                f"(make generate)",
                err=True,
            )
            raise SystemExit(1)
        if not quiet:
            click.echo(f"up to date: {len(plan.files)} files ({c.summary()})")
        return
    if plan.secrets and opts.secrets_dir is None:  # pragma: no cover - compiler refuses this earlier
        raise click.UsageError("secrets need --secrets-dir")
    if diffs or plan.secrets:
        writer.write(plan)
    if not quiet:
        ms = (time.perf_counter() - t0) * 1000
        roots = f"{plan.roots['out']}" + (f" and {plan.roots['grafana']}" if dashboards_dir else "")
        click.echo(
            f"wrote {len(plan.files)} files to {roots} ({len(diffs)} changed) in {ms:.0f} ms: {c.summary()}"
        )
        if plan.secrets:
            click.echo(f"secrets: {len(plan.secrets)} written to {opts.secrets_dir} (mode 0600)")
        if c.dropped_tests:
            click.echo(
                "promtool tests left out (the overlay changes their for:/thresholds): "
                + ", ".join(c.dropped_tests)
            )
