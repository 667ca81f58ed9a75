"""Flags every gpuwatch exporter shares, in the Prometheus exporter style."""

from __future__ import annotations

import argparse

from . import log


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
    return parser
