"""YAML loading that remembers where every key and value came from and rejects duplicate keys.

PyYAML silently keeps the last of two equal keys; a rule file where ``for:`` appears twice would
compile into something the author never wrote. Here the document is composed into nodes (with
libyaml when available) and built into :class:`Map` / :class:`Seq` containers that carry the
1-based line and column of every key and value.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import RulesError

try:  # libyaml's parser is several times faster on big rule sets
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

Pos = tuple[int, int]


class Map(dict):
    """A mapping with positions: ``pos`` of the mapping, ``key_pos[k]`` and ``val_pos[k]``."""

    pos: Pos = (1, 1)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.key_pos: dict[Any, Pos] = {}
        self.val_pos: dict[Any, Pos] = {}

    def where(self, key: Any) -> Pos:
        """Position of the value of ``key`` (or of the mapping when the key is absent)."""
        return self.val_pos.get(key, self.key_pos.get(key, self.pos))

    def where_key(self, key: Any) -> Pos:
        return self.key_pos.get(key, self.pos)


class Seq(list):
    """A list with positions: ``pos`` of the list and ``item_pos[i]``."""

    pos: Pos = (1, 1)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_pos: list[Pos] = []

    def where(self, i: int) -> Pos:
        return self.item_pos[i] if i < len(self.item_pos) else self.pos


def _pos(node: yaml.Node) -> Pos:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder(yaml.constructor.SafeConstructor):
    pass


def _build(node: yaml.Node, ctor: _Builder, file: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.pos = _pos(node)
        ctor.flatten_mapping(node)  # merge keys (<<) resolved like PyYAML does
        for knode, vnode in node.value:
            key = _build(knode, ctor, file)
            if isinstance(key, (Map, Seq)):
                line, col = _pos(knode)
                raise RulesError("a mapping key must be a plain value", file, line, col)
            if key in out:
                line, col = _pos(knode)
                first = out.key_pos[key][0]
                raise RulesError(f"duplicate key {key!r} (first at line {first})", file, line, col)
            out[key] = _build(vnode, ctor, file)
            out.key_pos[key] = _pos(knode)
            out.val_pos[key] = _pos(vnode)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Seq()
        seq.pos = _pos(node)
        for item in node.value:
            seq.append(_build(item, ctor, file))
            seq.item_pos.append(_pos(item))
        return seq
    return ctor.construct_object(node, deep=True)


def loads(text: str, file: str) -> Any:
    """Parse one YAML document; errors become :class:`RulesError` with file, line and column."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _build(node, _Builder(), file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        msg = f"YAML syntax: {exc.problem or exc.context}"
        if exc.context and exc.problem:
            msg += f" ({exc.context})"
        if mark is None:
            raise RulesError(msg, file) from None
        raise RulesError(msg, file, mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as exc:
        raise RulesError(f"YAML: {exc}", file) from None
    finally:
        loader.dispose()


def load(path: str, display: str | None = None) -> Any:
    name = display or path
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise RulesError(f"not UTF-8 text: {exc.reason}", name) from None
    except OSError as exc:
        raise RulesError(f"cannot read: {exc.strerror}", name) from None
    return loads(text, name)
