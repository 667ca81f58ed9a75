"""Alert annotation templates (Go text/template as Prometheus uses it): check and render.

``check`` finds syntax errors, unknown functions and variables, and ``$labels.x`` where the
alert's result cannot carry ``x``. ``render`` evaluates the subset that promtool test
expectations need (labels, ``$value`` with Prometheus' humanize functions and ``printf``,
``if``/``else``/``end``), so expected annotations match what Prometheus will produce exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .promql import Labels

_ACTION = re.compile(r"\{\{(-?)(.*?)(-?)\}\}", re.S)
_TOKEN = re.compile(
    r'\s*(?:("(?:[^"\\]|\\.)*"|`[^`]*`)|(\$[A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*)'
    r"|(\.[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*|\.)|(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
    r"|([A-Za-z_][A-Za-z_0-9]*)|(\|)|(\()|(\))|(:?=))"
)

# Functions Prometheus' alert templates offer (Go's built-ins plus Prometheus' own).
FUNCS = frozenset(
    """and or not len index print printf println eq ne lt le gt ge html js urlquery slice call
humanize humanize1024 humanizeDuration humanizePercentage humanizeTimestamp title toUpper toLower
query first label value strvalue sortByLabel match reReplaceAll graphLink tableLink args safeHtml
stripPort stripDomain parseDuration toTime toDuration pathPrefix externalURL""".split()
)
VARS = frozenset({"$labels", "$value", "$externalLabels", "$externalURL", "$"})
KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)


class TemplateError(ValueError):
    pass


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(src: str) -> list[_Tok]:
    out, pos = [], 0
    src = src.strip()
    kinds = ("str", "var", "field", "num", "ident", "pipe", "lparen", "rparen", "assign")
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos:].strip()[:20]!r} in {{{{ {src} }}}}")
        for kind, grp in zip(kinds, m.groups()):
            if grp is not None:
                out.append(_Tok(kind, grp))
                break
        pos = m.end()
        while pos < len(src) and src[pos].isspace():
            pos += 1
    return out


def _parse(text: str) -> list:
    """Text -> nested list of ('text', s) / ('pipe', tokens) / ('if', toks, then, else)."""
    items: list = []
    pos = 0
    for m in _ACTION.finditer(text):
        lit = text[pos : m.start()]
        if m.group(1):
            lit = lit.rstrip()
        if "}}" in lit:
            raise TemplateError("'}}' without a matching '{{'")
        items.append(("text", lit))
        body = m.group(2)
        if body.strip().startswith("/*"):
            if not body.strip().endswith("*/"):
                raise TemplateError("unclosed comment")
            items.append(("text", ""))
        else:
            items.append(("action", body))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError("'{{' without a closing '}}'")
    if "}}" in tail:
        raise TemplateError("'}}' without a matching '{{'")
    items.append(("text", tail))
    return _nest(items)


def _nest(items: list) -> list:
    root: list = []
    stack: list = [(root, None)]
    for kind, val in items:
        cur = stack[-1][0]
        if kind == "text":
            if val:
                cur.append(("text", val))
            continue
        toks = _tokens(val)
        if not toks:
            raise TemplateError("empty action {{ }}")
        head = toks[0].text if toks[0].kind == "ident" else None
        if head in ("if", "with", "range"):
            if len(toks) < 2:
                raise TemplateError(f"missing value for {head}")
            node: list = [head, toks[1:], [], None]
            cur.append(node)
            stack.append((node[2], node))
        elif head == "else":
            if len(stack) == 1:
                raise TemplateError("{{ else }} outside {{ if }}")
            node = stack[-1][1]
            if node[3] is not None:
                raise TemplateError("second {{ else }} in one {{ if }}")
            else_body: list = []
            node[3] = else_body
            stack[-1] = (else_body, node)
            if len(toks) > 1:  # else if ...
                if toks[1].text != "if":
                    raise TemplateError("unexpected tokens after else")
                inner: list = ["if", toks[2:], [], None]
                else_body.append(inner)
                inner.append(True)  # marks an 'else if' sharing the outer end
                stack.append((inner[2], inner))
        elif head == "end":
            if len(stack) == 1:
                raise TemplateError("{{ end }} without {{ if }}, {{ with }} or {{ range }}")
            while True:
                _, node = stack.pop()
                if len(node) < 5:
                    break
        elif head in KEYWORDS:
            raise TemplateError(f"{{{{ {head} }}}} is not supported in alert annotations")
        else:
            cur.append(("pipe", toks))
    if len(stack) > 1:
        raise TemplateError(f"{{{{ {stack[-1][1][0]} }}}} without {{{{ end }}}}")
    return root


def _check_toks(toks: list[_Tok], labels: Labels | None, declared: set[str], errors: list[str]) -> None:
    for i, t in enumerate(toks):
        if t.kind == "assign":
            if i != 1 or toks[0].kind != "var":
                errors.append("bad variable assignment")
            continue
        if t.kind == "var":
            root, *path = t.text.split(".")
            if i == 0 and len(toks) > 1 and toks[1].kind == "assign":
                declared.add(root)
                continue
            if root not in VARS and root not in declared:
                errors.append(f"undefined variable {root}")
            elif root == "$labels" and len(path) == 1 and labels is not None and not labels.has(path[0]):
                errors.append(
                    f"$labels.{path[0]} {NEVER_SET}: the expression's result has no label "
                    f"{path[0]!r} (aggregated away or never there)"
                )
            elif root == "$value" and path:
                errors.append("$value is a number and has no fields")
        elif t.kind == "ident" and t.text not in FUNCS and t.text not in ("true", "false", "nil"):
            errors.append(f"unknown function {t.text!r}")


NEVER_SET = "is never set"


def is_warning(msg: str) -> bool:
    """A template that works but prints nothing (``$labels.x`` never on the result) is a warning;
    every other finding of :func:`check` is an error (Prometheus would refuse the template)."""
    return NEVER_SET in msg


def check(text: str, labels: Labels | None = None) -> list[str]:
    """Problems with one template (empty list when fine)."""
    try:
        tree = _parse(text)
    except TemplateError as exc:
        return [str(exc)]
    errors: list[str] = []
    declared: set[str] = set()

    def visit(nodes: list) -> None:
        for n in nodes:
            if isinstance(n, tuple):
                if n[0] == "pipe":
                    _check_toks(n[1], labels, declared, errors)
            else:
                _check_toks(n[1], labels, declared, errors)
                visit(n[2])
                if n[3] is not None:
                    visit(n[3])

    visit(tree)
    return list(dict.fromkeys(errors))


# -- rendering ---------------------------------------------------------------------------------


def go_float(v: float) -> str:
    """A float64 as Go's fmt prints it with %v (shortest digits, exponent from 1e+21... no: 1e+06)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    d = Decimal(repr(float(v))).normalize()
    sign, digits, exp_raw = d.as_tuple()
    exp = int(exp_raw)  # finite here: NaN and Inf returned above
    ds = "".join(map(str, digits))
    x = len(ds) + exp - 1  # decimal exponent of the first digit
    s = "-" if sign else ""
    if x < -4 or x >= 21 or (x >= 6 and True):
        if x < -4 or x >= 6:
            mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
            return f"{s}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    return s + format(abs(d), "f")


def _g4(v: float) -> str:
    return f"{v:.4g}"


def humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return _g4(v) + prefix


def humanize_duration(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return "0s"
    sign = "-" if v < 0 else ""
    v = abs(v)
    if v >= 1:
        secs = int(v)
        days, hours, minutes, secs_ = secs // 86400, secs // 3600 % 24, secs // 60 % 60, secs % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs_}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs_}s"
        if minutes:
            return f"{sign}{minutes}m {secs_}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if v >= 1:
            break
        prefix, v = p, v * 1000
    return f"{sign}{_g4(v)}{prefix}s"


def _printf(fmt: str, *args: object) -> str:
    out, i, ai = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = re.compile(r"%([-+ 0#]*\d*(?:\.\d+)?)([vsdfgeq%])").match(fmt, i)
        if not m:
            raise TemplateError(f"printf verb in {fmt!r} not supported")
        flags, verb = m.groups()
        i = m.end()
        if verb == "%":
            out.append("%")
            continue
        arg: Any = args[ai]
        ai += 1
        if verb in "vs":
            out.append(go_float(arg) if isinstance(arg, float) else str(arg))
        elif verb == "q":
            out.append('"' + str(arg).replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif verb == "d":
            out.append(("%" + flags + "d") % int(arg))
        else:
            out.append(("%" + flags + verb) % float(arg))
    return "".join(out)


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[[object, object], bool]:
    """Go's comparison builtins: both sides of one basic kind (float64 with float64, int with int,
    string with string); ``gt $value 90`` fails in Go (int against float64), so it does here."""

    def kind(v: object) -> str:
        return "float" if isinstance(v, float) else "int" if isinstance(v, int) else "str"

    def f(a: object, b: object) -> bool:
        if kind(a) != kind(b):
            raise TemplateError(f"incompatible types for comparison ({kind(a)} and {kind(b)})")
        return op(a, b)

    return f


_RENDER_FUNCS: dict[str, Callable] = {
    "eq": _cmp(lambda a, b: a == b),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "not": lambda v: not _truthy(v),
    "humanize": humanize,
    "humanizePercentage": lambda v: _g4(float(v) * 100) + "%",
    "humanizeDuration": humanize_duration,
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "printf": _printf,
}


def _value_of(tok: _Tok, labels: dict[str, str], value: float, scope: object) -> object:
    if tok.kind == "str":
        return tok.text[1:-1].encode().decode("unicode_escape") if tok.text[0] == '"' else tok.text[1:-1]
    if tok.kind == "num":
        return float(tok.text) if any(c in tok.text for c in ".e") else int(tok.text)
    if tok.kind == "field" and tok.text == ".":
        return scope
    if tok.kind == "var":
        root, *path = tok.text.split(".")
        if root == "$value" and not path:
            return value
        if root == "$labels" and len(path) == 1:
            return labels.get(path[0], "")
    raise TemplateError(f"cannot render {tok.text!r} for a promtool test expectation")


def _eval(toks: list[_Tok], labels: dict[str, str], value: float, scope: object) -> object:
    cmds: list[list[_Tok]] = [[]]
    for t in toks:
        if t.kind == "pipe":
            cmds.append([])
        elif t.kind in ("lparen", "rparen", "assign"):
            raise TemplateError("parentheses and variables are not supported in rendered templates")
        else:
            cmds[-1].append(t)
    result: object = None
    for n, cmd in enumerate(cmds):
        if not cmd:
            raise TemplateError("empty command in pipeline")
        if cmd[0].kind == "ident":
            fn = _RENDER_FUNCS.get(cmd[0].text)
            if fn is None:
                raise TemplateError(f"cannot render function {cmd[0].text!r} for a promtool test expectation")
            args = [_value_of(t, labels, value, scope) for t in cmd[1:]]
            if n > 0:
                args.append(result)
            result = fn(*args)
        else:
            if len(cmd) != 1 or n > 0:
                raise TemplateError("unsupported pipeline")
            result = _value_of(cmd[0], labels, value, scope)
    return result


def _truthy(v: object) -> bool:
    return bool(v) if not isinstance(v, float) else v != 0


def render(text: str, labels: dict[str, str], value: float) -> str:
    tree = _parse(text)
    out: list[str] = []

    def run(nodes: list, scope: object) -> None:
        for n in nodes:
            if isinstance(n, tuple):
                if n[0] == "text":
                    out.append(n[1])
                else:
                    v = _eval(n[1], labels, value, scope)
                    out.append(go_float(v) if isinstance(v, float) else str(v))
            else:
                kind, toks, then, other = n[0], n[1], n[2], n[3]
                v = _eval(toks, labels, value, scope)
                if kind == "range":
                    raise TemplateError("cannot render {{ range }} for a promtool test expectation")
                if _truthy(v):
                    run(then, v if kind == "with" else scope)
                elif other is not None:
                    run(other, scope)

    run(tree, None)
    return "".join(out)
