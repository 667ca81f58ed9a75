"""gpuwatch-gpu-exporter: NVML GPU metrics, XID events and Slurm job attribution for Prometheus."""

from __future__ import annotations

import argparse
import functools
import math
import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ..common.cli import FlagError, add_duration_flag, base_parser, run_exporter
from . import nvml
from .collectors import COLLECTORS, Options
from .exporter import GpuExporter

PROG = "gpuwatch-gpu-exporter"
DEFAULT_PORT = 9400


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
    add_duration_flag(
        g,
        "--nvml.init-retry-min",
        "retry_min",
        1.0,
        "first delay before retrying a failed NVML init (default 1s, doubling)",
    )
    add_duration_flag(
        g, "--nvml.init-retry-max", "retry_max", 60.0, "longest delay between NVML init retries (default 1m)"
    )
    add_duration_flag(
        g, "--collect.interval", "interval", 2.0, "how often each GPU is read in the background (default 2s)"
    )
    add_duration_flag(
        g,
        "--collect.max-age",
        "max_age",
        5.0,
        "a GPU whose latest read is older than this is reported down (default 5s)",
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
    c = p.add_argument_group("cost")
    c.add_argument(
        "--gpu.hourly-cost-usd",
        dest="hourly_cost_usd",
        metavar="FLOAT",
        type=hourly_cost("--gpu.hourly-cost-usd"),
        default=None,
        help="the whole node's (pod's) price in US dollars per hour, exported as gpuwatch_node_hourly_cost_usd "
        "(default: unset, not exported)",
    )
    return p


def hourly_cost(flag: str) -> Callable[[str], float]:
    """argparse type for a price per hour: a finite number >= 0."""

    def parse(value: str) -> float:
        try:
            n = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: {value!r} is not a number") from None
        if not math.isfinite(n) or n < 0:
            raise argparse.ArgumentTypeError(f"{flag}: must be a finite number >= 0, got {value}")
        return n

    return parse


def build(args: argparse.Namespace) -> tuple[GpuExporter, dict[str, Any]]:
    if args.interval >= args.max_age:
        raise FlagError(
            f"--collect.interval ({args.interval:g}s) must be shorter than --collect.max-age ({args.max_age:g}s)"
        )
    if args.retry_min > args.retry_max:
        raise FlagError("--nvml.init-retry-min must not exceed --nvml.init-retry-max")
    if args.job_mapping_dir and not os.path.isdir(args.job_mapping_dir):
        raise FlagError(f"--gpu.job-mapping-dir {args.job_mapping_dir}: not a directory")
    if not os.path.isdir(args.proc_root):
        raise FlagError(f"--gpu.proc-root {args.proc_root}: not a directory")
    loader: Callable[[], ModuleType] = functools.partial(nvml.load_module, None)
    if args.nvml_scenario:
        from .sim import pynvml as sim
        from .sim.scenario import ScenarioError

        try:
            sim.load(args.nvml_scenario)  # validates now; the simulated clock starts here
        except ScenarioError as exc:
            raise FlagError(f"--nvml.scenario: {exc}") from None

        def simulated() -> ModuleType:
            return sim

        loader = simulated

    enabled = COLLECTORS.enabled(args)
    exporter = GpuExporter(
        loader,
        enabled,
        Options(
            proc_root=args.proc_root,
            job_mapping_dir=args.job_mapping_dir,
            hourly_cost_usd=args.hourly_cost_usd,
        ),
        interval=args.interval,
        max_age=args.max_age,
        retry_min=args.retry_min,
        retry_max=args.retry_max,
    )
    return exporter, {"collectors": ",".join(enabled), "scenario": args.nvml_scenario or None}


def main(argv: list[str] | None = None) -> int:
    return run_exporter(
        build_parser(), build, title="gpuwatch GPU exporter", logger="gpuwatch.gpu", argv=argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
