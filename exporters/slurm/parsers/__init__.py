"""Parsers for Slurm command output. Pure functions: text in, plain data out, no I/O.

Each raises :class:`ParseError` (naming the command, line and field) only when the output as a
whole is unusable; odd single values become ``None``/unknown and are counted by the caller.
"""

from .common import ParseError

__all__ = ["ParseError"]
