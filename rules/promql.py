"""What the compiler needs to know about a PromQL expression.

Parsing is promql-parser's (a Rust port of Prometheus' own parser). On top of its syntax tree this
module works out, without evaluating anything:

* the metric names an expression reads (checked against the exporters' catalog),
* ``rate()``/``irate()``/``increase()`` applied to a gauge or info metric,
* whether the result can ever be empty (an alert whose expression cannot be empty always fires),
* which labels the result carries (so a template that uses ``$labels.x`` after ``x`` was
  aggregated away is caught), and
* the threshold of a ``QUERY <op> NUMBER`` comparison, which dashboards draw as a line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import promql_parser as pp

from .catalogs import Catalog, Metric, build, default_paths
from .errors import Problems

COMPARISONS = {">", "<", ">=", "<=", "==", "!="}
SET_OPS = {"and", "or", "unless"}
RATE_FUNCS = {"rate", "irate", "increase"}
FLIP = {">": "<", "<": ">", ">=": "<=", "<=": ">=", "==": "==", "!=": "!="}


class PromQLError(ValueError):
    pass


@dataclass(frozen=True)
class Labels:
    """The labels a result is known to carry.

    ``closed``: exactly ``known`` (plus nothing else). Open sets come from series whose labels
    gpuwatch cannot know (Prometheus' own metrics); ``removed`` are labels certainly gone.
    """

    known: frozenset[str] = frozenset()
    closed: bool = True
    removed: frozenset[str] = frozenset()

    def has(self, name: str) -> bool:
        if self.closed:
            return name in self.known
        return name not in self.removed

    @staticmethod
    def open() -> Labels:
        return Labels(frozenset(), False, frozenset())

    def keep(self, names: set[str] | frozenset[str]) -> Labels:
        names = frozenset(names)
        if self.closed:
            return Labels(self.known & names, True)
        return Labels(names - self.removed, True)

    def drop(self, names: set[str] | frozenset[str]) -> Labels:
        names = frozenset(names)
        return Labels(self.known - names, self.closed, self.removed | names)

    def add(self, names: set[str] | frozenset[str]) -> Labels:
        names = frozenset(names)
        return Labels(self.known | names, self.closed, self.removed - names)

    def union(self, other: Labels) -> Labels:
        return Labels(
            self.known | other.known,
            self.closed and other.closed,
            (self.removed & other.removed) - self.known - other.known,
        )


@dataclass
class Analysis:
    metrics: list[str] = field(default_factory=list)
    rate_over_gauge: list[tuple[str, str, str]] = field(default_factory=list)  # (func, metric, type)
    labels: Labels = field(default_factory=Labels)
    may_be_empty: bool = False
    threshold: tuple[str, str, float] | None = None  # (query, op, value)
    # (metric, label, the labels the metric carries, the catalog that says so): a matcher on a
    # label the metric never has
    unknown_labels: list[tuple[str, str, tuple[str, ...], str]] = field(default_factory=list)


def parse(expr: str):
    try:
        return pp.parse(expr)
    except ValueError as exc:
        raise PromQLError(str(exc)) from None
    except BaseException as exc:  # the Rust side can panic on odd input
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise PromQLError(f"cannot parse: {exc}") from None


def _children(node) -> Iterator:
    if isinstance(node, pp.BinaryExpr):
        yield node.lhs
        yield node.rhs
    elif isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        yield node.expr
    elif isinstance(node, pp.AggregateExpr):
        if node.param is not None:
            yield node.param
        yield node.expr
    elif isinstance(node, pp.Call):
        yield from node.args
    elif isinstance(node, pp.MatrixSelector):
        yield node.vector_selector


def _walk(node) -> Iterator:
    yield node
    for c in _children(node):
        yield from _walk(c)


def selector_name(vs) -> str | None:
    if vs.name:
        return vs.name
    for m in vs.matchers.matchers:
        if m.name == "__name__" and str(m.op) in ("MatchOp.Equal", "="):
            return m.value
    return None


def _strip(node):
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def _is_scalar(node) -> bool:
    node = _strip(node)
    if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
        return True
    if isinstance(node, pp.UnaryExpr):
        return _is_scalar(node.expr)
    if isinstance(node, pp.Call):
        return str(node.func.return_type) == "ValueType.Scalar"
    if isinstance(node, pp.BinaryExpr):
        return _is_scalar(node.lhs) and _is_scalar(node.rhs)
    return False


def _number(node) -> float | None:
    node = _strip(node)
    if isinstance(node, pp.NumberLiteral):
        return float(node.val)
    if isinstance(node, pp.UnaryExpr) and isinstance(_strip(node.expr), pp.NumberLiteral):
        return -float(_strip(node.expr).val)
    return None


class Analyzer:
    """Analyses expressions against the catalog plus the recording rules defined so far."""

    def __init__(self, metrics: Catalog | None = None) -> None:
        if metrics is None:  # gpuwatch's and the shipped catalogs
            metrics = build([(p, p.name) for p in default_paths()], Problems())
        self.catalog = metrics
        self.recorded: dict[str, Labels] = {}

    def known_metric(self, name: str) -> bool:
        return name in self.recorded or self._def(name) is not None

    def _def(self, name: str) -> Metric | None:
        return self.catalog.lookup(name)

    def selector_labels(self, vs) -> Labels:
        name = selector_name(vs)
        if name is None:
            return Labels.open()
        if name in self.recorded:
            return self.recorded[name].add({"__name__"})
        d = self._def(name)
        if d is None or d.labels is None:
            return Labels.open()
        # gpuwatch knows exactly what its exporters and scrape config emit; another exporter's
        # series may carry more (relabeling, a newer version): known, but not closed
        return Labels(self.declared_labels(name, d), d.is_gpuwatch)

    def declared_labels(self, name: str, d: Metric) -> frozenset[str]:
        """What a catalog says a series of this name carries, target labels (the catalog's and
        the site's) included."""
        extra = (
            {"le"}
            if name.endswith("_bucket")
            else {"quantile"}
            if d.type == "summary" and name == d.name
            else set()
        )
        return frozenset(d.labels or ()) | d.target_labels | self.catalog.site_labels | extra | {"__name__"}

    # -- labels -------------------------------------------------------------------------------
    def labels(self, node) -> Labels:
        node = _strip(node)
        if isinstance(node, pp.VectorSelector):
            return self.selector_labels(node)
        if isinstance(node, pp.MatrixSelector):
            return self.selector_labels(node.vector_selector)
        if isinstance(node, (pp.NumberLiteral, pp.StringLiteral)):
            return Labels()
        if isinstance(node, (pp.UnaryExpr, pp.SubqueryExpr)):
            return self.labels(node.expr).drop({"__name__"})
        if isinstance(node, pp.Call):
            return self._call_labels(node)
        if isinstance(node, pp.AggregateExpr):
            op = str(node.op)
            inner = self.labels(node.expr)
            if op in ("topk", "bottomk", "limitk", "limit_ratio"):
                return inner
            mod = node.modifier
            if mod is None:
                out = Labels()
            elif str(mod.type).endswith("By"):
                out = Labels(frozenset(mod.labels), True)
            else:
                out = inner.drop(set(mod.labels) | {"__name__"})
            if op == "count_values" and isinstance(_strip(node.param), pp.StringLiteral):
                out = out.add({_strip(node.param).val})
            return out
        if isinstance(node, pp.BinaryExpr):
            return self._binary_labels(node)
        return Labels.open()

    def _call_labels(self, node) -> Labels:
        name = node.func.name
        args = node.args
        if name in ("absent", "absent_over_time"):
            arg = _strip(args[0]) if args else None
            vs = arg.vector_selector if isinstance(arg, pp.MatrixSelector) else arg
            if isinstance(vs, pp.VectorSelector):
                eq = {
                    m.name
                    for m in vs.matchers.matchers
                    if str(m.op) in ("MatchOp.Equal", "=") and m.name != "__name__"
                }
                return Labels(frozenset(eq), True)
            return Labels()
        if str(node.func.return_type) == "ValueType.Scalar" or name == "vector":
            return Labels()
        if name in ("label_replace", "label_join") and len(args) > 1:
            dst = _strip(args[1])
            base = self.labels(args[0])
            return base.add({dst.val}) if isinstance(dst, pp.StringLiteral) else Labels.open()
        if name == "histogram_quantile" and len(args) > 1:
            return self.labels(args[1]).drop({"le", "__name__"})
        for a in args:
            if not _is_scalar(a) and not isinstance(_strip(a), pp.StringLiteral):
                out = self.labels(a)
                return out if name in ("sort", "sort_desc", "last_over_time") else out.drop({"__name__"})
        return Labels()

    def _binary_labels(self, node) -> Labels:
        op = str(node.op)
        lhs, rhs = node.lhs, node.rhs
        if op in ("and", "unless"):
            return self.labels(lhs)
        if op == "or":
            return self.labels(lhs).union(self.labels(rhs))
        if _is_scalar(lhs) and _is_scalar(rhs):
            return Labels()
        if _is_scalar(rhs):
            out = self.labels(lhs)
            return out if op in COMPARISONS and not self._bool(node) else out.drop({"__name__"})
        if _is_scalar(lhs):
            out = self.labels(rhs)
            return out if op in COMPARISONS and not self._bool(node) else out.drop({"__name__"})
        mod = node.modifier
        card = (
            str(mod.card) if mod is not None and mod.card is not None else "VectorMatchCardinality.OneToOne"
        )
        left, right = self.labels(lhs), self.labels(rhs)
        base = right if card.endswith("OneToMany") else left
        other = left if card.endswith("OneToMany") else right
        if op not in COMPARISONS or self._bool(node):
            base = base.drop({"__name__"})
        matching = mod.matching if mod is not None else None
        if card.endswith("OneToOne") and matching is not None:
            names = set(matching.labels)
            if str(matching.type).endswith("Include"):
                base = base.keep(names)
            else:
                base = base.drop(names)
        if card.endswith(("ManyToOne", "OneToMany")) and mod.group_labels:
            include = set(mod.group_labels)
            base = base.add({n for n in include if other.has(n)} if other.closed else include)
        return base

    @staticmethod
    def _bool(node) -> bool:
        return bool(node.modifier is not None and node.modifier.return_bool)

    # -- emptiness ------------------------------------------------------------------------------
    def may_be_empty(self, node) -> bool:
        node = _strip(node)
        if isinstance(node, pp.BinaryExpr):
            op = str(node.op)
            if op in ("and", "unless"):
                return True
            if op == "or":
                return self.may_be_empty(node.lhs) and self.may_be_empty(node.rhs)
            if op in COMPARISONS and not self._bool(node):
                return True
            return self.may_be_empty(node.lhs) or self.may_be_empty(node.rhs)
        if isinstance(node, pp.Call):
            if node.func.name in ("absent", "absent_over_time"):
                return True
            return any(self.may_be_empty(a) for a in node.args)
        if isinstance(node, (pp.AggregateExpr, pp.UnaryExpr, pp.SubqueryExpr)):
            return self.may_be_empty(node.expr)
        return False

    # -- threshold ------------------------------------------------------------------------------
    def threshold(self, node) -> tuple[str, str, float] | None:
        node = _strip(node)
        if isinstance(node, pp.BinaryExpr):
            op = str(node.op)
            if op in SET_OPS:
                found = self.threshold(node.lhs)
                if found is None and op == "and":  # `info_metric and on (...) value < N`
                    found = self.threshold(node.rhs)
                return found
            if op in COMPARISONS and not self._bool(node):
                rv, lv = _number(node.rhs), _number(node.lhs)
                if rv is not None and lv is None:
                    return (_strip(node.lhs).prettify(), op, rv)
                if lv is not None and rv is None:
                    return (_strip(node.rhs).prettify(), FLIP[op], lv)
        return None

    # -- all together ---------------------------------------------------------------------------
    def analyze(self, expr: str, record: str | None = None) -> Analysis:
        tree = parse(expr)
        out = Analysis()
        for n in _walk(tree):
            if isinstance(n, pp.VectorSelector):
                name = selector_name(n)
                if name is not None and name not in out.metrics:
                    out.metrics.append(name)
                d = self._def(name) if name is not None else None
                if name is not None and d is not None and d.labels is not None and name not in self.recorded:
                    declared = self.declared_labels(name, d)
                    for m in n.matchers.matchers:
                        if m.name in declared:
                            continue
                        if str(m.op) in ("MatchOp.Equal", "=") and m.value == "":
                            continue  # {x=""} asks for the label's absence on purpose
                        hit = (name, m.name, tuple(sorted(declared - {"__name__"})), d.source)
                        if hit not in out.unknown_labels:
                            out.unknown_labels.append(hit)
            elif isinstance(n, pp.Call) and n.func.name in RATE_FUNCS and n.args:
                arg = _strip(n.args[0])
                inner = (
                    arg.vector_selector
                    if isinstance(arg, pp.MatrixSelector)
                    else (_strip(arg.expr) if isinstance(arg, pp.SubqueryExpr) else None)
                )
                if isinstance(inner, pp.VectorSelector):
                    rname = selector_name(inner)
                    rd = self._def(rname) if rname else None
                    if rname and rd is not None and rd.type in ("gauge", "info"):
                        out.rate_over_gauge.append((n.func.name, rname, rd.type))
        out.labels = self.labels(tree)
        out.may_be_empty = self.may_be_empty(tree)
        out.threshold = self.threshold(tree)
        if record is not None:
            self.recorded[record] = out.labels.drop({"__name__"})
        return out
