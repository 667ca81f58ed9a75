"""Options shared by the commands, defined once (a command takes them with ``@shared_options``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..api import Compiled, Options
from ..durations import BadDuration, parse_ms
from ..notifications import parse_version


class _Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            ms = parse_ms(value)
        except BadDuration as exc:
            self.fail(str(exc), param, ctx)
        if ms <= 0:
            self.fail("must be above zero", param, ctx)
        return ms


class _Version(click.ParamType):
    name = "VERSION"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_version(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_file = click.Path(exists=True, dir_okay=False)


def output_option(what: str) -> Callable[[Any], Any]:
    """``-o/--output DIR`` (required), the folder a command writes; its help says what goes there."""
    return click.option(
        "-o", "--output", "outdir", required=True, type=click.Path(file_okay=False), help=what
    )


SHARED = [
    click.argument("srcs", nargs=-1, type=click.Path(exists=True), metavar="[SRC]..."),
    click.option(
        "--scrape-interval",
        type=_Duration(),
        default=None,
        help="Prometheus scrape interval the alerts run under (default 15s, or the overlay's); "
        "a non-zero for: must be at least two of them.",
    ),
    click.option(
        "--alertmanager-version",
        type=_Version(),
        default="0.33",
        show_default=True,
        help="Alertmanager the config is for, 0.25 or newer (default: the one compose/ pins): decides the "
        "receiver types and *_file keys allowed (0.25 has no webhook url_file).",
    ),
    click.option(
        "--notifications",
        type=_file,
        default=None,
        help="Notifications file (Alertmanager's route/receivers/inhibit_rules) replacing the pack's.",
    ),
    click.option(
        "--overlay",
        type=_file,
        default=None,
        help="Overrides of for:, thresholds, evaluation and notification timing (e.g. rules/pack/overlays/fast.yml).",
    ),
    click.option(
        "--secrets-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Where secrets given as ${ENV} are written (mode 0600); the output references these files.",
    ),
    click.option(
        "--runbook-url",
        default=None,
        metavar="URL",
        help="Base URL of the runbook; alerts link to URL#alertname (default: the runbook's path).",
    ),
    click.option(
        "--datasource-url",
        default="http://prometheus:9090",
        show_default=True,
        help="Prometheus URL in the Grafana datasource provisioning.",
    ),
    click.option(
        "--strict",
        is_flag=True,
        help="Refuse warnings too (style and practice: no runbook, short for:, unknown metric "
        "outside gpuwatch_, ...); the default pack is compiled with it.",
    ),
    click.option(
        "--catalog",
        "catalogs",
        multiple=True,
        type=_file,
        metavar="FILE",
        help="Metrics of other exporters: a YAML list of name/type/labels, or the JSON of "
        "Prometheus' /api/v1/metadata. Repeatable; adds to the pack's pack.yml catalogs.",
    ),
    click.option(
        "--no-default-catalogs",
        is_flag=True,
        help="Do not use the shipped catalogs (node_exporter, Prometheus, Alertmanager).",
    ),
    click.option(
        "--grafana-dashboards-path",
        default="/var/lib/grafana/dashboards",
        show_default=True,
        help="Folder Grafana's dashboard provider reads (where the dashboards are mounted).",
    ),
]


def shared_options(fn: Callable) -> Callable:
    for deco in reversed(SHARED):
        fn = deco(fn)
    return fn


def to_options(
    srcs: tuple[str, ...],
    scrape_interval: int | None,
    alertmanager_version: tuple[int, int],
    notifications: str | None,
    overlay: str | None,
    secrets_dir: str | None,
    runbook_url: str | None,
    datasource_url: str,
    strict: bool,
    catalogs: tuple[str, ...],
    no_default_catalogs: bool,
    grafana_dashboards_path: str,
) -> Options:
    return Options(
        srcs=list(srcs),
        scrape_interval_ms=scrape_interval,
        alertmanager_version=alertmanager_version,
        notifications=notifications,
        overlay=overlay,
        secrets_dir=secrets_dir,
        runbook_url=runbook_url,
        datasource_url=datasource_url,
        dashboards_path=grafana_dashboards_path,
        strict=strict,
        catalogs=list(catalogs),
        default_catalogs=not no_default_catalogs,
    )


def echo_warnings(c: Compiled) -> None:
    """Warnings of a compile that went through: ``FILE:LINE:COL: warning: ...`` on stderr."""
    for w in c.warnings:
        click.echo(str(w), err=True)
