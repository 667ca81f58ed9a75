"""webconfig.load: the exporter-toolkit web config format, its errors, and basic auth."""

from __future__ import annotations

import base64
import ssl

import bcrypt
import pytest
from webtls import PASSWORD, password_hash, pki  # noqa: F401 - fixtures

from gpuwatch.exporters.common import webconfig
from gpuwatch.exporters.common.webconfig import WebConfigError, load


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def write(tmp_path, text: str):
    p = tmp_path / "web-config.yml"
    p.write_text(text)
    return p


def test_empty_file_means_plain_http_and_no_auth(tmp_path):
    guard = load(write(tmp_path, ""))
    assert guard.ssl_context is None
    assert guard.authorized(None) is True
    assert guard.headers == []


def test_basic_auth_accepts_only_the_right_password(tmp_path, password_hash):
    guard = load(write(tmp_path, f"basic_auth_users:\n  prometheus: {password_hash}\n"))
    assert guard.ssl_context is None
    assert guard.authorized(basic("prometheus", PASSWORD))
    assert not guard.authorized(basic("prometheus", PASSWORD + "x"))
    assert not guard.authorized(basic("prometheus", ""))
    assert not guard.authorized(basic("nobody", PASSWORD))
    assert not guard.authorized(None)
    assert not guard.authorized("")
    assert not guard.authorized("Bearer abc")
    assert not guard.authorized("Basic !!!not-base64!!!")
    assert not guard.authorized("Basic " + base64.b64encode(b"no-colon").decode())
    # the scheme is case-insensitive (RFC 7617)
    assert guard.authorized(basic("prometheus", PASSWORD).replace("Basic", "basic"))


def test_password_with_colon_and_utf8(tmp_path):
    pw = "pa:ss wörd"
    h = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4)).decode()
    guard = load(write(tmp_path, f"basic_auth_users:\n  ops: {h}\n"))
    assert guard.authorized(basic("ops", pw))
    assert not guard.authorized(basic("ops", "pa"))


def test_htpasswd_2y_hashes_work(tmp_path):
    h = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    guard = load(write(tmp_path, f"basic_auth_users:\n  alice: '{h}'\n"))
    assert guard.authorized(basic("alice", "secret"))
    assert not guard.authorized(basic("alice", "Secret"))


def test_passwords_over_72_bytes_are_refused(tmp_path):
    pw = "x" * 80
    h = bcrypt.hashpw(pw[:72].encode(), bcrypt.gensalt(4)).decode()
    guard = load(write(tmp_path, f"basic_auth_users:\n  alice: {h}\n"))
    assert guard.authorized(basic("alice", pw[:72]))
    assert not guard.authorized(basic("alice", pw))


def test_successful_verifications_are_cached_failures_are_not(tmp_path, monkeypatch):
    h = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(10)).decode()
    guard = load(write(tmp_path, f"basic_auth_users:\n  alice: {h}\n  bob: {h}\n"))
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(webconfig.bcrypt, "checkpw", lambda pw, hashed: calls.append(1) or real(pw, hashed))
    assert guard.authorized(basic("alice", "s3cret"))
    assert len(calls) == 1
    for _ in range(200):
        assert guard.authorized(basic("alice", "s3cret"))
    assert len(calls) == 1, "a verified password must not pay bcrypt again"
    # the cache is per user and per password: nothing else rides on alice's success
    assert not guard.authorized(basic("alice", "s3cretX"))
    assert not guard.authorized(basic("alice", "s3cretX"))
    assert len(calls) == 3, "failures are checked with bcrypt every time"
    assert guard.authorized(basic("bob", "s3cret"))
    assert len(calls) == 4


def test_unknown_users_cost_a_bcrypt_check_too(tmp_path, monkeypatch, password_hash):
    guard = load(write(tmp_path, f"basic_auth_users:\n  alice: {password_hash}\n"))
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(
        webconfig.bcrypt, "checkpw", lambda pw, hashed: calls.append(hashed) or real(pw, hashed)
    )
    assert not guard.authorized(basic("mallory", PASSWORD))
    assert len(calls) == 1 and calls[0] != password_hash.encode()


def test_relative_files_are_relative_to_the_config_file(tmp_path, pki):
    sub = tmp_path / "conf"
    sub.mkdir()
    for src in (pki.server_crt, pki.server_key):
        (sub / src.name).write_bytes(src.read_bytes())
    guard = load(write(sub, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"))
    assert isinstance(guard.ssl_context, ssl.SSLContext)
    assert guard.ssl_context.verify_mode == ssl.CERT_NONE
    assert guard.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_client_auth_types_map_to_verify_modes(tmp_path, pki):
    base = f"tls_server_config:\n  cert_file: {pki.server_crt}\n  key_file: {pki.server_key}\n"
    modes = {
        "NoClientCert": ssl.CERT_NONE,
        "RequestClientCert": ssl.CERT_NONE,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }
    for auth, mode in modes.items():
        ca = f"  client_ca_file: {pki.ca}\n" if "Verify" in auth else ""
        guard = load(write(tmp_path, base + f"  client_auth_type: {auth}\n" + ca))
        assert guard.ssl_context.verify_mode == mode, auth


def test_headers_and_versions(tmp_path, pki):
    guard = load(
        write(
            tmp_path,
            f"""tls_server_config:
  cert_file: {pki.server_crt}
  key_file: {pki.server_key}
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
  prefer_server_cipher_suites: false
  curve_preferences: [CurveP256]
http_server_config:
  http2: false
  headers:
    X-Frame-Options: deny
    X-Content-Type-Options: nosniff
    Content-Security-Policy: ""
    Strict-Transport-Security: max-age=31536000
""",
        )
    )
    assert guard.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert guard.headers == [
        ("X-Frame-Options", "deny"),
        ("X-Content-Type-Options", "nosniff"),
        ("Strict-Transport-Security", "max-age=31536000"),
    ]


# --- errors: each names the file, the line and the field, and never echoes a secret ---------------

TLS = "tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n"

BAD = [
    ("basic_auth_user:\n  a: b\n", 1, "unknown field 'basic_auth_user'"),
    (
        "tls_server_config:\n  cert_file: {crt}\n  key_file: {key}\n  client_auth: x\n",
        4,
        "tls_server_config.client_auth: unknown field",
    ),
    ("basic_auth_users:\n  alice: hunter2-plaintext\n", 2, "basic_auth_users.alice: not a bcrypt hash"),
    ("basic_auth_users:\n  alice: [a]\n", 2, "basic_auth_users.alice: expected a string"),
    ("basic_auth_users: [alice]\n", 1, "basic_auth_users: expected a mapping"),
    ("basic_auth_users:\n  'a:b': {hash}\n", 2, "cannot contain ':'"),
    (
        TLS + "  client_auth_type: RequireClientCert\n",
        4,
        "client_auth_type: 'RequireClientCert' is not one of",
    ),
    (TLS + "  client_auth_type: RequireAndVerifyClientCert\n", 4, "needs client_ca_file"),
    (TLS + "  client_auth_type: VerifyClientCertIfGiven\n", 4, "needs client_ca_file"),
    (
        TLS + "  client_auth_type: RequireAnyClientCert\n",
        4,
        "RequireAnyClientCert admits any self-made certificate",
    ),
    (
        TLS + "  client_ca_file: {ca}\n",
        4,
        "client_ca_file: a client CA is configured but client_auth_type is NoClientCert",
    ),
    (TLS + "  min_version: TLS1.2\n", 4, "min_version: 'TLS1.2' is not one of TLS10, TLS11, TLS12, TLS13"),
    (TLS + "  min_version: TLS13\n  max_version: TLS12\n", 5, "min_version is above max_version"),
    (TLS + "  cipher_suites: [RC4]\n", 4, "cipher_suites: unknown or insecure cipher suite 'RC4'"),
    (TLS + "  curve_preferences: [CurveP256, X25519]\n", 4, "one curve only"),
    (TLS + "  prefer_server_cipher_suites: maybe\n", 4, "expected true or false"),
    (TLS + "  client_allowed_sans: [a.test]\n", 4, "needs client_auth_type RequireAndVerifyClientCert"),
    (TLS + "  cert: '-----BEGIN CERTIFICATE-----'\n", 4, "inline PEM is not supported"),
    ("tls_server_config:\n  cert_file: {crt}\n", 1, "key_file is required"),
    ("tls_server_config: {{}}\n", 1, "cert_file and key_file are required"),
    (
        "tls_server_config:\n  cert_file: /nonexistent/x.crt\n  key_file: {key}\n",
        2,
        "cert_file: /nonexistent/x.crt: no such file",
    ),
    ("tls_server_config:\n  cert_file: {crt}\n  key_file: {other_key}\n", 2, "cannot load certificate"),
    ("tls_server_config:\n  cert_file: {key}\n  key_file: {key}\n", 2, "cannot load certificate"),
    (
        TLS + "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {key}\n",
        5,
        "client_ca_file: cannot load client CA",
    ),
    (
        "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
        3,
        "X-Frame-Options: 'allow' is not one of deny, sameorigin",
    ),
    ("http_server_config:\n  headers:\n    Server: x\n", 3, "unknown field 'Server'"),
    ("http_server_config:\n  http3: true\n", 2, "unknown field 'http3'"),
    ("rate_limit:\n  interval: 1s\n", 1, "rate_limit: not supported"),
    ("basic_auth_users:\n  a: x\n  a: y\n", 3, "given twice"),
    ("tls_server_config:\n  cert_file: [x\n", 3, "invalid YAML"),
    ("- just\n- a list\n", 1, "expected a mapping"),
]


@pytest.mark.parametrize("text,line,message", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_files_name_file_line_and_field(tmp_path, pki, password_hash, text, line, message):
    text = text.format(
        crt=pki.server_crt, key=pki.server_key, ca=pki.ca, other_key=pki.client_key, hash=password_hash
    )
    path = write(tmp_path, text)
    with pytest.raises(WebConfigError) as err:
        load(path)
    msg = str(err.value)
    assert msg.startswith(f"web config {path}:{line}:"), msg
    assert message in msg, msg
    assert "hunter2" not in msg


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(WebConfigError, match=r"web config .*/nope.yml: file not found"):
        load(tmp_path / "nope.yml")
    (tmp_path / "bin.yml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(WebConfigError, match=r"bin.yml: not UTF-8"):
        load(tmp_path / "bin.yml")
    with pytest.raises(WebConfigError, match=r"cannot read"):
        load(tmp_path)  # a folder


def test_world_readable_key_is_warned_about(tmp_path, pki, caplog):
    key = tmp_path / "k.key"
    key.write_bytes(pki.server_key.read_bytes())
    key.chmod(0o644)
    load(write(tmp_path, f"tls_server_config:\n  cert_file: {pki.server_crt}\n  key_file: {key}\n"))
    assert any("readable by every user" in r.getMessage() for r in caplog.records)


def test_command_line_check_and_hash(tmp_path, pki):
    import subprocess
    import sys

    mod = [sys.executable, "-m", "gpuwatch.exporters.common.webconfig"]
    r = subprocess.run(mod + ["hash", "--cost", "10"], input="s3cret pass\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    hashed = r.stdout.strip()
    assert bcrypt.checkpw(b"s3cret pass", hashed.encode()) and "s3cret" not in r.stdout
    good = write(
        tmp_path,
        f"tls_server_config:\n  cert_file: {pki.server_crt}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  prometheus: {hashed}\n",
    )
    r = subprocess.run(mod + ["check", str(good)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"{good}: OK (TLS, basic auth)"
    bad = tmp_path / "bad.yml"
    bad.write_text("basic_auth_users:\n  prometheus: s3cret pass\n")
    r = subprocess.run(mod + ["check", str(good), str(bad)], capture_output=True, text=True)
    assert (
        r.returncode == 1
        and f"web config {bad}:2: basic_auth_users.prometheus: not a bcrypt hash" in r.stderr
    )
    assert "s3cret" not in r.stderr
