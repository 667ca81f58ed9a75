"""A stand-in exporter for load tests of the HTTP layer alone.

``python -m gpuwatch.testing.trivial_exporter --web.listen-address 127.0.0.1:0 [--web.config.file F]``
serves a fixed payload shaped like a GPU node's scrape (8 GPUs x ~40 series) through the same
``start_server`` the real exporters use, and prints ``listening PORT`` once ready.
``--prometheus-client`` serves the same payload with prometheus_client's ``start_http_server``
instead, for a side-by-side comparison.
"""

from __future__ import annotations

import signal
import sys
import threading

from gpuwatch.exporters.common import log
from gpuwatch.exporters.common.cli import base_parser
from gpuwatch.exporters.common.http import Site
from gpuwatch.exporters.common.server import StartupError, start_server


def payload() -> bytes:
    lines = []
    for metric in range(40):
        lines.append(
            f"# HELP trivial_metric_{metric} A stand-in series.\n# TYPE trivial_metric_{metric} gauge\n"
        )
        for gpu in range(8):
            lines.append(
                f'trivial_metric_{metric}{{gpu="{gpu}",uuid="GPU-{gpu:08x}",node="node-a"}} {metric * gpu}.5\n'
            )
    return "".join(lines).encode()


def main() -> int:
    parser = base_parser("trivial-exporter", "load-test stand-in", 0)
    parser.add_argument("--prometheus-client", action="store_true")
    args = parser.parse_args()
    log.setup(args.log_level)
    body = payload()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.prometheus_client:
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.core import GaugeMetricFamily

        class Fixed:
            def collect(self):
                for metric in range(40):
                    fam = GaugeMetricFamily(
                        f"trivial_metric_{metric}", "A stand-in series.", labels=["gpu", "uuid", "node"]
                    )
                    for gpu in range(8):
                        fam.add_metric([str(gpu), f"GPU-{gpu:08x}", "node-a"], metric * gpu + 0.5)
                    yield fam

        registry = CollectorRegistry()
        registry.register(Fixed())
        host, port = args.listen_address
        server, _ = start_http_server(port, addr=host or "0.0.0.0", registry=registry)
        port = server.server_port
    else:
        site = Site(title="trivial exporter", telemetry_path=args.telemetry_path, render=lambda: body)
        try:
            server = start_server(args, site)
        except StartupError as exc:
            print(f"trivial-exporter: {exc}", file=sys.stderr)
            return 2
        port = server.port
    print(f"listening {port}", flush=True)
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
