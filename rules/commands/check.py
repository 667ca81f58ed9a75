"""``gpuwatch-rules check``: validate only; also runs promtool and amtool when they are on PATH."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from .. import amversions, compiler, promtool, writer
from ..errors import RulesError
from .options import echo_warnings, shared_options, to_options


@click.command("check")
@shared_options
@click.option("--no-tools", is_flag=True, help="Do not run promtool/amtool even when installed.")
def check_cmd(no_tools: bool, **kw: object) -> None:
    """Validate alert definitions and notifications; write nothing."""
    opts = to_options(**kw)  # type: ignore[arg-type]
    c = compiler.compile_sources(opts)
    echo_warnings(c)
    ran: list[str] = []
    if not no_tools:
        with tempfile.TemporaryDirectory(prefix="gpuwatch-rules-check-") as tmp:
            plan = writer.plan_for(c, tmp, None, None)
            plan.secrets = {}
            writer.write(plan)
            results = promtool.promtool_check(Path(tmp)) + promtool.amtool_check(
                Path(tmp), opts.alertmanager_version
            )
            for what, rc, out in results:
                if what == "promtool test rules" and rc != 0:
                    mapped = promtool.promtool_test_problems(out, c.alerts)
                    if mapped:
                        raise RulesError(problems=mapped)
                if what.startswith("amtool") and rc != 0:
                    mapped = promtool.amtool_source_problems(out, c.notifications_path, c.notifications_src)
                    if mapped:
                        raise RulesError(problems=mapped)
            promtool.raise_failures(results, "compiled output")
            ran = [w for w, _, _ in results]
    have = promtool.amtool_version() if not no_tools else None
    if have is not None and have < opts.alertmanager_version:
        click.echo(
            f"note: amtool {amversions.fmt(have)} is older than the Alertmanager "
            f"{amversions.fmt(opts.alertmanager_version)} compiled for: amtool check-config not run",
            err=True,
        )
    click.echo(f"ok: {c.summary()}" + (f"; passed {', '.join(ran)}" if ran else "; promtool/amtool not run"))
