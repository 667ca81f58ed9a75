"""``gpuwatch.testing``: helpers shared by the tests and the benchmarks (this folder is mapped to
that package in setup.py and installed with the editable install, so tests and bench scripts
import it like any other module, without editing ``sys.path``).

- :mod:`.procs`: free ports, whether a PID runs, per-process threads/RSS/children, an exporter
  started and stopped by PID, waiting for an HTTP endpoint;
- :mod:`.metrics`: the one Prometheus text parser (prometheus_client's), series lookups, scraping;
- :mod:`.loadgen`: concurrent scrapers for the load tests and ``bench/load.py``;
- :mod:`.http`: one GET with basic auth and TLS; :mod:`.faults`: Slurm client wrappers for fault runs;
- :mod:`.tls`: a throw-away certificate and web config with TLS + basic auth;
- :mod:`.trivial_exporter`: ``python -m gpuwatch.testing.trivial_exporter``, the HTTP layer with a
  fixed payload.

Modules import their heavier dependencies (prometheus_client, cryptography, bcrypt) only where
used; they come with the ``test`` extra.
"""

from __future__ import annotations

from .metrics import parse_metrics, series, value
from .procs import free_port, pid_alive, port_is_free

__all__ = ["free_port", "parse_metrics", "pid_alive", "port_is_free", "series", "value"]
