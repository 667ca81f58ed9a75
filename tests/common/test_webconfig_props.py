"""Properties of the web config loader and the basic-auth check (hypothesis).

Whatever the file holds, ``load`` either returns a Guard or raises WebConfigError naming the file;
whatever a client sends, ``authorized`` answers True/False and never raises. ``bench/fuzz.py``
runs these with many more examples.
"""

from __future__ import annotations

import string

import bcrypt
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuwatch.exporters.common.webconfig import TOP_FIELDS, Guard, WebConfigError, load

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
GUARD = Guard(path="mem", _users={"alice": HASH.encode()})

keys = st.sampled_from(
    list(TOP_FIELDS) + ["cert_file", "key_file", "client_auth_type", "min_version", "headers", "alice", "x"]
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.sampled_from(["TLS12", "TLS13", "RequireAndVerifyClientCert", HASH, "/nonexistent", "deny"]),
)
documents = st.recursive(
    leaves, lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=4), max_leaves=12
)


def _check(path):
    try:
        guard = load(path)
    except WebConfigError as exc:
        assert str(exc).startswith(f"web config {path}"), str(exc)
        return None
    assert isinstance(guard, Guard)
    return guard


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(doc=documents)
def test_structured_documents_load_or_fail_cleanly(tmp_path, doc):
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump(doc))
    _check(path)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(text=st.text(alphabet=string.printable + "\u00e9\u2603\ufeff", max_size=200))
def test_arbitrary_text_loads_or_fails_cleanly(tmp_path, text):
    path = tmp_path / "web.yml"
    path.write_text(text)
    _check(path)


@settings(max_examples=200, deadline=None)
@given(
    header=st.one_of(
        st.none(),
        st.text(max_size=80),
        st.builds(
            lambda s, b: f"{s} {b}", st.sampled_from(["Basic", "basic", "Bearer", ""]), st.text(max_size=60)
        ),
        st.binary(max_size=90).map(lambda b: "Basic " + __import__("base64").b64encode(b).decode()),
    )
)
def test_authorized_never_raises_and_only_the_password_passes(header):
    ok = GUARD.authorized(header)
    assert ok in (True, False)
    if ok:
        import base64

        assert base64.b64decode(header.split(" ", 1)[1]) == b"alice:pw"
