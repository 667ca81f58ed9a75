"""``gpuwatch-slurm-exporter``: Prometheus exporter for a Slurm cluster, run on the controller."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..common.cli import FlagError, base_parser, duration, run_exporter
from .collectors import COLLECTORS
from .exporter import Exporter
from .runner import Runner

PROG = "gpuwatch-slurm-exporter"
DEFAULT_PORT = 9341


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, "Prometheus exporter for Slurm (run on the controller).", DEFAULT_PORT)
    s = p.add_argument_group("slurm")
    s.add_argument(
        "--slurm.poll-interval",
        dest="poll_interval",
        type=duration("--slurm.poll-interval"),
        default=30.0,
        metavar="DURATION",
        help="background collection period, e.g. 30s or 1m; plain seconds accepted (default 30s)",
    )
    s.add_argument(
        "--slurm.timeout",
        dest="timeout",
        type=duration("--slurm.timeout"),
        default=10.0,
        metavar="DURATION",
        help="per-command timeout; a command still running is killed (default 10s)",
    )
    s.add_argument(
        "--slurm.stale-after",
        dest="stale_after",
        type=duration("--slurm.stale-after"),
        default=None,
        metavar="DURATION",
        help="serve gpuwatch_slurm_up 0 and no Slurm series once the last completed cycle is older "
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
