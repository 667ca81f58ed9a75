"""Scenario files for the simulated GPU backend: loading, validation, evaluation over time.

A scenario describes the GPUs of one node, their values over time and the faults injected at
given times. Times are seconds since the exporter started (the simulated clock starts when the
scenario is loaded). The format is documented in docs/gpu-exporter.md ("Simulated GPUs: scenario files").

Errors name the file and the line: ``demo.yaml:12: gpus[1].values.temperature: ...``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ScenarioError(Exception):
    """The scenario file is unusable; the message names the file, line and field."""


# --- YAML with line numbers -------------------------------------------------------------------


class _LDict(dict):
    line = 0

    def __init__(self):
        super().__init__()
        self.lines: dict[Any, int] = {}


class _LList(list):
    line = 0

    def __init__(self):
        super().__init__()
        self.lines: list[int] = []


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _LDict:
    loader.flatten_mapping(node)
    out = _LDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in out:
            raise ScenarioError(f"{loader.name}:{line}: duplicate key {key!r}")
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> _LList:
    out = _LList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, path: str):
        self.path = path

    def fail(self, line: int, where: str, msg: str) -> ScenarioError:
        return ScenarioError(f"{self.path}:{line}: {where}: {msg}")


# --- values over time -------------------------------------------------------------------------

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def _number(ctx: _Ctx, line: int, where: str, raw: Any, *, sizes: bool = False) -> float:
    if isinstance(raw, bool):
        raise ctx.fail(line, where, f"expected a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise ctx.fail(line, where, "must be finite")
        return float(raw)
    if sizes and isinstance(raw, str):
        m = _SIZE.match(raw)
        if m and m.group(2).lower() in _UNITS:
            return float(m.group(1)) * _UNITS[m.group(2).lower()]
        raise ctx.fail(line, where, f"{raw!r} is not a size (e.g. 81559 MiB written as 81559MiB, or bytes)")
    raise ctx.fail(line, where, f"expected a number, got {raw!r}")


@dataclass(frozen=True)
class Value:
    """A value over time: constant, piecewise linear through points, or a sine wave."""

    const: float | None = None
    points: tuple[tuple[float, float], ...] = ()
    base: float = 0.0
    amplitude: float = 0.0
    period: float = 60.0

    def at(self, t: float) -> float:
        if self.const is not None:
            return self.const
        if self.points:
            pts = self.points
            if t <= pts[0][0]:
                return pts[0][1]
            for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
                if t <= t1:
                    return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
            return pts[-1][1]
        return self.base + self.amplitude * math.sin(2 * math.pi * t / self.period)

    def integral(self, t: float) -> float:
        """Integral from 0 to t (used for the energy counter from power)."""
        if t <= 0:
            return 0.0
        if self.const is not None:
            return self.const * t
        if self.points:
            total, prev_t, prev_v = 0.0, 0.0, self.at(0.0)
            for pt, _ in self.points:
                if pt <= 0:
                    continue
                if pt >= t:
                    break
                v = self.at(pt)
                total += (prev_v + v) / 2 * (pt - prev_t)
                prev_t, prev_v = pt, v
            v = self.at(t)
            return total + (prev_v + v) / 2 * (t - prev_t)
        w = 2 * math.pi / self.period
        return self.base * t + self.amplitude * (1 - math.cos(w * t)) / w


def parse_value(ctx: _Ctx, line: int, where: str, raw: Any, *, sizes: bool = False) -> Value:
    if isinstance(raw, (int, float, str)) and not isinstance(raw, bool):
        return Value(const=_number(ctx, line, where, raw, sizes=sizes))
    if isinstance(raw, list):
        pts = []
        for i, item in enumerate(raw):
            iline = raw.lines[i] if isinstance(raw, _LList) else line
            if not isinstance(item, list) or len(item) != 2:
                raise ctx.fail(iline, f"{where}[{i}]", "a point is [seconds, value]")
            pts.append(
                (
                    _number(ctx, iline, f"{where}[{i}]", item[0]),
                    _number(ctx, iline, f"{where}[{i}]", item[1], sizes=sizes),
                )
            )
        if not pts:
            raise ctx.fail(line, where, "needs at least one [seconds, value] point")
        if any(b[0] < a[0] for a, b in zip(pts, pts[1:])):
            raise ctx.fail(line, where, "points must be in time order")
        return Value(points=tuple(pts))
    if isinstance(raw, dict):
        unknown = set(raw) - {"base", "amplitude", "period"}
        if unknown:
            raise ctx.fail(
                line,
                where,
                f"unknown key(s) {', '.join(sorted(map(str, unknown)))} (wave has base, amplitude, period)",
            )
        period = _number(ctx, line, where + ".period", raw.get("period", 60))
        if period <= 0:
            raise ctx.fail(line, where + ".period", "must be > 0")
        return Value(
            base=_number(ctx, line, where + ".base", raw.get("base", 0), sizes=sizes),
            amplitude=_number(ctx, line, where + ".amplitude", raw.get("amplitude", 0), sizes=sizes),
            period=period,
        )
    raise ctx.fail(
        line,
        where,
        f"expected a number, a list of [seconds, value] points or a wave {{base, amplitude, period}}, got {raw!r}",
    )


# --- the scenario model -----------------------------------------------------------------------

# name -> (default, is_size, (min, max) or None)
VALUE_FIELDS: dict[str, tuple[Any, bool, tuple[float, float] | None]] = {
    "utilization": (0.0, False, (0, 1)),
    "memory_utilization": (0.0, False, (0, 1)),
    "memory_used": (0, True, None),
    "memory_reserved": ("512MiB", True, None),
    "temperature": (35, False, None),
    "memory_temperature": (40, False, None),
    "power": (70, False, None),
    "sm_clock": (1410, False, None),
    "memory_clock": (1593, False, None),
    "performance_state": (0, False, (0, 15)),
    "fan_speed": (0.3, False, (0, 1)),
    "encoder_utilization": (0.0, False, (0, 1)),
    "decoder_utilization": (0.0, False, (0, 1)),
    "pcie_tx": (0, True, None),  # bytes per second
    "pcie_rx": (0, True, None),
    "pcie_replays": (0, False, None),
    "retired_pages_single_bit": (0, False, None),
    "retired_pages_double_bit": (0, False, None),
    "retired_pages_pending": (0, False, (0, 1)),
    "remapped_rows_correctable": (0, False, None),
    "remapped_rows_uncorrectable": (0, False, None),
    "remapped_rows_pending": (0, False, (0, 1)),
    "remapped_rows_failed": (0, False, (0, 1)),
    "sm_occupancy": (0.0, False, (0, 1)),
    "tensor_activity": (0.0, False, (0, 1)),
    "dram_bandwidth": (0.0, False, (0, 1)),
    "sm_activity": (0.0, False, (0, 1)),
    "energy_start": (0, False, None),  # joules at t=0
    "clock_event_reasons": (0, False, None),  # NVML bitmask
}

# Feature names usable in a GPU's not_supported list (each NVML query that answers NotSupported).
FEATURES = (
    "utilization",
    "memory_v2",
    "temperature",
    "memory_temperature",
    "power",
    "energy",
    "power_limit",
    "clocks",
    "clock_event_reasons",
    "performance_state",
    "fan_speed",
    "ecc",
    "retired_pages",
    "remapped_rows",
    "pcie_replays",
    "pcie_throughput",
    "nvlink",
    "encoder",
    "decoder",
    "mig",
    "processes",
    "events",
    "gpm",
)

FAULT_KINDS = ("overheat", "xid", "lost", "ecc", "nvml_init_failure", "hang")
LOST_ERRORS = ("GpuIsLost", "Unknown", "Timeout")
INIT_ERRORS = ("DriverNotLoaded", "LibraryNotFound", "Unknown", "NoPermission", "LibRmVersionMismatch")


@dataclass
class MigInstance:
    gpu_instance_id: int
    compute_instance_id: int
    uuid: str
    memory_total: float
    memory_used: Value


@dataclass
class Gpu:
    index: int
    name: str
    uuid: str
    pci_bus_id: str
    minor: int
    memory_total: float
    power_limit: float
    nvlinks: int
    not_supported: frozenset[str]
    values: dict[str, Value]
    mig: list[MigInstance] = field(default_factory=list)


@dataclass
class Fault:
    kind: str
    at: float
    until: float | None
    line: int
    gpu: int | None = None
    temperature: float = 95.0
    xid: int = 0
    count: int = 1
    error: str = "GpuIsLost"
    ecc_type: str = "corrected"
    delay: float = 0.0

    def active(self, t: float) -> bool:
        return self.at <= t and (self.until is None or t < self.until)


@dataclass
class Process:
    gpu: int
    pid: int
    memory_used: float
    at: float
    until: float | None
    gpu_instance_id: int | None = None

    def active(self, t: float) -> bool:
        return self.at <= t and (self.until is None or t < self.until)


@dataclass
class Scenario:
    path: str
    driver_version: str
    cuda_driver_version: int
    nvml_version: str
    gpus: list[Gpu]
    faults: list[Fault]
    processes: list[Process]


def _check_keys(ctx: _Ctx, d: dict, allowed: set[str], where: str) -> None:
    for key in d:
        if key not in allowed:
            line = d.lines.get(key, d.line) if isinstance(d, _LDict) else 0
            raise ctx.fail(
                line,
                f"{where}.{key}" if where else str(key),
                f"unknown key (allowed: {', '.join(sorted(allowed))})",
            )


def _line(d: Any, key: Any = None) -> int:
    if isinstance(d, _LDict):
        return d.lines.get(key, d.line) if key is not None else d.line
    return getattr(d, "line", 0)


def _int(ctx, d, key, where, default=None, minimum=None):
    if key not in d:
        if default is None:
            raise ctx.fail(_line(d), where, f"missing {key}")
        return default
    raw = d[key]
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ctx.fail(_line(d, key), f"{where}.{key}", f"expected an integer, got {raw!r}")
    if minimum is not None and raw < minimum:
        raise ctx.fail(_line(d, key), f"{where}.{key}", f"must be >= {minimum}")
    return raw


def _str(ctx, d, key, where, default=None):
    if key not in d:
        if default is None:
            raise ctx.fail(_line(d), where, f"missing {key}")
        return default
    raw = d[key]
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        raise ctx.fail(_line(d, key), f"{where}.{key}", f"expected a string, got {raw!r}")
    return str(raw)


_PCI = re.compile(r"^(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$")


def normalize_bus_id(raw: str) -> str | None:
    """``18:00.0`` / ``0000:18:00.0`` / ``00000000:18:00.0`` -> ``00000000:18:00.0`` (NVML's form)."""
    m = _PCI.match(raw.strip())
    if not m:
        return None
    domain = int(m.group(1) or "0", 16)
    return f"{domain:08X}:{m.group(2).upper()}:{m.group(3).upper()}.{m.group(4)}"


def _parse_gpu(ctx: _Ctx, i: int, raw: Any, line: int, defaults: dict) -> Gpu:
    where = f"gpus[{i}]"
    if not isinstance(raw, dict):
        raise ctx.fail(line, where, "expected a mapping")
    allowed = {
        "name",
        "uuid",
        "pci_bus_id",
        "minor",
        "memory_total",
        "power_limit",
        "nvlinks",
        "not_supported",
        "values",
        "mig",
    }
    _check_keys(ctx, raw, allowed, where)
    merged_values = dict(defaults.get("values") or {})
    merged_values.update(raw.get("values") or {})
    d = _LDict()
    d.line = raw.line if isinstance(raw, _LDict) else line
    for src in (defaults, raw):
        for k, v in src.items():
            if k != "values" or src is raw:
                d[k] = v
                d.lines[k] = _line(src, k) or d.line
    name = _str(ctx, d, "name", where, "NVIDIA H100 80GB HBM3")
    uuid = _str(ctx, raw, "uuid", where, f"GPU-5afe{i:04x}-0000-4000-8000-{i:012x}")
    bus_raw = _str(ctx, raw, "pci_bus_id", where, f"00000000:{0x18 + 0x10 * i:02X}:00.0")
    bus = normalize_bus_id(bus_raw)
    if bus is None:
        raise ctx.fail(
            _line(raw, "pci_bus_id"),
            f"{where}.pci_bus_id",
            f"{bus_raw!r} is not a PCI bus id like 00000000:18:00.0",
        )
    minor = _int(ctx, raw, "minor", where, i, minimum=0)
    mem_total = _number(
        ctx, _line(d, "memory_total"), f"{where}.memory_total", d.get("memory_total", "80GiB"), sizes=True
    )
    power_limit = _number(ctx, _line(d, "power_limit"), f"{where}.power_limit", d.get("power_limit", 700))
    nvlinks = _int(ctx, d, "nvlinks", where, 0, minimum=0)
    ns = d.get("not_supported", [])
    if not isinstance(ns, list):
        raise ctx.fail(
            _line(d, "not_supported"), f"{where}.not_supported", "expected a list of feature names"
        )
    for feat in ns:
        if feat not in FEATURES:
            raise ctx.fail(
                _line(d, "not_supported"),
                f"{where}.not_supported",
                f"unknown feature {feat!r} (known: {', '.join(FEATURES)})",
            )
    if not isinstance(merged_values, dict):
        raise ctx.fail(_line(raw, "values"), f"{where}.values", "expected a mapping")
    values: dict[str, Value] = {}
    raw_values = raw.get("values")
    vmap = raw_values if isinstance(raw_values, _LDict) else _LDict()
    for key in merged_values:
        if key not in VALUE_FIELDS:
            raise ctx.fail(
                vmap.lines.get(key, _line(raw, "values")),
                f"{where}.values.{key}",
                f"unknown value (known: {', '.join(VALUE_FIELDS)})",
            )
    for key, (default, sizes, bounds) in VALUE_FIELDS.items():
        vline = vmap.lines.get(key, _line(raw, "values") or line)
        v = parse_value(ctx, vline, f"{where}.values.{key}", merged_values.get(key, default), sizes=sizes)
        if bounds and v.const is not None and not bounds[0] <= v.const <= bounds[1]:
            raise ctx.fail(vline, f"{where}.values.{key}", f"{v.const} is outside {bounds[0]}..{bounds[1]}")
        values[key] = v
    mig: list[MigInstance] = []
    raw_mig = raw.get("mig", [])
    if not isinstance(raw_mig, list):
        raise ctx.fail(_line(raw, "mig"), f"{where}.mig", "expected a list of MIG instances")
    for j, m in enumerate(raw_mig):
        mw = f"{where}.mig[{j}]"
        mline = raw_mig.lines[j] if isinstance(raw_mig, _LList) else line
        if not isinstance(m, dict):
            raise ctx.fail(mline, mw, "expected a mapping")
        _check_keys(
            ctx, m, {"gpu_instance_id", "compute_instance_id", "uuid", "memory_total", "memory_used"}, mw
        )
        mig.append(
            MigInstance(
                gpu_instance_id=_int(ctx, m, "gpu_instance_id", mw, minimum=0),
                compute_instance_id=_int(ctx, m, "compute_instance_id", mw, 0, minimum=0),
                uuid=_str(ctx, m, "uuid", mw, f"MIG-5afe{i:04x}-{j:04x}-4000-8000-{j:012x}"),
                memory_total=_number(
                    ctx,
                    _line(m, "memory_total"),
                    f"{mw}.memory_total",
                    m.get("memory_total", "10GiB"),
                    sizes=True,
                ),
                memory_used=parse_value(
                    ctx, _line(m, "memory_used"), f"{mw}.memory_used", m.get("memory_used", 0), sizes=True
                ),
            )
        )
    return Gpu(i, name, uuid, bus, minor, mem_total, power_limit, nvlinks, frozenset(ns), values, mig)


def _times(ctx, d, where) -> tuple[float, float | None]:
    at = _number(ctx, _line(d, "at"), f"{where}.at", d.get("at", 0))
    until = None
    if d.get("until") is not None:
        until = _number(ctx, _line(d, "until"), f"{where}.until", d["until"])
        if until <= at:
            raise ctx.fail(_line(d, "until"), f"{where}.until", "must be after at")
    if at < 0:
        raise ctx.fail(_line(d, "at"), f"{where}.at", "must be >= 0")
    return at, until


def _parse_fault(ctx: _Ctx, i: int, raw: Any, line: int, ngpus: int) -> Fault:
    where = f"faults[{i}]"
    if not isinstance(raw, _LDict):  # the loader builds every mapping as an _LDict
        raise ctx.fail(line, where, "expected a mapping")
    kind = raw.get("kind")
    if kind not in FAULT_KINDS:
        raise ctx.fail(
            _line(raw, "kind"), f"{where}.kind", f"{kind!r} is not one of {', '.join(FAULT_KINDS)}"
        )
    common = {"kind", "at", "until"}
    extra = {
        "overheat": {"gpu", "temperature"},
        "xid": {"gpu", "xid", "count"},
        "lost": {"gpu", "error"},
        "ecc": {"gpu", "type", "count"},
        "nvml_init_failure": {"error"},
        "hang": {"gpu", "delay"},
    }[kind]
    _check_keys(ctx, raw, common | extra, where)
    at, until = _times(ctx, raw, where)
    f = Fault(kind=kind, at=at, until=until, line=raw.line)
    if "gpu" in extra:
        f.gpu = _int(ctx, raw, "gpu", where, minimum=0)
        if f.gpu >= ngpus:
            raise ctx.fail(
                _line(raw, "gpu"), f"{where}.gpu", f"there are only {ngpus} GPUs (index 0..{ngpus - 1})"
            )
    if kind == "overheat":
        f.temperature = _number(
            ctx, _line(raw, "temperature"), f"{where}.temperature", raw.get("temperature", 95)
        )
    elif kind == "xid":
        f.xid = _int(ctx, raw, "xid", where, minimum=1)
        f.count = _int(ctx, raw, "count", where, 1, minimum=1)
    elif kind == "ecc":
        f.ecc_type = _str(ctx, raw, "type", where, "corrected")
        if f.ecc_type not in ("corrected", "uncorrected"):
            raise ctx.fail(_line(raw, "type"), f"{where}.type", "corrected or uncorrected")
        f.count = _int(ctx, raw, "count", where, 1, minimum=1)
    elif kind == "lost":
        f.error = _str(ctx, raw, "error", where, "GpuIsLost")
        if f.error not in LOST_ERRORS:
            raise ctx.fail(_line(raw, "error"), f"{where}.error", f"one of {', '.join(LOST_ERRORS)}")
    elif kind == "nvml_init_failure":
        f.error = _str(ctx, raw, "error", where, "DriverNotLoaded")
        if f.error not in INIT_ERRORS:
            raise ctx.fail(_line(raw, "error"), f"{where}.error", f"one of {', '.join(INIT_ERRORS)}")
    elif kind == "hang":
        f.delay = _number(ctx, _line(raw, "delay"), f"{where}.delay", raw.get("delay", 10))
    return f


def _parse_process(ctx: _Ctx, i: int, raw: Any, line: int, gpus: list[Gpu]) -> Process:
    where = f"processes[{i}]"
    if not isinstance(raw, dict):
        raise ctx.fail(line, where, "expected a mapping")
    _check_keys(ctx, raw, {"gpu", "pid", "memory_used", "at", "until", "gpu_instance_id"}, where)
    gpu = _int(ctx, raw, "gpu", where, minimum=0)
    if gpu >= len(gpus):
        raise ctx.fail(_line(raw, "gpu"), f"{where}.gpu", f"there are only {len(gpus)} GPUs")
    at, until = _times(ctx, raw, where)
    return Process(
        gpu=gpu,
        pid=_int(ctx, raw, "pid", where, minimum=1),
        memory_used=_number(
            ctx, _line(raw, "memory_used"), f"{where}.memory_used", raw.get("memory_used", "1GiB"), sizes=True
        ),
        at=at,
        until=until,
        gpu_instance_id=raw.get("gpu_instance_id"),
    )


def parse(text: str, path: str = "<scenario>") -> Scenario:
    ctx = _Ctx(path)
    try:
        loader = _Loader(text)
        loader.name = path
        try:
            doc = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ScenarioError(f"{path}:{line}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping with at least 'gpus'")
    _check_keys(
        ctx,
        doc,
        {
            "driver_version",
            "cuda_driver_version",
            "nvml_version",
            "defaults",
            "gpus",
            "faults",
            "processes",
            "description",
        },
        "",
    )
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ctx.fail(_line(doc, "defaults"), "defaults", "expected a mapping")
    _check_keys(
        ctx,
        defaults,
        {"name", "memory_total", "power_limit", "nvlinks", "not_supported", "values"},
        "defaults",
    )
    raw_gpus = doc.get("gpus")
    if not isinstance(raw_gpus, _LList) or not raw_gpus:
        raise ctx.fail(_line(doc, "gpus"), "gpus", "expected a non-empty list of GPUs")
    gpus = [_parse_gpu(ctx, i, g, raw_gpus.lines[i], defaults) for i, g in enumerate(raw_gpus)]
    for attr in ("uuid", "pci_bus_id", "minor"):
        seen: dict[Any, int] = {}
        for g in gpus:
            v = getattr(g, attr)
            if v in seen:
                raise ctx.fail(
                    raw_gpus.lines[g.index], f"gpus[{g.index}].{attr}", f"{v} is also used by gpus[{seen[v]}]"
                )
            seen[v] = g.index
    raw_faults = doc.get("faults") or _LList()
    if not isinstance(raw_faults, _LList):
        raise ctx.fail(_line(doc, "faults"), "faults", "expected a list")
    faults = [_parse_fault(ctx, i, f, raw_faults.lines[i], len(gpus)) for i, f in enumerate(raw_faults)]
    raw_procs = doc.get("processes") or _LList()
    if not isinstance(raw_procs, _LList):
        raise ctx.fail(_line(doc, "processes"), "processes", "expected a list")
    procs = [_parse_process(ctx, i, p, raw_procs.lines[i], gpus) for i, p in enumerate(raw_procs)]
    return Scenario(
        path=path,
        driver_version=_str(ctx, doc, "driver_version", "", "550.54.15"),
        cuda_driver_version=_int(ctx, doc, "cuda_driver_version", "", 12040, minimum=0),
        nvml_version=_str(ctx, doc, "nvml_version", "", "12.550.54.15"),
        gpus=gpus,
        faults=faults,
        processes=procs,
    )


def load(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: not UTF-8 text: {exc}") from None
    return parse(text, str(p))


def packaged(name: str) -> Path:
    """Path of a scenario shipped with the package (``default``, ``demo-node-a``, ...)."""
    base = Path(__file__).resolve().parent.parent / "scenarios"
    p = base / (name if name.endswith((".yaml", ".yml")) else name + ".yaml")
    if not p.is_file():
        known = ", ".join(sorted(x.stem for x in base.glob("*.yaml")))
        raise ScenarioError(f"no packaged scenario {name!r} (known: {known})")
    return p
