"""``gpuwatch-slurm-exporter``: Prometheus exporter for a Slurm cluster, run on the controller."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..common.cli import FlagError, add_duration_flag, base_parser, run_exporter
from .collectors import COLLECTORS
from .exporter import Exporter
from .runner import Runner

PROG = "gpuwatch-slurm-exporter"
DEFAULT_PORT = 9341


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Prometheus exporter for Slurm (run on the controller).", DEFAULT_PORT)
    s = p.add_argument_group("slurm")
    add_duration_flag(
        s,
        "--slurm.poll-interval",
        "poll_interval",
        30.0,
        "background collection period, e.g. 30s or 1m; plain seconds accepted (default 30s)",
    )
    add_duration_flag(
        s,
        "--slurm.timeout",
        "timeout",
        10.0,
        "per-command timeout; a command still running is killed (default 10s)",
    )
    add_duration_flag(
        s,
        "--slurm.stale-after",
        "stale_after",
        None,
        "serve gpuwatch_slurm_up 0 and no Slurm series once the last completed cycle is older "
        "than this (default: max(3 x poll-interval, poll-interval + 2 x commands x timeout))",
    )
    s.add_argument(
        "--slurm.bin-dir",
        dest="bin_dir",
        default=None,
        metavar="DIR",
        help="folder with sinfo/squeue/sdiag/... (default: search PATH)",
    )
    COLLECTORS.add_flags(p)
    return p


def build(args: argparse.Namespace) -> tuple[Exporter, dict[str, Any]]:
    if args.bin_dir is not None and not os.path.isdir(args.bin_dir):
        raise FlagError(f"--slurm.bin-dir {args.bin_dir}: not a directory")
    enabled = COLLECTORS.enabled(args)
    exporter = Exporter(
        enabled, Runner(timeout=args.timeout, bin_dir=args.bin_dir), args.poll_interval, args.stale_after
    )
    fields = {
        "collectors": ",".join(enabled),
        "poll_interval": f"{args.poll_interval:g}s",
        "timeout": f"{args.timeout:g}s",
        "stale_after": f"{exporter.stale_after:g}s",
    }
    return exporter, fields


def main(argv: list[str] | None = None) -> int:
    return run_exporter(
        build_parser(), build, title="gpuwatch Slurm exporter", logger="gpuwatch.slurm", argv=argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
