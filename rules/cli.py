"""``gpuwatch-rules``: the click entry point. The only place where a :class:`RulesError` becomes
``FILE:LINE[:COL]: message`` lines on stderr and exit status 1."""

from __future__ import annotations

import click

from .commands.check import check_cmd
from .commands.compile import compile_cmd
from .commands.import_rules import import_cmd
from .errors import RulesError


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except RulesError as exc:
            for p in exc.problems:
                click.echo(str(p), err=True)
            click.echo(_tally(exc), err=True)
            ctx.exit(1)


def _n(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _tally(exc: RulesError) -> str:
    w = exc.n_warnings
    e = len(exc.problems) - w
    if not w:
        return f"{_n(e, 'problem')} found; nothing written."
    if not e:
        return f"{_n(w, 'warning')} found, refused by --strict; nothing written."
    return f"{_n(e, 'error')} and {_n(w, 'warning')} found; nothing written."


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gpuwatch", prog_name="gpuwatch-rules")
def cli() -> None:
    """Compile YAML alert definitions into Prometheus rules, promtool tests, alertmanager.yml and
    Grafana dashboards, from one source."""


# One line per command; each command is one module under commands/.
cli.add_command(compile_cmd)
cli.add_command(check_cmd)
cli.add_command(import_cmd)


def main() -> None:  # pragma: no cover
    cli(prog_name="gpuwatch-rules")


if __name__ == "__main__":  # pragma: no cover
    main()
