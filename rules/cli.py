"""``gpuwatch-rules``: the click entry point. The only place where a :class:`RulesError` becomes
``FILE:LINE[:COL]: message`` lines on stderr and exit status 1."""

from __future__ import annotations

import sys

import click

from .cmd_check import check_cmd
from .cmd_compile import compile_cmd
from .cmd_import import import_cmd
from .errors import RulesError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RulesError as exc:
            for p in exc.problems:
                click.echo(str(p), err=True)
            n = len(exc.problems)
            click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing written.", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gpuwatch", prog_name="gpuwatch-rules")
def cli() -> None:
    """Compile YAML alert definitions into Prometheus rules, promtool tests, alertmanager.yml and
    Grafana dashboards, from one source."""


cli.add_command(compile_cmd)
cli.add_command(check_cmd)
cli.add_command(import_cmd)


def main() -> None:  # pragma: no cover
    cli(prog_name="gpuwatch-rules")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
