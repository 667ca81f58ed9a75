"""The one domain exception of gpuwatch-jobstats.

Everything below the CLI raises :class:`JobstatsError` with a message that can stand alone on one
line (it names the URL, job or option concerned); only the CLI turns it into that line on stderr
and exit status 1.
"""

from __future__ import annotations


class JobstatsError(Exception):
    """A report cannot be made: Prometheus unreachable or refusing, unknown job, no data."""
