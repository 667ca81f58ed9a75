"""Alertmanager output: alertmanager.yml from the checked notifications file."""

from __future__ import annotations

from ..api import Compiled
from .common import dump_yaml, header


def alertmanager_file(c: Compiled) -> str:
    extra = ""
    if c.secrets:
        extra = (
            "Secrets are read from *_file paths written at compile time; their values are not in this file."
        )
    return header([c.notifications_src], extra) + dump_yaml(c.notifications.config)
