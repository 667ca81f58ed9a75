"""Audit of both exporters as shipped: flags, landing page, responses, logs, bind address, and the
munge key of the local Slurm stack.

The exporters run as real processes with TLS + basic auth from a web config, at debug log
level; the Slurm exporter runs without a reachable Slurm (it must still serve, and its error
logs must not leak either).
"""

from __future__ import annotations

import base64
import pwd
import socket
import ssl
import stat
import sys
from pathlib import Path

import pytest

from gpuwatch.exporters.gpu.cli import build_parser as gpu_parser
from gpuwatch.exporters.slurm.cli import build_parser as slurm_parser
from gpuwatch.localstack.stack import gpu_exporter_argv, slurm_exporter_argv
from gpuwatch.testing.http import http_get
from gpuwatch.testing.procs import (
    exporter_process,
    free_port,
    wait_http,
)
from gpuwatch.testing.tls import PASSWORD, USER, make_tls_and_auth

from .test_security_http import secret_value_flags

SCENARIO = """\
description: security audit
driver_version: "550.54.15"
gpus:
  - {uuid: GPU-5ec00000-0000-4000-8000-000000000000, pci_bus_id: "00000000:18:00.0", minor: 0}
"""


@pytest.mark.parametrize("build", [gpu_parser, slurm_parser], ids=["gpu", "slurm"])
def test_no_flag_takes_a_secret_on_argv(build):
    parser = build()
    assert secret_value_flags(parser) == []
    assert parser.get_default("listen_address")[1] in (9341, 9400)
    # the listen address is configurable (loopback or a pod-internal address)
    assert parser.parse_args(["--web.listen-address", "127.0.0.1:1"]).listen_address == ("127.0.0.1", 1)


def _exporter_argv(kind: str, port: int, tmp_path: Path, cfg: Path) -> list[str]:
    if kind == "gpu":
        sc = tmp_path / "scenario.yaml"
        sc.write_text(SCENARIO)
        return gpu_exporter_argv(port, sc, f"--web.config.file={cfg}", "--log.level=debug")
    empty = tmp_path / "no-slurm-here"
    empty.mkdir()
    return slurm_exporter_argv(
        port,
        f"--slurm.bin-dir={empty}",
        "--slurm.poll-interval=0.5",
        f"--web.config.file={cfg}",
        "--log.level=debug",
    )


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) != port or state != "0A":  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr)
            if len(raw) == 4:
                out.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:
                out.add(
                    socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))
                )
    return out


def _get(port, ctx, path, auth=None):
    return http_get(port, path, ctx=ctx, auth=auth)


@pytest.mark.parametrize("kind", ["gpu", pytest.param("slurm", marks=pytest.mark.slurm)])
def test_exporter_leaks_nothing(tmp_path, kind):
    cfg, cafile = make_tls_and_auth(tmp_path)
    hashed = cfg.read_text().split(f"{USER}: ", 1)[1].strip()
    wrong = "not-the-password-42"
    secrets = [
        PASSWORD,
        wrong,
        hashed,
        base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    ]
    port = free_port()
    argv = _exporter_argv(kind, port, tmp_path, cfg)
    ctx = ssl.create_default_context(cafile=cafile)
    with exporter_process(argv) as exp:
        wait_http(f"https://127.0.0.1:{port}/metrics", auth=(USER, PASSWORD), cafile=cafile, exporter=exp)
        assert listening_addresses(port) == {"127.0.0.1"}  # bound to the configured address only
        replies = []
        for path in ("/", "/metrics", "/-/ready", "/nope"):
            for auth in (None, (USER, wrong), (USER, PASSWORD)):
                replies.append((path, auth, *_get(port, ctx, path, auth)))
        cmdline = Path(f"/proc/{exp.pid}/cmdline").read_bytes().decode(errors="replace")
        environ = Path(f"/proc/{exp.pid}/environ").read_bytes().decode(errors="replace")
        exp.check_alive()
        log = exp.log()
    for path, auth, status, headers, body in replies:
        text = body.decode(errors="replace") + "".join(f"{k}: {v}\n" for k, v in headers.items())
        for s in secrets:
            assert s not in text, (path, auth)
        assert headers.get("Server") == "gpuwatch"
        assert str(tmp_path) not in text
        if auth != (USER, PASSWORD):
            assert status == 401 and b"gpuwatch_" not in body, (path, auth)
    landing = next(b for p, a, st, h, b in replies if p == "/" and st == 200).decode()
    for leak in (str(tmp_path), socket.gethostname(), "--", "web.config", USER, sys.version.split()[0]):
        assert leak not in landing, leak
    for s in secrets:
        assert s not in log, f"secret in the {kind} exporter's log"
        assert s not in cmdline and s not in environ
    assert "level=debug" in log or "level=info" in log  # the log really was captured


@pytest.mark.slurm
def test_munge_key_and_lab_secrets_have_tight_modes(tmp_path):
    from conftest import require_programs

    require_programs("munged", "mungekey", "slurmctld", "slurmd")
    from gpuwatch.localstack.slurm import SlurmLab

    with SlurmLab(tmp_path) as lab:
        key = lab.munge_socket.parent / "munge.key"
        st = key.stat()
        assert stat.S_IMODE(st.st_mode) & 0o077 == 0, oct(st.st_mode)
        assert pwd.getpwuid(st.st_uid).pw_name == "munge"
        # the key is not in the environment handed to clients and the exporter
        assert not any("munge.key" in v for v in lab.env.values() if isinstance(v, str))
        for name in ("slurmctld", "slurmd"):
            pid = getattr(lab, f"{name}_pid")
            assert "munge.key" not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
