"""``--web.config.file``: TLS, client certificates, basic auth and response headers.

The file format is the Prometheus exporter-toolkit's web configuration (the same file node_exporter
and Prometheus accept), so one file and one habit serve every exporter on a host::

    tls_server_config:
      cert_file: server.crt            # relative paths are relative to this file's folder
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert
      client_ca_file: clients-ca.crt
      client_allowed_sans: [prometheus.example.internal]
      min_version: TLS12
    http_server_config:
      headers:
        X-Content-Type-Options: nosniff
    basic_auth_users:
      prometheus: $2b$12$...           # bcrypt hash, never the password

:func:`load` validates the whole file up front and raises :class:`WebConfigError` naming the file,
the line and the field on the first problem: an exporter with a bad web config does not start
rather than start open. Unknown keys are errors (a typo such as ``basic_auth_user`` must not
silently leave an exporter without a password).

Differences from the Go implementation, all reported as start-up errors rather than ignored:
``RequireAnyClientCert`` (any self-made certificate would pass; Python's TLS stack cannot accept a
certificate without verifying it, and it protects nothing anyway), inline ``cert``/``key`` (give
files), more than one entry in ``curve_preferences``, and ``rate_limit``. ``RequestClientCert``
behaves as in Go for access purposes: no client is refused for its certificate or lack of one.
Client certificates are verified as in Go on every Python version (3.13's VERIFY_X509_STRICT is
not applied): a certificate from an old CA without key identifiers is still accepted.
The file is read once at start-up; restart the exporter to rotate certificates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import ssl
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import yaml

log = logging.getLogger("gpuwatch.webconfig")

CLIENT_AUTH_TYPES = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)

TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's names (crypto/tls.CipherSuites(), the secure TLS 1.0-1.2 suites) -> OpenSSL's names.
# TLS 1.3 suites are not configurable, in Go as here.
CIPHER_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}

CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1", "X25519": "X25519"}

# Response headers http_server_config may set, with the values the toolkit accepts (None: any).
HEADERS = {
    "Content-Security-Policy": None,
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-Content-Type-Options": ("nosniff",),
    "X-XSS-Protection": None,
    "Strict-Transport-Security": None,
}

_BCRYPT_HASH = re.compile(r"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
_MAX_BCRYPT_PASSWORD = 72  # bcrypt looks at 72 bytes; longer passwords are refused, as in Go


class WebConfigError(Exception):
    """The web config file is unusable; the message names the file, line and field."""


# ---------------------------------------------------------------------------------------------
# The result


@dataclass
class Guard:
    """What the HTTP server enforces: TLS context, peer checks, basic auth, extra headers."""

    path: str
    ssl_context: ssl.SSLContext | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    allowed_sans: frozenset[str] = frozenset()
    _users: dict[str, bytes] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._cache_key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()
        # Bounds the CPU that failed logins can take: at most two bcrypt computations run at
        # once; scrapes whose credentials were verified before never wait for them.
        self._bcrypt_slots = threading.BoundedSemaphore(2)
        # Unknown users are checked against a throw-away hash of the same cost so that the
        # answer takes as long as for a known user with a wrong password.
        cost = max((_cost(h) for h in self._users.values()), default=4)
        self._dummy = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost)) if self._users else b""

    @property
    def auth_required(self) -> bool:
        return bool(self._users)

    def authorized(self, authorization_header: str | None) -> bool:
        """True if basic auth is off, or the header carries a configured user's password."""
        if not self._users:
            return True
        creds = _parse_basic(authorization_header)
        if creds is None:
            return False
        user, password = creds
        key = hmac.new(self._cache_key, user + b"\0" + password, hashlib.sha256).digest()
        name = user.decode("utf-8", "surrogateescape")
        cached = self._verified.get(name)
        if cached is not None and hmac.compare_digest(cached, key):
            return True
        hashed = self._users.get(name)
        if len(password) > _MAX_BCRYPT_PASSWORD:
            return False
        with self._bcrypt_slots:
            try:
                ok = bcrypt.checkpw(password, hashed if hashed is not None else self._dummy)
            except ValueError:
                ok = False
        if ok and hashed is not None:
            with self._lock:
                self._verified[name] = key
            return True
        return False

    def peer_allowed(self, sock: ssl.SSLSocket) -> bool:
        """With ``client_allowed_sans``: does the (verified) client certificate carry one of them?"""
        if not self.allowed_sans:
            return True
        cert = sock.getpeercert()
        if not cert:
            return False
        sans = cert.get("subjectAltName", ())  # ((type, value), ...)
        for kind, value in sans if isinstance(sans, tuple) else ():
            if (
                isinstance(kind, str)
                and isinstance(value, str)
                and _normalise_san(kind, value) in self.allowed_sans
            ):
                return True
        return False


def _cost(hashed: bytes) -> int:
    m = _BCRYPT_HASH.match(hashed.decode("ascii", "replace"))
    return int(m.group(1)) if m else 10


def _parse_basic(header: str | None) -> tuple[bytes, bytes] | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user, password


def _normalise_san(kind: str, value: str) -> str:
    value = value.strip()
    if kind in ("IP Address", "IP"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if kind == "DNS":
        return value.lower()
    return value


# ---------------------------------------------------------------------------------------------
# Reading the YAML with line numbers


class _Node:
    """A YAML node with the position it came from, for error messages."""

    def __init__(self, file: str, node: yaml.Node, where: str, key: yaml.Node | None = None):
        self.file = file
        self.node = node
        self.where = where
        # a mapping's value is reported at its key's line (a block value starts on the next one)
        self.line = (key or node).start_mark.line + 1

    def fail(self, message: str) -> WebConfigError:
        field_ = f" {self.where}:" if self.where else ""
        return WebConfigError(f"web config {self.file}:{self.line}:{field_} {message}")

    @property
    def is_null(self) -> bool:
        return isinstance(self.node, yaml.ScalarNode) and self.node.tag == "tag:yaml.org,2002:null"

    def mapping(self, allowed: tuple[str, ...]) -> dict[str, _Node]:
        if self.is_null:
            return {}
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("expected a mapping")
        out: dict[str, _Node] = {}
        for knode, vnode in self.node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise _Node(self.file, knode, self.where).fail("keys must be plain strings")
            key = knode.value
            where = f"{self.where}.{key}" if self.where else key
            if allowed and key not in allowed:
                raise _Node(self.file, knode, where).fail(
                    f"unknown field {key!r} (known: {', '.join(allowed)})"
                )
            if key in out:
                raise _Node(self.file, knode, where).fail("field given twice")
            out[key] = _Node(self.file, vnode, where, knode)
        return out

    def string_map(self) -> dict[str, tuple[str, _Node]]:
        """A mapping of free-form keys to strings (usernames -> hashes)."""
        if self.is_null:
            return {}
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail("expected a mapping")
        out: dict[str, tuple[str, _Node]] = {}
        for knode, vnode in self.node.value:
            if not isinstance(knode, yaml.ScalarNode) or knode.tag == "tag:yaml.org,2002:null":
                raise _Node(self.file, knode, self.where).fail("keys must be plain strings")
            key = knode.value
            child = _Node(self.file, vnode, f"{self.where}.{key}", knode)
            if key in out:
                raise child.fail("given twice")
            out[key] = (child.string(), child)
        return out

    def string(self) -> str:
        if not isinstance(self.node, yaml.ScalarNode) or self.is_null:
            raise self.fail("expected a string")
        return self.node.value

    def boolean(self) -> bool:
        if not isinstance(self.node, yaml.ScalarNode) or self.node.tag != "tag:yaml.org,2002:bool":
            raise self.fail("expected true or false")
        return self.node.value.lower() in ("true", "yes", "on", "y")

    def string_list(self) -> list[str]:
        if self.is_null:
            return []
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail("expected a list of strings")
        return [_Node(self.file, n, f"{self.where}[{i}]").string() for i, n in enumerate(self.node.value)]


def _compose(path: str) -> _Node | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WebConfigError(f"web config {path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise WebConfigError(
            f"web config {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise WebConfigError(f"web config {path}: cannot read: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f":{mark.line + 1}" if mark is not None else ""
        raise WebConfigError(f"web config {path}{line}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise WebConfigError(f"web config {path}: invalid YAML: {exc}") from None
    if node is None:
        return None
    return _Node(path, node, "")


# ---------------------------------------------------------------------------------------------
# Loading


TOP_FIELDS = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
TLS_FIELDS = (
    "cert_file",
    "key_file",
    "cert",
    "key",
    "client_auth_type",
    "client_ca_file",
    "client_ca",
    "client_allowed_sans",
    "min_version",
    "max_version",
    "cipher_suites",
    "prefer_server_cipher_suites",
    "curve_preferences",
)
HTTP_FIELDS = ("http2", "headers")


def load(path: str | os.PathLike[str]) -> Guard:
    """Read and validate a web config file; raise :class:`WebConfigError` on the first problem."""
    path = str(path)
    root = _compose(path)
    if root is None:  # an empty file is valid: plain HTTP, no auth (as in the toolkit)
        return Guard(path=path)
    top = root.mapping(TOP_FIELDS)
    if "rate_limit" in top:
        raise top["rate_limit"].fail("not supported by gpuwatch (rate-limit in the proxy in front instead)")
    base = Path(path).resolve().parent
    ssl_context: ssl.SSLContext | None = None
    sans: frozenset[str] = frozenset()
    if "tls_server_config" in top:
        ssl_context, sans = _tls(top["tls_server_config"], base)
    headers = _http(top["http_server_config"]) if "http_server_config" in top else []
    users = _users(top["basic_auth_users"]) if "basic_auth_users" in top else {}
    return Guard(path=path, ssl_context=ssl_context, headers=headers, allowed_sans=sans, _users=users)


def _file(node: _Node, base: Path) -> str:
    value = node.string()
    if not value:
        raise node.fail("empty file name")
    p = Path(value)
    if not p.is_absolute():
        p = base / p
    if not p.is_file():
        raise node.fail(f"{p}: no such file")
    if not os.access(p, os.R_OK):
        raise node.fail(f"{p}: not readable")
    return str(p)


def _tls(node: _Node, base: Path) -> tuple[ssl.SSLContext | None, frozenset[str]]:
    f = node.mapping(TLS_FIELDS)
    if not f:
        raise node.fail("cert_file and key_file are required to enable TLS")
    for inline in ("cert", "key"):
        if inline in f:
            raise f[inline].fail(
                f"inline PEM is not supported by gpuwatch; put it in a file and use {inline}_file"
            )
    for needed in ("cert_file", "key_file"):
        if needed not in f:
            raise node.fail(f"{needed} is required")
    cert_file = _file(f["cert_file"], base)
    key_file = _file(f["key_file"], base)
    _warn_if_key_readable(key_file)

    auth = "NoClientCert"
    if "client_auth_type" in f:
        auth = f["client_auth_type"].string()
        if auth not in CLIENT_AUTH_TYPES:
            raise f["client_auth_type"].fail(f"{auth!r} is not one of {', '.join(CLIENT_AUTH_TYPES)}")
        if auth == "RequireAnyClientCert":
            raise f["client_auth_type"].fail(
                "RequireAnyClientCert admits any self-made certificate and is not supported; "
                "use RequireAndVerifyClientCert with client_ca_file"
            )

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.options |= ssl.OP_NO_COMPRESSION
    # Client certificates are checked as Go's exporter-toolkit checks them, on every Python: chain
    # to the client CA, dates, a key usage that allows TLS client auth (extendedKeyUsage clientAuth
    # when present), client_allowed_sans. Not RFC 5280's strict profile (Python 3.13 turns it on in
    # create_default_context only): a client certificate without key identifiers stays accepted.
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except ssl.SSLError as exc:
        raise f["cert_file"].fail(
            f"cannot load certificate {cert_file} with key {key_file}: {exc.reason or exc}"
        ) from None
    except OSError as exc:
        raise f["cert_file"].fail(
            f"cannot load certificate {cert_file} with key {key_file}: {exc.strerror or exc}"
        ) from None

    has_ca = "client_ca_file" in f or "client_ca" in f
    if "client_ca_file" in f and "client_ca" in f:
        raise f["client_ca"].fail("give client_ca or client_ca_file, not both")
    if has_ca:
        ca_node = f.get("client_ca_file") or f["client_ca"]
        if auth in ("NoClientCert", "RequestClientCert"):
            raise ca_node.fail(
                f"a client CA is configured but client_auth_type is {auth}, which never checks it"
            )
        try:
            if "client_ca_file" in f:
                ctx.load_verify_locations(cafile=_file(f["client_ca_file"], base))
            else:
                ctx.load_verify_locations(cadata=f["client_ca"].string())
        except (ssl.SSLError, ValueError) as exc:
            raise ca_node.fail(f"cannot load client CA: {getattr(exc, 'reason', None) or exc}") from None
        if not ctx.get_ca_certs():
            raise ca_node.fail("no CA certificate found in it")
    if auth == "RequireAndVerifyClientCert":
        if not has_ca:
            raise f["client_auth_type"].fail("RequireAndVerifyClientCert needs client_ca_file")
        ctx.verify_mode = ssl.CERT_REQUIRED
    elif auth == "VerifyClientCertIfGiven":
        if not has_ca:
            raise f["client_auth_type"].fail("VerifyClientCertIfGiven needs client_ca_file")
        ctx.verify_mode = ssl.CERT_OPTIONAL
    else:  # NoClientCert, RequestClientCert: nobody is refused for their certificate
        ctx.verify_mode = ssl.CERT_NONE

    sans: frozenset[str] = frozenset()
    if "client_allowed_sans" in f:
        node_sans = f["client_allowed_sans"]
        values = node_sans.string_list()
        if values and auth != "RequireAndVerifyClientCert":
            raise node_sans.fail(
                "needs client_auth_type RequireAndVerifyClientCert (otherwise a client may send no certificate)"
            )
        sans = frozenset(_normalise_any_san(v) for v in values)

    lo, hi = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    for key in ("min_version", "max_version"):
        if key in f:
            name = f[key].string()
            if name not in TLS_VERSIONS:
                raise f[key].fail(f"{name!r} is not one of {', '.join(TLS_VERSIONS)}")
            if key == "min_version":
                lo = TLS_VERSIONS[name]
            else:
                hi = TLS_VERSIONS[name]
    if lo > hi:
        raise (f.get("max_version") or f["min_version"]).fail("min_version is above max_version")
    try:
        ctx.minimum_version = lo
        ctx.maximum_version = hi
    except (ValueError, ssl.SSLError) as exc:
        raise (f.get("min_version") or node).fail(f"TLS version range not supported here: {exc}") from None

    if "cipher_suites" in f:
        names = f["cipher_suites"].string_list()
        unknown = [n for n in names if n not in CIPHER_SUITES]
        if unknown:
            raise f["cipher_suites"].fail(
                f"unknown or insecure cipher suite {unknown[0]!r} (known: {', '.join(CIPHER_SUITES)})"
            )
        if names:
            try:
                ctx.set_ciphers(":".join(CIPHER_SUITES[n] for n in names))
            except ssl.SSLError as exc:
                raise f["cipher_suites"].fail(f"not available in this OpenSSL: {exc}") from None
    prefer = f["prefer_server_cipher_suites"].boolean() if "prefer_server_cipher_suites" in f else True
    if prefer:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    if "curve_preferences" in f:
        curves = f["curve_preferences"].string_list()
        unknown = [c for c in curves if c not in CURVES]
        if unknown:
            raise f["curve_preferences"].fail(f"unknown curve {unknown[0]!r} (known: {', '.join(CURVES)})")
        if len(curves) > 1:
            raise f["curve_preferences"].fail("gpuwatch can restrict ECDHE to one curve only; list one")
        if curves:
            try:
                ctx.set_ecdh_curve(CURVES[curves[0]])
            except (ValueError, ssl.SSLError) as exc:
                raise f["curve_preferences"].fail(f"not available in this OpenSSL: {exc}") from None
    return ctx, sans


def _normalise_any_san(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        pass
    if "@" not in value and ":" not in value:
        return value.strip().lower()  # a DNS name
    return value.strip()


def _warn_if_key_readable(key_file: str) -> None:
    try:
        mode = os.stat(key_file).st_mode
    except OSError:
        return
    if mode & stat.S_IROTH:
        log.warning("TLS key file %s is readable by every user; chmod 600 it", key_file)


def _http(node: _Node) -> list[tuple[str, str]]:
    f = node.mapping(HTTP_FIELDS)
    if "http2" in f:
        f[
            "http2"
        ].boolean()  # accepted for compatibility; gpuwatch serves HTTP/1.1 (what Prometheus scrapes with)
    out = []
    if "headers" in f:
        h = f["headers"].mapping(tuple(HEADERS))
        for name, hnode in h.items():
            value = hnode.string()
            if not value:
                continue  # blank means unset, as in the toolkit
            if any(c in value for c in "\r\n\0"):
                raise hnode.fail("header values cannot contain line breaks")
            allowed = HEADERS[name]
            if allowed is not None and value.lower() not in allowed:
                raise hnode.fail(f"{value!r} is not one of {', '.join(allowed)}")
            out.append((name, value))
    return out


def _users(node: _Node) -> dict[str, bytes]:
    users = {}
    for user, (hashed, hnode) in node.string_map().items():
        if not user:
            raise hnode.fail("empty user name")
        if ":" in user:
            raise hnode.fail("user names cannot contain ':' (basic auth separates user and password with it)")
        match = _BCRYPT_HASH.match(hashed)
        if not match:
            # never echo the value: it may be a plaintext password pasted by mistake
            raise hnode.fail("not a bcrypt hash (expected $2a$/$2b$/$2y$ followed by cost and 53 characters)")
        cost = int(match.group(1))
        if not 4 <= cost <= 31:
            raise hnode.fail(f"bcrypt cost {cost} is outside 4..31")
        users[user] = hashed.encode("ascii")
    return users


# ---------------------------------------------------------------------------------------------
# Command line: ``python -m gpuwatch.exporters.common.webconfig check FILE... |
#                hash [--cost N] [--keep-from FILE --user NAME]``


def _stored_hash(path: str, user: str) -> bytes | None:
    """The bcrypt hash ``path`` holds for ``user`` in basic_auth_users, or None (no file, no entry,
    or a file that is not a usable web config: then a new hash is made and the file rewritten)."""
    import sys

    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        print(f"web config {path}: not readable ({exc}); making a new hash", file=sys.stderr)
        return None
    users = doc.get("basic_auth_users") if isinstance(doc, dict) else None
    hashed = users.get(user) if isinstance(users, dict) else None
    if isinstance(hashed, str) and _BCRYPT_HASH.match(hashed):
        return hashed.encode("ascii")
    return None


def main(argv: list[str] | None = None) -> int:
    """``check FILE...``: validate web config files (exit 1 with the error on the first bad one).
    ``hash``: read a password from stdin (or the terminal, without echo) and print its bcrypt hash
    for ``basic_auth_users``; the password never goes on the command line. With ``--keep-from FILE
    --user NAME`` the hash FILE already holds for NAME is printed instead while it still matches the
    password and the cost, so rewriting FILE from the output changes nothing (Ansible: changed=0)."""
    import argparse
    import getpass
    import sys

    ap = argparse.ArgumentParser(
        prog="python -m gpuwatch.exporters.common.webconfig", description=main.__doc__
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    chk = sub.add_parser("check", help="validate web config files")
    chk.add_argument("files", nargs="+")
    hsh = sub.add_parser("hash", help="bcrypt-hash a password read from stdin or the terminal")
    hsh.add_argument("--cost", type=int, default=12, choices=range(10, 16), metavar="10..15")
    hsh.add_argument("--keep-from", metavar="FILE", help="keep FILE's hash for --user while it still matches")
    hsh.add_argument("--user", metavar="NAME", help="the basic_auth_users entry --keep-from looks at")
    args = ap.parse_args(argv)
    if args.cmd == "hash" and (args.keep_from is None) != (args.user is None):
        ap.error("hash: --keep-from and --user go together")
    if args.cmd == "check":
        for f in args.files:
            try:
                guard = load(f)
            except WebConfigError as exc:
                print(exc, file=sys.stderr)
                return 1
            tls = "TLS" if guard.ssl_context is not None else "no TLS"
            auth = "basic auth" if guard.auth_required else "no basic auth"
            print(f"{f}: OK ({tls}, {auth})")
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("empty password", file=sys.stderr)
        return 1
    if len(password.encode()) > _MAX_BCRYPT_PASSWORD:
        print(f"password longer than {_MAX_BCRYPT_PASSWORD} bytes (bcrypt's limit)", file=sys.stderr)
        return 1
    if args.keep_from is not None:
        kept = _stored_hash(args.keep_from, args.user)
        if kept is not None and _cost(kept) == args.cost and bcrypt.checkpw(password.encode(), kept):
            print(kept.decode())
            return 0
    print(bcrypt.hashpw(password.encode(), bcrypt.gensalt(args.cost)).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
