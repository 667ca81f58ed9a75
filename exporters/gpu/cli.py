"""gpuwatch-gpu-exporter: NVML GPU metrics, XID events and Slurm job attribution for Prometheus."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import signal
import sys
import threading

from ..common import log as logsetup
from ..common.cli import base_parser
from ..common.http import Site
from ..common.log import kv
from ..common.server import StartupError, start_server
from . import nvml
from .collectors import COLLECTORS
from .collectors.base import Options
from .exporter import GpuExporter

PROG = "gpuwatch-gpu-exporter"
DEFAULT_PORT = 9400
log = logging.getLogger("gpuwatch.gpu")

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?\s*$")


def duration(flag: str):
    def parse(value: str) -> float:
        m = _DURATION.match(value)
        if not m:
            raise argparse.ArgumentTypeError(f"{flag}: {value!r} is not a duration like 2s, 500ms or 1m")
        n = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
        if n <= 0:
            raise argparse.ArgumentTypeError(f"{flag}: must be > 0")
        return n

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = base_parser(PROG, __doc__, DEFAULT_PORT)
    COLLECTORS.add_flags(p)
    g = p.add_argument_group("nvml")
    g.add_argument(
        "--nvml.scenario",
        dest="nvml_scenario",
        metavar="FILE",
        default=None,
        help="use the built-in simulated GPU backend driven by this scenario file instead of the driver",
    )
    g.add_argument(
        "--nvml.init-retry-min",
        dest="retry_min",
        type=duration("--nvml.init-retry-min"),
        default=1.0,
        metavar="DURATION",
        help="first delay before retrying a failed NVML init (default 1s, doubling)",
    )
    g.add_argument(
        "--nvml.init-retry-max",
        dest="retry_max",
        type=duration("--nvml.init-retry-max"),
        default=60.0,
        metavar="DURATION",
        help="longest delay between NVML init retries (default 1m)",
    )
    g.add_argument(
        "--collect.interval",
        dest="interval",
        type=duration("--collect.interval"),
        default=2.0,
        metavar="DURATION",
        help="how often each GPU is read in the background (default 2s)",
    )
    g.add_argument(
        "--collect.max-age",
        dest="max_age",
        type=duration("--collect.max-age"),
        default=5.0,
        metavar="DURATION",
        help="a GPU whose latest read is older than this is reported down (default 5s)",
    )
    j = p.add_argument_group("jobs")
    j.add_argument(
        "--gpu.job-mapping-dir",
        dest="job_mapping_dir",
        metavar="DIR",
        default=None,
        help="dcgm-exporter style folder: one file per GPU (minor number, UUID or PCI bus id) listing job ids",
    )
    j.add_argument(
        "--gpu.proc-root",
        dest="proc_root",
        metavar="DIR",
        default="/proc",
        help="where to read processes' environ and cgroup (default /proc)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logsetup.setup(args.log_level)
    if args.interval >= args.max_age:
        parser.error(
            f"--collect.interval ({args.interval:g}s) must be shorter than --collect.max-age ({args.max_age:g}s)"
        )
    if args.retry_min > args.retry_max:
        parser.error("--nvml.init-retry-min must not exceed --nvml.init-retry-max")
    if args.job_mapping_dir and not os.path.isdir(args.job_mapping_dir):
        parser.error(f"--gpu.job-mapping-dir {args.job_mapping_dir}: not a directory")
    if not os.path.isdir(args.proc_root):
        parser.error(f"--gpu.proc-root {args.proc_root}: not a directory")
    loader = functools.partial(nvml.load_module, None)
    if args.nvml_scenario:
        from .sim import pynvml as sim
        from .sim.scenario import ScenarioError

        try:
            sim.load(args.nvml_scenario)  # validates now; the simulated clock starts here
        except ScenarioError as exc:
            print(f"{PROG}: error: --nvml.scenario: {exc}", file=sys.stderr)
            return 2
        loader = lambda: sim  # noqa: E731

    enabled = COLLECTORS.enabled(args)
    exporter = GpuExporter(
        loader,
        enabled,
        Options(proc_root=args.proc_root, job_mapping_dir=args.job_mapping_dir),
        interval=args.interval,
        max_age=args.max_age,
        retry_min=args.retry_min,
        retry_max=args.retry_max,
    )
    site = Site(
        title="gpuwatch GPU exporter",
        telemetry_path=args.telemetry_path,
        render=exporter.render,
        version=_version(),
        ready=exporter.ready,
    )
    try:
        server = start_server(args, site)
    except StartupError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    kv(log, logging.INFO, "starting", collectors=",".join(enabled), scenario=args.nvml_scenario or None)
    exporter.start()

    done = threading.Event()

    def _stop(signum, _frame):
        kv(log, logging.INFO, "stopping", signal=signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    done.wait()
    server.shutdown()
    exporter.stop()
    return 0


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("gpuwatch")
    except Exception:  # noqa: BLE001
        return ""


if __name__ == "__main__":
    sys.exit(main())
