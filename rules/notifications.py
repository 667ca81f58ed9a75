"""The notifications file: Alertmanager's own vocabulary, checked and turned into alertmanager.yml.

Checks: receivers that routes name exist, every receiver is used, inhibit ``equal`` labels are
carried by some alert, no inline secrets (Slack URLs, PagerDuty keys, passwords, tokens: use the
``*_file`` key), webhook ``url_file`` only where the Alertmanager version has it. A secret written
as ``${NAME}`` is read from the environment at compile time into ``--secrets-dir/NAME`` (mode
0600) and the output points at that file with the ``*_file`` key; the value never reaches the
output.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import amversions
from .durations import BadDuration, parse_ms
from .errors import Problems
from .yamlsrc import Map, Pos, Seq

TOP_KEYS = (
    "global",
    "route",
    "receivers",
    "inhibit_rules",
    "templates",
    "time_intervals",
    "mute_time_intervals",
)
ROUTE_KEYS = (
    "receiver",
    "group_by",
    "continue",
    "matchers",
    "match",
    "match_re",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "mute_time_intervals",
    "active_time_intervals",
    "routes",
)
CONFIG_TYPES = tuple(amversions.RECEIVERS)  # every receiver type; per version: amversions
FILE_KEY_SINCE = amversions.file_key_since()
ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
ANY_ENV = re.compile(r"\$\{[^}]*\}")
ROUTE_TIMERS = ("group_wait", "group_interval", "repeat_interval")
# Alertmanager's matcher syntax (pkg/labels): NAME OP VALUE, VALUE optionally in double quotes.
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)


def _split_matchers(text: str) -> list[str]:
    """``{a="x,y", b!=z}`` or ``a="x"`` -> one string per matcher (commas inside quotes kept)."""
    t = text.strip()
    if t.startswith("{") and t.endswith("}"):
        t = t[1:-1]
    out: list[str] = []
    cur: list[str] = []
    quoted, escaped = False, False
    for ch in t:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip() or not out:
        out.append("".join(cur))
    return out


def matcher_problem(text: str) -> str | None:
    """Why Alertmanager would reject the matcher string ``text`` (None when it parses)."""
    for one in _split_matchers(text):
        m = _MATCHER.match(one)
        if not m:
            return (
                f'{one.strip()!r} is not a matcher like severity="critical" (NAME, one of = != =~ !~, VALUE)'
            )
        op, raw = m.group(2), m.group(3)
        quoted = raw.startswith('"')
        body = raw[1:] if quoted else raw
        value, escaped = [], False
        for i, ch in enumerate(body):
            if escaped:
                escaped = False
                value.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
                continue
            if ch == "\\" and i < len(body) - 1:
                escaped = True
            elif ch == '"':
                if not quoted or i < len(body) - 1:
                    return f"{one.strip()!r}: unescaped double quote in the value"
                quoted = False
            else:
                value.append(ch)
        if quoted:
            return f"{one.strip()!r}: the value's closing double quote is missing"
        if op in ("=~", "!~"):
            try:
                re.compile("".join(value))
            except re.error as exc:
                return f"{one.strip()!r}: bad regular expression: {exc}"
    return None


def parse_version(text: str) -> tuple[int, int]:
    m = re.match(r"^v?(\d+)\.(\d+)(?:\.\d+)?$", text.strip())
    if not m:
        raise ValueError(f"{text!r} is not an Alertmanager version like 0.25 or 0.27.0")
    v = int(m.group(1)), int(m.group(2))
    if v < amversions.OLDEST:
        raise ValueError(
            f"Alertmanager {text} is older than {amversions.fmt(amversions.OLDEST)}, the oldest supported"
        )
    return v


def _needs(what: str, since: tuple[int, int], version: tuple[int, int]) -> str:
    need = amversions.fmt(since)
    return (
        f"{what} needs Alertmanager >= {need} (compiling for {amversions.fmt(version)}; "
        f"pass --alertmanager-version {need} or later when yours is newer)"
    )


def _no_file_hint(place: str, key: str, have: str) -> str:
    file_key, since = amversions.SECRETS.get(place, {}).get(key, ("", amversions.OLDEST))
    if file_key:
        return (
            f"{file_key} needs Alertmanager >= {amversions.fmt(since)}; with {have}, leave it out "
            f"or pass --alertmanager-version {amversions.fmt(since)} when yours is newer"
        )
    return "this field has no *_file form; leave it out"


@dataclass
class Notifications:
    file: str
    config: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=dict)  # file name -> value, written on compile
    receivers: list[str] = field(default_factory=list)


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


class _Checker:
    def __init__(
        self,
        file: str,
        problems: Problems,
        version: tuple[int, int],
        secrets_dir: str | None,
        env: dict[str, str],
    ) -> None:
        self.file, self.p, self.version, self.secrets_dir, self.env = (
            file,
            problems,
            version,
            secrets_dir,
            env,
        )
        self.secrets: dict[str, str] = {}

    def err(self, pos: Pos | None, msg: str) -> None:
        self.p.add(self.file, pos, msg)

    def warn(self, pos: Pos | None, msg: str) -> None:
        self.p.warn(self.file, pos, msg)

    def secret_fields(self, m: Map, place: str, where: str) -> None:
        """Reject inline secrets in ``m`` (a config of kind ``place``); expand ``${ENV}`` ones."""
        table = amversions.secret_table(place, self.version)
        have = amversions.fmt(self.version)
        for key in list(m.keys()):
            val = m[key]
            if isinstance(val, Map):
                if key in amversions.NESTED:
                    self.secret_fields(val, key, f"{where}.{key}")
                continue
            if (place, key) in FILE_KEY_SINCE and self.version < FILE_KEY_SINCE[(place, key)]:
                need = amversions.fmt(FILE_KEY_SINCE[(place, key)])
                hint = (
                    "keep the webhook url inline"
                    if (place, key) == ("webhook_configs", "url_file")
                    else "give the value another way"
                )
                self.err(
                    m.where_key(key),
                    f"{where}.{key} needs Alertmanager >= {need} and {have} rejects it; "
                    f"{hint} or pass --alertmanager-version {need}",
                )
                continue
            if key not in table:
                if isinstance(val, str) and ANY_ENV.search(val):
                    hint = ""
                    if (place, key) in amversions.INLINE_OK:  # a webhook url before 0.26
                        since = amversions.fmt(amversions.SECRETS[place][key][1])
                        hint = (
                            f" (Alertmanager {have} has no {amversions.SECRETS[place][key][0]}: give the "
                            f"URL inline, or pass --alertmanager-version {since} when yours is newer)"
                        )
                    self.err(m.where(key), f"{where}.{key}: ${{...}} is only expanded in secret fields{hint}")
                continue
            file_key = table[key]
            if not isinstance(val, str) or not val:
                continue
            env = ENV_REF.match(val.strip())
            if env is None and (place, key) in amversions.INLINE_OK:
                continue  # e.g. a webhook URL: not necessarily a secret
            if env is None:
                alt = f"use {file_key}: /path/to/file" if file_key else _no_file_hint(place, key, have)
                self.err(
                    m.where(key),
                    f"{where}.{key}: inline secret; {alt} (or {key}: ${{ENV_VAR}} with "
                    f"--secrets-dir) so it stays out of the generated config and git",
                )
                continue
            if not file_key:
                self.err(
                    m.where(key),
                    f"{where}.{key} has no *_file form in Alertmanager {have}; a secret there would "
                    f"land in the output, which gpuwatch-rules refuses ({_no_file_hint(place, key, have)})",
                )
                continue
            name = env.group(1)
            if name not in self.env:
                self.err(m.where(key), f"{where}.{key}: environment variable {name} is not set")
                continue
            if not self.secrets_dir:
                self.err(
                    m.where(key),
                    f"{where}.{key}: ${{{name}}} needs --secrets-dir DIR, where the value is "
                    f"written to a file that Alertmanager reads",
                )
                continue
            self.secrets[name] = self.env[name]
            m.pop(key)
            m[file_key] = os.path.join(self.secrets_dir, name)

    def matchers(self, owner: Map, key: str, what: str) -> None:
        """Check ``owner[key]``, a list of Alertmanager matcher strings."""
        if key not in owner:
            return
        seq = owner[key]
        if not isinstance(seq, Seq):
            self.err(
                owner.where(key), f"{what} '{key}' must be a list of matchers like ['severity=\"critical\"']"
            )
            return
        for i, item in enumerate(seq):
            if not isinstance(item, str):
                self.err(
                    seq.where(i), f"{what} '{key}': a matcher must be a string like 'severity=\"critical\"'"
                )
                continue
            why = matcher_problem(item)
            if why:
                self.err(seq.where(i), f"{what} '{key}': {why}")

    def route(self, r: Any, pos: Pos, used: dict[str, Pos], root: bool, overlay: dict[str, str]) -> None:
        if not isinstance(r, Map):
            self.err(pos, "a route must be a mapping")
            return
        for k in r:
            if k in amversions.ROUTE_KEYS_SINCE:
                if self.version < amversions.ROUTE_KEYS_SINCE[k]:
                    self.err(
                        r.where_key(k), _needs(f"route {k!r}", amversions.ROUTE_KEYS_SINCE[k], self.version)
                    )
            elif k not in ROUTE_KEYS:
                self.err(r.where_key(k), f"unknown field {k!r} in route; allowed: {', '.join(ROUTE_KEYS)}")
        if "receiver" in r:
            rv = r["receiver"]
            if not isinstance(rv, str):
                self.err(r.where("receiver"), "route 'receiver' must be a receiver name")
            else:
                used.setdefault(rv, r.where("receiver"))
        elif root:
            self.err(r.pos, "the top-level route needs a 'receiver' (the default for unmatched alerts)")
        self.matchers(r, "matchers", "route")
        if isinstance(r.get("match_re"), Map):
            for k in r["match_re"]:
                try:
                    re.compile(str(r["match_re"][k]))
                except re.error as exc:
                    self.err(r["match_re"].where(k), f"route 'match_re' {k}: bad regular expression: {exc}")
        for t in ROUTE_TIMERS:
            if t in r:
                try:
                    if parse_ms(r[t]) <= 0 and t != "group_wait":
                        raise BadDuration(f"{t} must be above zero")
                except BadDuration as exc:
                    self.err(r.where(t), f"route {t}: {exc}")
        if root:
            for t, v in overlay.items():
                r[t] = v
        subs = r.get("routes", [])
        if "routes" in r and not isinstance(subs, Seq):
            self.err(r.where("routes"), "'routes' must be a list")
            return
        for i, sub in enumerate(subs):
            self.route(sub, subs.where(i), used, False, {})


def load(
    doc: Any,
    file: str,
    problems: Problems,
    *,
    version: tuple[int, int],
    secrets_dir: str | None,
    alert_has_label: Callable[[str], bool],
    route_overlay: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    alert_names: set[str] | None = None,
) -> Notifications | None:
    ck = _Checker(file, problems, version, secrets_dir, dict(os.environ) if env is None else env)
    if not isinstance(doc, Map):
        ck.err(
            getattr(doc, "pos", None),
            "notifications file must be a mapping with route, receivers, inhibit_rules",
        )
        return None
    for k in doc:
        if k in amversions.TOP_KEYS_SINCE:
            if version < amversions.TOP_KEYS_SINCE[k]:
                ck.err(doc.where_key(k), _needs(repr(k), amversions.TOP_KEYS_SINCE[k], version))
        elif k not in TOP_KEYS:
            ck.err(doc.where_key(k), f"unknown field {k!r} in notifications; allowed: {', '.join(TOP_KEYS)}")
    for k in ("route", "receivers"):
        if k not in doc:
            ck.err(doc.pos, f"notifications file is missing {k!r}")
    if "global" in doc:
        g = doc["global"]
        if isinstance(g, Map):
            ck.secret_fields(g, "global", "global")
        else:
            ck.err(doc.where("global"), "'global' must be a mapping")

    defined: dict[str, Pos] = {}
    recvs = doc.get("receivers", Seq())
    if not isinstance(recvs, Seq):
        ck.err(doc.where("receivers"), "'receivers' must be a list")
        recvs = Seq()
    for i, r in enumerate(recvs):
        if not isinstance(r, Map) or not isinstance(r.get("name"), str):
            ck.err(recvs.where(i), "a receiver must be a mapping with a 'name'")
            continue
        name = r["name"]
        if name in defined:
            ck.err(r.where("name"), f"receiver {name!r} defined twice (first at line {defined[name][0]})")
        defined[name] = r.where("name")
        for k in r:
            if k == "name":
                continue
            if k in amversions.RECEIVER_KEYS_SINCE:
                if version < amversions.RECEIVER_KEYS_SINCE[k]:
                    ck.err(
                        r.where_key(k), _needs(f"receiver {k!r}", amversions.RECEIVER_KEYS_SINCE[k], version)
                    )
                continue
            if k not in CONFIG_TYPES:
                allowed = ["name", *amversions.receivers(version)]
                ck.err(
                    r.where_key(k),
                    f"unknown field {k!r} in receiver {name!r}; allowed in Alertmanager "
                    f"{amversions.fmt(version)}: {', '.join(allowed)}",
                )
                continue
            if version < amversions.RECEIVERS[k]:
                ck.err(r.where_key(k), _needs(k, amversions.RECEIVERS[k], version))
            cfgs = r[k]
            if not isinstance(cfgs, Seq):
                ck.err(r.where(k), f"{k} must be a list")
                continue
            for j, c in enumerate(cfgs):
                if not isinstance(c, Map):
                    ck.err(cfgs.where(j), f"{k} entries must be mappings")
                    continue
                ck.secret_fields(c, k, f"receiver {name!r} {k}[{j}]")

    used: dict[str, Pos] = {}
    if "route" in doc:
        ck.route(doc["route"], doc.where("route"), used, True, route_overlay or {})
    for name, pos in used.items():
        if name not in defined:
            ck.err(
                pos,
                f"route sends to receiver {name!r}, which is not defined"
                + (f" (receivers: {', '.join(defined)})" if defined else ""),
            )
    for name, pos in defined.items():
        if name not in used:
            ck.warn(pos, f"receiver {name!r} is never used by any route")

    inh = doc.get("inhibit_rules", Seq())
    if isinstance(inh, Seq):
        for i, rule in enumerate(inh):
            if not isinstance(rule, Map):
                ck.err(inh.where(i), "an inhibit rule must be a mapping")
                continue
            ck.matchers(rule, "source_matchers", "inhibit rule")
            ck.matchers(rule, "target_matchers", "inhibit rule")
            eq = rule.get("equal", Seq())
            if not isinstance(eq, Seq):
                ck.err(rule.where("equal"), "inhibit 'equal' must be a list of label names")
                continue
            if alert_names is not None and _names_absent(rule.get("source_matchers"), alert_names):
                continue  # its source is no alert of this pack: the inhibition never applies
            for j, label in enumerate(eq):
                if not isinstance(label, str):
                    ck.err(eq.where(j), "inhibit 'equal' must be a list of label names")
                elif not alert_has_label(label):
                    # Alertmanager compares a missing label as empty on both sides: the inhibition
                    # still works, but not per label value (a typo here silences too much)
                    ck.warn(
                        eq.where(j),
                        f"inhibit rule: no alert carries label {label!r}; Alertmanager compares it as "
                        "empty on both sides, so a source alert inhibits its targets whatever their "
                        f"{label!r}",
                    )
    elif "inhibit_rules" in doc:
        ck.err(doc.where("inhibit_rules"), "'inhibit_rules' must be a list")

    return Notifications(file, _plain(doc), ck.secrets, list(defined))


_ALERTNAME_EQ = re.compile(r'^\s*alertname\s*=\s*"?([^"]*)"?\s*$')


def _names_absent(matchers: Any, names: set[str]) -> bool:
    """True when the matchers require an alertname that no alert of the pack has."""
    if not isinstance(matchers, Seq):
        return False
    for m in matchers:
        hit = _ALERTNAME_EQ.match(m) if isinstance(m, str) else None
        if hit and hit.group(1) not in names:
            return True
    return False
