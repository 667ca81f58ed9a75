"""The compiler: a short pipeline of stages, each in its own module.

    load (load.py) -> overlay (overlay.apply) -> check (check.py) -> emit (emit/)

:func:`compile_sources` is everything ``check`` and ``compile`` share: it returns a
:class:`Compiled` with every output file's text keyed by (root, relative path), or raises one
:class:`RulesError` listing every problem found.
"""

from __future__ import annotations

from . import emit, load, overlay
from .api import Compiled, Options
from .check import DEFAULT_SCRAPE_MS, check
from .errors import Problems

__all__ = ["DEFAULT_SCRAPE_MS", "Compiled", "Options", "compile_sources"]


def compile_sources(opts: Options) -> Compiled:
    p = Problems(strict=opts.strict)
    loaded = load.load(opts, p)
    dropped = overlay.apply(loaded.overlay, loaded.groups, p)
    checked = check(loaded, opts, p)
    p.raise_if_any()
    assert checked.notifications is not None

    out = Compiled(
        loaded.groups,
        checked.alerts,
        checked.recordings,
        checked.analyses,
        checked.notifications,
        loaded.notifications_src.display,
        checked.scrape_interval_ms,
        secrets=checked.notifications.secrets,
        dropped_tests=dropped,
        runbook_base=checked.runbook_base,
        threshold_files=loaded.threshold_files,
        notifications_path=str(loaded.notifications_src.path),
        warnings=p.warnings,
    )
    p2 = Problems()
    out.files = emit.render_all(out, opts, p2)
    p2.raise_if_any()
    return out
