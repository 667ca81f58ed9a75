"""What every gpuwatch exporter's command line shares: flags in the Prometheus exporter style,
durations, the version, and :func:`run_exporter`, the one main loop.

An exporter's ``cli`` module builds its parser on :func:`base_parser` (``--web.*``, ``--log.level``,
``--version``), adds its own flags and its collectors' ``--collector.NAME`` flags, and hands
:func:`run_exporter` a function that turns the parsed flags into a :class:`Served` object.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

from . import log
from .http import Site
from .server import StartupError, start_server

_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def duration(flag: str) -> Callable[[str], float]:
    """argparse type for a positive duration in seconds: ``30s``, ``500ms``, ``1m``, ``1h`` or plain ``30``."""

    def parse(value: str) -> float:
        m = _DURATION.match(value)
        if not m:
            raise argparse.ArgumentTypeError(f"{flag}: {value!r} is not a duration like 2s, 500ms or 1m")
        n = float(m.group(1)) * _UNITS[m.group(2)]
        if n <= 0:
            raise argparse.ArgumentTypeError(f"{flag}: must be > 0, got {value}")
        return n

    return parse


def add_duration_flag(
    group: argparse._ActionsContainer, flag: str, dest: str, default: float | None, help: str
) -> None:
    """A ``--FLAG DURATION`` option (see :func:`duration`), value in seconds."""
    group.add_argument(flag, dest=dest, type=duration(flag), default=default, metavar="DURATION", help=help)


def version() -> str:
    """The installed gpuwatch distribution's version (package metadata), or "unknown"."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("gpuwatch")
    except PackageNotFoundError:
        return "unknown"


def listen_address(value: str) -> tuple[str, int]:
    """Parse ``:9341``, ``127.0.0.1:9341`` or ``[::1]:9341`` into (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--web.listen-address: {value!r} is not HOST:PORT")
    host = host.strip("[]")
    return host, int(port)


def telemetry_path(value: str) -> str:
    if not value.startswith("/") or value == "/":
        raise argparse.ArgumentTypeError(f"--web.telemetry-path: {value!r} must start with / and not be /")
    return value


def base_parser(prog: str, description: str, default_port: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    web = parser.add_argument_group("web")
    web.add_argument(
        "--web.listen-address",
        dest="listen_address",
        type=listen_address,
        default=listen_address(f":{default_port}"),
        metavar="[HOST]:PORT",
        help=f"address to listen on (default :{default_port}, all interfaces)",
    )
    web.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        type=telemetry_path,
        default="/metrics",
        help="path under which to expose metrics (default /metrics)",
    )
    web.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        metavar="FILE",
        help="exporter-toolkit web config file (TLS, basic auth)",
    )
    parser.add_argument("--log.level", dest="log_level", choices=log.LEVELS, default="info", help="log level")
    parser.add_argument("--version", action="version", version=f"{prog} {version()}")
    return parser


class Served(Protocol):
    """What :func:`run_exporter` serves: an exporter that collects in the background."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def render(self) -> bytes: ...

    def ready(self) -> bool: ...

    def check(self) -> bool:
        """Watchdog, called every :attr:`check_interval` seconds (restart dead threads, log staleness)."""
        ...

    @property
    def check_interval(self) -> float: ...


class FlagError(Exception):
    """A flag's value cannot work (the message names the flag); the exporter exits 2."""


def run_exporter(
    parser: argparse.ArgumentParser,
    build: Callable[[argparse.Namespace], tuple[Served, dict[str, Any]]],
    *,
    title: str,
    logger: str,
    argv: list[str] | None = None,
) -> int:
    """Parse flags, build the exporter, serve it until SIGTERM/SIGINT; the exit status.

    ``build(args)`` returns the exporter and the fields of the "starting" log line; it raises
    :class:`FlagError` for a flag that cannot work (exit 2 with the usage line, nothing started).
    """
    args = parser.parse_args(argv)
    log.setup(args.log_level)
    logger_ = logging.getLogger(logger)
    try:
        exporter, fields = build(args)
    except FlagError as exc:
        parser.error(str(exc))  # exits 2
    site = Site(
        title=title,
        telemetry_path=args.telemetry_path,
        render=exporter.render,
        version=version(),
        ready=exporter.ready,
    )
    try:
        server = start_server(args, site)
    except StartupError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    log.kv(logger_, logging.INFO, "starting", version=version(), **fields)
    exporter.start()
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # the watchdog notices a stale cache or a dead collection thread even when nobody scrapes
    while not stop.wait(exporter.check_interval):
        exporter.check()
    log.kv(logger_, logging.INFO, "stopping", signal=received[0] if received else None)
    server.shutdown()
    exporter.stop()
    return 0
