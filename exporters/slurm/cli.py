"""``gpuwatch-slurm-exporter``: Prometheus exporter for a Slurm cluster, run on the controller."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from ..common import log as logsetup
from ..common.cli import base_parser
from ..common.http import Site
from ..common.server import StartupError, start_server
from .collectors import COLLECTORS
from .exporter import Exporter
from .runner import Runner

DEFAULT_PORT = 9341
VERSION = "0.1.0"


def positive_float(flag: str):
    def conv(value: str) -> float:
        try:
            v = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: {value!r} is not a number") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"{flag}: must be > 0, got {value}")
        return v

    return conv


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(
        "gpuwatch-slurm-exporter", "Prometheus exporter for Slurm (run on the controller).", DEFAULT_PORT
    )
    s = p.add_argument_group("slurm")
    s.add_argument(
        "--slurm.poll-interval",
        dest="poll_interval",
        type=positive_float("--slurm.poll-interval"),
        default=30.0,
        metavar="SECONDS",
        help="background collection period (default 30)",
    )
    s.add_argument(
        "--slurm.timeout",
        dest="timeout",
        type=positive_float("--slurm.timeout"),
        default=10.0,
        metavar="SECONDS",
        help="per-command timeout; a command still running is killed (default 10)",
    )
    s.add_argument(
        "--slurm.stale-after",
        dest="stale_after",
        type=positive_float("--slurm.stale-after"),
        default=None,
        metavar="SECONDS",
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
    p.add_argument("--version", action="version", version=f"gpuwatch-slurm-exporter {VERSION}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logsetup.setup(args.log_level)
    log = logging.getLogger("gpuwatch.slurm")
    enabled = COLLECTORS.enabled(args)
    if args.bin_dir is not None:
        import os

        if not os.path.isdir(args.bin_dir):
            print(
                f"gpuwatch-slurm-exporter: --slurm.bin-dir {args.bin_dir}: not a directory", file=sys.stderr
            )
            return 2
    runner = Runner(timeout=args.timeout, bin_dir=args.bin_dir)
    exporter = Exporter(enabled, runner, args.poll_interval, stale_after=args.stale_after)
    site = Site(
        title="gpuwatch Slurm exporter",
        telemetry_path=args.telemetry_path,
        render=exporter.render,
        version=VERSION,
        ready=exporter.ready,
    )
    try:
        server = start_server(args, site)
    except StartupError as exc:
        print(f"gpuwatch-slurm-exporter: {exc}", file=sys.stderr)
        return 2
    logsetup.kv(
        log,
        logging.INFO,
        "starting",
        collectors=",".join(enabled),
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        stale_after=exporter.stale_after,
    )
    exporter.start()
    stop = threading.Event()

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # watchdog: notices a stale cache or a dead poller thread even when nobody scrapes
    tick = max(0.5, min(5.0, exporter.stale_after / 4))
    while not stop.wait(tick):
        exporter.check()
    logsetup.kv(log, logging.INFO, "stopping")
    server.shutdown()
    exporter.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
