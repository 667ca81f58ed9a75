"""``gpuwatch-jobstats``: the click entry point, and the only place where a
:class:`JobstatsError` becomes one line on stderr and exit status 1 (usage errors: 2)."""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .errors import JobstatsError
from .job import job_report
from .prom import Connection, Prometheus
from .render import job_text, summary_csv, summary_text, to_json
from .summary import summary
from .timespec import parse_duration, parse_time

PROG = "gpuwatch-jobstats"
_JOB_ID = re.compile(r"^[0-9]+(?:[_+][0-9]+)?$")


class _Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class _Command(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JobstatsError as exc:
            click.echo(f"{PROG}: {exc}", err=True)
            ctx.exit(1)


# Connection options, defined once (the client side of the exporters' web config).
def _file_option(flag: str, dest: str, help: str) -> Callable:
    """A connection option naming a file (password, CA, client certificate or key)."""
    return click.option(flag, dest, type=click.Path(dir_okay=False), default=None, metavar="FILE", help=help)


CONNECTION = [
    click.option(
        "--prometheus.url",
        "url",
        envvar="GPUWATCH_PROMETHEUS_URL",
        default="http://localhost:9090",
        show_default=True,
        metavar="URL",
        help="Prometheus server (env GPUWATCH_PROMETHEUS_URL).",
    ),
    click.option("--prometheus.username", "username", default=None, metavar="USER", help="Basic auth user."),
    _file_option(
        "--prometheus.password-file",
        "password_file",
        "File holding the basic auth password (never given on the command line).",
    ),
    _file_option(
        "--prometheus.ca-file", "ca_file", "CA certificate(s) to verify Prometheus's TLS certificate with."
    ),
    _file_option(
        "--prometheus.cert-file", "cert_file", "Client certificate (for a Prometheus that requires one)."
    ),
    _file_option("--prometheus.key-file", "key_file", "Client certificate's private key."),
    click.option(
        "--prometheus.insecure-skip-verify",
        "insecure_skip_verify",
        is_flag=True,
        default=False,
        help="Do not verify Prometheus's certificate (tests only).",
    ),
    click.option(
        "--prometheus.timeout",
        "timeout",
        type=_Duration(),
        default="60s",
        show_default=True,
        help="Timeout of each request.",
    ),
]


def connection_options(fn: Callable) -> Callable:
    for deco in reversed(CONNECTION):
        fn = deco(fn)
    return fn


@click.command(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("job_id", required=False, metavar="[JOBID]")
@click.option("--user", default=None, metavar="USER", help="Summary of this user's jobs.")
@click.option("--all", "all_users", is_flag=True, default=False, help="Summary of every user's jobs.")
@click.option(
    "--by",
    type=click.Choice(["job", "user"]),
    default="job",
    show_default=True,
    help="Summary rows: jobs or users.",
)
@click.option(
    "--since",
    type=_Duration(),
    default=None,
    help="How far back to look: a job's GPUs (default 30d) or the summary's range (default 7d).",
)
@click.option(
    "--start", default=None, metavar="TIME", help="Range start (RFC 3339, Unix seconds, now-2d or -2d)."
)
@click.option("--end", default=None, metavar="TIME", help="Range end (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv"]),
    default="text",
    show_default=True,
    help="Output format (csv: summary only).",
)
@click.option(
    "--scrape-interval",
    type=_Duration(),
    default=None,
    help="The GPU exporters' scrape interval (default: measured from the samples, else Prometheus's config).",
)
@click.option(
    "--source",
    type=click.Choice(["auto", "rules", "raw"]),
    default="auto",
    show_default=True,
    help="Summary: the pack's recording rules (fast), subqueries over the raw series, or rules when present.",
)
@connection_options
@click.version_option(package_name="gpuwatch", prog_name=PROG)
def cli(
    job_id: str | None,
    user: str | None,
    all_users: bool,
    by: str,
    since: float | None,
    start: str | None,
    end: str | None,
    fmt: str,
    scrape_interval: float | None,
    source: str,
    **conn: Any,
) -> None:
    """GPU efficiency and cost of one Slurm job (JOBID), or a summary per job and user
    (--user USER | --all), from the gpuwatch series in Prometheus.

    \b
      gpuwatch-jobstats 12345
      gpuwatch-jobstats 12345 --format json
      gpuwatch-jobstats --all --since 7d
      gpuwatch-jobstats --user alice --start 2026-12-01 --end 2026-12-08 --format csv
      gpuwatch-jobstats --all --by user
    """
    summary_mode = user is not None or all_users
    if job_id is not None and summary_mode:
        raise click.UsageError("give either JOBID or --user/--all, not both")
    if job_id is None and not summary_mode:
        raise click.UsageError("give a JOBID, or --user USER / --all for a summary")
    if user is not None and all_users:
        raise click.UsageError("--user and --all exclude each other")
    if job_id is not None:
        if not _JOB_ID.match(job_id):
            raise click.BadParameter(
                f"{job_id!r} is not a Slurm job id (like 12345 or 12345_7)", param_hint="JOBID"
            )
        if fmt == "csv":
            raise click.BadParameter(
                "csv is for the summary (--user/--all); use text or json", param_hint="--format"
            )
        if by != "job":
            raise click.UsageError("--by is for the summary (--user/--all)")
    if since is not None and start is not None:
        raise click.UsageError("--since and --start exclude each other")
    now = time.time()
    try:
        t_end = parse_time(end, now) if end else now
        t_start = parse_time(start, now) if start else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start/--end") from None
    if t_start is not None and t_start >= t_end:
        raise click.BadParameter("--start must be before --end", param_hint="--start")
    window = (
        (t_end - t_start)
        if t_start is not None
        else (since or (7 * 86400.0 if summary_mode else 30 * 86400.0))
    )

    prom = Prometheus(Connection(**conn))
    if job_id is not None:
        report = job_report(prom, job_id, since=window, end=t_end, now=now, interval=scrape_interval)
        click.echo(to_json(report) if fmt == "json" else job_text(report), nl=False)
        return
    interval = scrape_interval or _summary_interval(prom, t_end)
    doc = summary(prom, user=user, start=t_end - window, end=t_end, interval=interval, source=source)
    used = doc.pop("source")
    if used == "raw" and source == "auto":
        click.echo(
            f"{PROG}: note: no gpuwatch job recording rules in this range (rules/pack/jobs.yml); "
            "computed from the raw series, which is slow over long ranges",
            err=True,
        )
    if not doc["jobs"]:
        _no_jobs(prom, user, t_end - window, t_end)
    if fmt == "json":
        click.echo(to_json(doc), nl=False)
    elif fmt == "csv":
        click.echo(summary_csv(doc, by == "user"), nl=False)
    else:
        click.echo(summary_text(doc, by == "user", t_end - window, t_end, used), nl=False)


def _summary_interval(prom: Prometheus, end: float) -> float:
    """Scrape interval: the median spacing of the raw samples of ``gpuwatch_gpu_info{gpu="0"}``
    (one series per exporter) in the 10 minutes before ``end``, else Prometheus's config, else 15 s."""
    spacings: list[float] = []
    for item in prom.query('gpuwatch_gpu_info{gpu="0"}[10m]', end):
        stamps = sorted(float(t) for t, _ in item.get("values", []))
        spacings.extend(b - a for a, b in zip(stamps, stamps[1:]) if b > a)
    if spacings:
        return statistics.median(spacings)
    return prom.scrape_interval() or 15.0


def _no_jobs(prom: Prometheus, user: str | None, start: float, end: float) -> None:
    if not prom.series("gpuwatch_gpu_info", start, end):
        raise JobstatsError(
            f"Prometheus at {prom.url} has no gpuwatch GPU data (no gpuwatch_gpu_info series) in the range: "
            "does it scrape gpuwatch-gpu-exporter?"
        )
    if user is not None:
        raise JobstatsError(f"user {user}: no GPU jobs in the range (no gpuwatch_gpu_job_info series)")


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name=PROG, standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
