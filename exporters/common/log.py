"""Logging in the logfmt style of the Prometheus exporters: one line per event."""

from __future__ import annotations

import logging
import sys
import time

LEVELS = ("debug", "info", "warn", "error")


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ts += f".{int(record.msecs):03d}Z"
        level = {"WARNING": "warn", "CRITICAL": "error"}.get(record.levelname, record.levelname.lower())
        parts = [f"ts={ts}", f"level={level}", f"logger={record.name}"]
        fields = getattr(record, "fields", None) or {}
        for key, value in fields.items():
            parts.append(f"{key}={_quote(value)}")
        msg = record.getMessage()
        if (
            record.exc_info
            and record.levelno >= logging.ERROR
            and logging.getLogger().isEnabledFor(logging.DEBUG)
        ):
            msg += " " + self.formatException(record.exc_info).replace("\n", " | ")
        parts.append(f"msg={_quote(msg)}")
        return " ".join(parts)


def _quote(value: object) -> str:
    text = str(value).replace("\n", " ")
    if text and all(c.isalnum() or c in "._-:/@" for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def setup(level: str = "info", stream=None) -> None:
    """Configure the root logger once for an exporter process."""
    lvl = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}[
        level
    ]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(lvl)


def kv(logger: logging.Logger, level: int, msg: str, **fields: object) -> None:
    """Log ``msg`` with logfmt key/value fields."""
    logger.log(level, msg, extra={"fields": fields})
