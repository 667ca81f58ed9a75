"""Collector registration in the style of node_exporter.

Each exporter owns one :class:`CollectorSet`. A collector module registers itself by name::

    COLLECTORS = CollectorSet("gpuwatch_slurm")

    @COLLECTORS.register("nodes", default=True, help="Node states, CPUs, GPUs and memory")
    class NodesCollector: ...

Registration only records the class: no work happens at import or registration time.
The command line then gets ``--collector.NAME`` / ``--no-collector.NAME`` for every entry.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class CollectorError(Exception):
    """A collector could not produce its metrics (bad input, command failure, ...)."""


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    factory: Callable
    default_enabled: bool
    help: str


class CollectorSet:
    def __init__(self, namespace: str):
        self.namespace = namespace
        self._specs: dict[str, CollectorSpec] = {}

    def register(self, name: str, *, default: bool = True, help: str = "") -> Callable:
        def deco(factory):
            if name in self._specs:
                raise ValueError(f"collector {name!r} registered twice")
            self._specs[name] = CollectorSpec(name, factory, default, help)
            return factory

        return deco

    @property
    def specs(self) -> dict[str, CollectorSpec]:
        return dict(sorted(self._specs.items()))

    def add_flags(self, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("collectors")
        for spec in self.specs.values():
            state = "enabled" if spec.default_enabled else "disabled"
            group.add_argument(
                f"--collector.{spec.name}",
                dest=f"collector_{spec.name}",
                action=argparse.BooleanOptionalAction,
                default=spec.default_enabled,
                help=f"{spec.help} (default: {state})",
            )

    def enabled(self, args: argparse.Namespace) -> list[str]:
        return [name for name in self.specs if getattr(args, f"collector_{name}")]

    def enabled_from(self, names: Iterable[str] | None = None) -> list[str]:
        """Names given explicitly (tests) or the defaults."""
        if names is None:
            return [n for n, s in self.specs.items() if s.default_enabled]
        unknown = sorted(set(names) - set(self._specs))
        if unknown:
            raise ValueError(f"unknown collector(s): {', '.join(unknown)}")
        return sorted(names)
