"""Start an exporter's HTTP server from its parsed flags."""

from __future__ import annotations

import argparse
import logging

from .http import ExporterServer, Site, serve_in_thread

log = logging.getLogger("gpuwatch.http")


class StartupError(Exception):
    """A flag or file given at start-up is unusable; the message names it."""


def start_server(args: argparse.Namespace, site: Site) -> ExporterServer:
    """Bind ``--web.listen-address`` and serve ``site`` in a background thread.

    ``--web.config.file`` (exporter-toolkit format: TLS, basic auth) is loaded here, so both
    exporters get the same behaviour and the same start-up errors.
    """
    guard = None
    if getattr(args, "web_config_file", None):
        from .webconfig import WebConfigError, load

        try:
            guard = load(args.web_config_file)
        except WebConfigError as exc:
            raise StartupError(str(exc)) from None
    try:
        server = ExporterServer(args.listen_address, site, guard)
    except OSError as exc:
        host, port = args.listen_address
        raise StartupError(f"--web.listen-address {host or '*'}:{port}: {exc.strerror or exc}") from None
    serve_in_thread(server)
    tls = " tls=true" if guard is not None and guard.ssl_context is not None else ""
    log.info("listening on %s:%d%s", server.server_address[0], server.port, tls)
    return server
