"""make test-py313's runner (gpuwatch.localstack.pyroot): what reaches the root, and CI's rule
that a root which cannot be built is a failure. The real run is `make test-py313` itself."""

from __future__ import annotations

import pytest

from gpuwatch.localstack import pyroot
from gpuwatch.localstack.roots import RootError


def test_only_the_network_settings_of_the_host_reach_the_root(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "https://index.example.test/simple")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "file:///opt/wheels https://extra.example.test/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels")  # a host path: meaningless inside the root
    monkeypatch.setenv("https_proxy", "http://proxy.example.test:3128")
    monkeypatch.setenv("GPUWATCH_SECRET_TOKEN", "s3cret")
    binds: list[str] = []
    env = pyroot._env(binds)
    assert env["PIP_INDEX_URL"] == "https://index.example.test/simple"
    assert env["PIP_EXTRA_INDEX_URL"] == "https://extra.example.test/simple"  # file: URLs dropped
    assert env["https_proxy"] == "http://proxy.example.test:3128"
    assert "PIP_FIND_LINKS" not in env and "GPUWATCH_SECRET_TOKEN" not in env
    if pyroot.HOST_CA_BUNDLE.is_file():  # the host's trust store, for TLS-inspecting proxies
        assert binds == [str(pyroot.HOST_CA_DIR)] and env["PIP_CERT"] == str(pyroot.HOST_CA_BUNDLE)


@pytest.mark.parametrize("ci,code", [(True, 1), (False, 0)], ids=["CI=true", "no CI"])
def test_a_root_that_cannot_be_built(monkeypatch, capsys, ci, code):
    def fail(*args, **kwargs):
        raise RootError("debootstrap: not installed (apt-get install debootstrap)")

    monkeypatch.setattr(pyroot.Root, "ensure", fail)
    monkeypatch.setattr(pyroot, "IN_CI", ci)
    assert pyroot.main(["--suite", "trixie", "--", "-q", "tests/gpu"]) == code
    err = capsys.readouterr().err
    assert "debootstrap: not installed" in err
    assert err.startswith("error:" if ci else "skipped:")
