"""Helpers for the compose stack tests: paths, compose interpolation, mounts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
PROMETHEUS_FILE = COMPOSE_DIR / "prometheus" / "prometheus.yml"
# The version root holding the Prometheus/Alertmanager that compose pins (test_stack_compose checks
# the pins against it); the compose configs are checked with its promtool.
PINNED_ROOT = "sid"

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value, env: dict[str, str]):
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR:?message}`` over a parsed document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        if name in env and (env[name] != "" or op in (None, "-", "?")):
            return env[name]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            raise ValueError(f"${{{name}}} is required: {arg}")
        return ""

    return _VAR.sub(sub, value.replace("$$", "\0")).replace("\0", "$")


def bind_mounts(service: dict) -> list[tuple[Path, str, bool]]:
    """(host path, container path, read_only) for each bind mount in short syntax."""
    out = []
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        source, target = parts[0], parts[1]
        if source.startswith((".", "/")):
            out.append(
                ((COMPOSE_DIR / source).resolve(), target, len(parts) > 2 and "ro" in parts[2].split(","))
            )
    return out


def named_volumes(service: dict) -> list[tuple[str, str]]:
    out = []
    for spec in service.get("volumes", []):
        parts = spec.split(":")
        if not parts[0].startswith((".", "/")):
            out.append((parts[0], parts[1]))
    return out


@pytest.fixture(scope="session")
def compose_raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="session")
def compose(compose_raw) -> dict:
    """The compose file as `docker compose config` would see it with no variables set."""
    return interpolate(compose_raw, {})


@pytest.fixture(scope="session")
def prometheus_config() -> dict:
    return yaml.safe_load(PROMETHEUS_FILE.read_text())
