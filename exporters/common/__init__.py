"""The exporter toolkit both gpuwatch exporters are built on.

- :mod:`.metric`: metric declarations (``MetricDef``) and the one family type (``MetricFamily``,
  ``Families``);
- :mod:`.exposition`: the one text-format writer;
- :mod:`.collector`: the collector interface, registration by name (``--collector.NAME``) with
  what each collector needs, and the runner that times collectors (``*_collector_success``,
  ``*_collector_duration_seconds``);
- :mod:`.cli`: shared flags, durations, the version, and ``run_exporter()``, the one main loop;
- :mod:`.http`, :mod:`.server`, :mod:`.webconfig`: serving /metrics (TLS, basic auth);
- :mod:`.log`: logfmt logging.
"""
