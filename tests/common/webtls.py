"""Certificates made in the test run (a CA, a server, good and rogue clients) and a served Site.

Fixtures live here, not in a ``conftest.py``: test modules import them (``from webtls import pki``).
A second ``conftest.py`` below tests/ would replace the ``conftest`` module that other tests
import ``require_programs`` from.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gpuwatch.exporters.common import webconfig
from gpuwatch.exporters.common.http import ExporterServer, Site, serve_in_thread


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _usage(*, sign_certs: bool = False) -> x509.KeyUsage:
    """keyUsage as CAs issue it: digitalSignature for a TLS key, keyCertSign+cRLSign for a CA."""
    return x509.KeyUsage(
        digital_signature=not sign_certs,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def _ca(cn: str, folder: Path):
    """A self-signed root with the extensions RFC 5280 (and OpenSSL's X509_STRICT) asks of a CA:
    critical basicConstraints CA:TRUE, critical keyUsage keyCertSign+cRLSign, a subject key id."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    (folder / f"{cn}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, folder / f"{cn}.key")
    return key, cert


def _leaf(
    cn: str,
    sans: list[x509.GeneralName],
    usage,
    ca_key,
    ca_cert,
    folder: Path,
    *,
    key_ids: bool = True,
) -> tuple[Path, Path]:
    """A TLS certificate as a CA issues it: SAN, keyUsage, extendedKeyUsage, CA:FALSE and the key
    ids (authority key id = the CA's subject key id). ``key_ids=False`` leaves both key ids out,
    like certificates from old home-made CAs (Python 3.13's strict clients refuse those)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if key_ids:
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    crt, keyfile = folder / f"{cn}.crt", folder / f"{cn}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, keyfile)
    return crt, keyfile


@dataclass
class PKI:
    dir: Path
    ca: Path
    server_crt: Path
    server_key: Path
    client_crt: Path  # signed by ca, SAN DNS prometheus.test
    client_key: Path
    other_client_crt: Path  # signed by ca, SAN DNS intruder.test
    other_client_key: Path
    rogue_ca: Path
    rogue_crt: Path  # signed by another CA, SAN DNS prometheus.test
    rogue_key: Path
    legacy_client_crt: Path  # signed by ca, SAN DNS prometheus.test, no key identifiers
    legacy_client_key: Path
    server_as_client_crt: Path  # signed by ca, SAN DNS prometheus.test, extendedKeyUsage serverAuth only
    server_as_client_key: Path

    def client_context(self, cert: Path | None = None, key: Path | None = None, **kw) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        for attr, value in kw.items():
            setattr(ctx, attr, value)
        if cert is not None:
            ctx.load_cert_chain(str(cert), str(key))
        return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> PKI:
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _ca("test-ca", d)
    rogue_key, rogue_cert = _ca("rogue-ca", d)
    server = _leaf(
        "server",
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        ExtendedKeyUsageOID.SERVER_AUTH,
        ca_key,
        ca_cert,
        d,
    )
    client = _leaf(
        "client", [x509.DNSName("prometheus.test")], ExtendedKeyUsageOID.CLIENT_AUTH, ca_key, ca_cert, d
    )
    other = _leaf(
        "other", [x509.DNSName("intruder.test")], ExtendedKeyUsageOID.CLIENT_AUTH, ca_key, ca_cert, d
    )
    rogue = _leaf(
        "rogue", [x509.DNSName("prometheus.test")], ExtendedKeyUsageOID.CLIENT_AUTH, rogue_key, rogue_cert, d
    )
    legacy = _leaf(
        "legacy",
        [x509.DNSName("prometheus.test")],
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ca_key,
        ca_cert,
        d,
        key_ids=False,
    )
    server_only = _leaf(
        "server-only", [x509.DNSName("prometheus.test")], ExtendedKeyUsageOID.SERVER_AUTH, ca_key, ca_cert, d
    )
    return PKI(
        d, d / "test-ca.crt", *server, *client, *other, d / "rogue-ca.crt", *rogue, *legacy, *server_only
    )


PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def password_hash() -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def trivial_site() -> Site:
    body = b"".join(b'test_metric{i="%d"} %d\n' % (i, i) for i in range(300))
    return Site(title="Test exporter", telemetry_path="/metrics", render=lambda: body, version="0.0.0-test")


@pytest.fixture
def serve(tmp_path):
    """serve(yaml_text or None) -> (server, guard): a trivial Site behind that web config on loopback."""
    servers = []

    def start(config: str | None = None, idle_timeout: float = 30.0):
        guard = None
        if config is not None:
            path = tmp_path / "web.yml"
            path.write_text(config)
            guard = webconfig.load(path)
        server = ExporterServer(("127.0.0.1", 0), trivial_site(), guard, idle_timeout=idle_timeout)
        serve_in_thread(server)
        servers.append(server)
        return server, guard

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()
