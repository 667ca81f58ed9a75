"""Load: 50 concurrent scrapers for 30 s against each exporter.

For every target the exporter runs as its own process on loopback; after a warm-up at the same
concurrency (so thread stacks and malloc arenas exist before the baseline) its resident memory
is read, the load runs, and memory and thread count are read again. Reported: requests, errors
(by kind), p50/p99/max latency, requests/s, RSS growth, threads left over.

Targets:
- ``http-layer``: bench/trivial_exporter.py (fixed 8-GPU-sized payload), plain HTTP, then HTTPS
  with basic auth (certificates made on the fly), then prometheus_client's ``start_http_server``
  with the same payload, side by side;
- ``slurm-exporter``: gpuwatch-slurm-exporter against a real SlurmLab with queued jobs;
- ``gpu-exporter``: gpuwatch-gpu-exporter on the simulated NVML backend with 8 GPUs.

``python bench/load.py [--quick] [--seconds N] [--clients N] [--only NAME]``; ``run(quick)`` is
what ``bench/run_all.py`` calls. Goal: no errors, RSS growth under 5 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from loadgen import rss_kib, run_load, thread_count  # noqa: E402

RSS_GOAL_KIB = 5 * 1024
USER, PASSWORD = "prometheus", "load-test-password"


class Exporter:
    """A started exporter process: ``pid``, ``port`` (when it printed one), ``log()`` (its stderr)."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, port: int | None):
        self.proc, self.pid, self.port, self._log_path = proc, proc.pid, port, log_path

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = "\n".join(self.log().splitlines()[-15:])
            raise RuntimeError(f"{self.proc.args[0]} exited with status {self.proc.returncode}:\n{tail}")


@contextlib.contextmanager
def exporter_process(argv: list[str], env: dict | None = None, ready_line: str | None = None):
    """Start an exporter (stderr to a file, so a chatty one never blocks on a pipe); stop it by PID."""
    with tempfile.NamedTemporaryFile(prefix="gpuwatch-exporter-", suffix=".log", delete=False) as logf:
        log_path = Path(logf.name)
    with open(log_path, "w") as errf:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE if ready_line else subprocess.DEVNULL,
            stderr=errf,
            text=True,
            start_new_session=True,
        )
    try:
        port = None
        if ready_line:
            line = proc.stdout.readline()
            if not line.startswith(ready_line):
                proc.wait(timeout=10)
                raise RuntimeError(
                    f"{argv[0]} did not start: {line!r} {log_path.read_text(errors='replace')}"
                )
            port = int(line.split()[1])
        yield Exporter(proc, log_path, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log_path.unlink(missing_ok=True)


def wait_http(
    url: str, timeout: float = 60.0, auth=None, cafile=None, exporter: Exporter | None = None
) -> None:
    """Wait until ``url`` answers 200 (and fail early, with its log, if the exporter died)."""
    import base64
    import ssl
    import urllib.request

    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https") else None
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        if exporter is not None:
            exporter.check_alive()
        try:
            with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {last}")


def measure(pid: int, url: str, clients: int, seconds: float, warmup: float, auth=None, cafile=None) -> dict:
    run_load(url, clients=clients, seconds=warmup, auth=auth, cafile=cafile)
    time.sleep(0.5)
    rss0, threads0 = rss_kib(pid), thread_count(pid)
    result = run_load(url, clients=clients, seconds=seconds, auth=auth, cafile=cafile)
    time.sleep(1.0)  # connections close, per-connection threads end
    rss1, threads1 = rss_kib(pid), thread_count(pid)
    out = result.summary()
    out.update(
        clients=clients,
        seconds=seconds,
        rss_start_kib=rss0,
        rss_end_kib=rss1,
        rss_growth_kib=rss1 - rss0,
        threads_before=threads0,
        threads_after=threads1,
        ok=result.error_count == 0 and rss1 - rss0 < RSS_GOAL_KIB,
    )
    return out


# --- targets -------------------------------------------------------------------------------------


def make_tls_and_auth(folder: Path) -> tuple[Path, str]:
    """A self-signed certificate for 127.0.0.1 and a web config with TLS + basic auth."""
    import datetime
    import ipaddress

    import bcrypt
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    crt, keyf = folder / "server.crt", folder / "server.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyf.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    keyf.chmod(0o600)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    cfg = folder / "web-config.yml"
    cfg.write_text(
        f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  {USER}: {hashed}\n"
    )
    return cfg, str(crt)


def http_layer(clients: int, seconds: float, warmup: float) -> dict:
    out = {}
    script = [
        sys.executable,
        str(HERE / "trivial_exporter.py"),
        "--web.listen-address",
        "127.0.0.1:0",
        "--log.level",
        "warn",
    ]
    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-") as tmp:
        cfg, cafile = make_tls_and_auth(Path(tmp))
        variants = [
            ("gpuwatch http", script, "http", None, None),
            (
                "gpuwatch https+basic auth",
                script + ["--web.config.file", str(cfg)],
                "https",
                (USER, PASSWORD),
                cafile,
            ),
            ("prometheus_client start_http_server", script + ["--prometheus-client"], "http", None, None),
        ]
        for name, argv, scheme, auth, ca in variants:
            with exporter_process(argv, ready_line="listening") as exp:
                url = f"{scheme}://127.0.0.1:{exp.port}/metrics"
                wait_http(url, auth=auth, cafile=ca, exporter=exp)
                out[name] = measure(exp.pid, url, clients, seconds, warmup, auth=auth, cafile=ca)
    return out


def _exporter_bin(name: str, module: str) -> str | None:
    """The console script, if its module exists (the script alone may outlive its code)."""
    import importlib.util

    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_exporter(clients: int, seconds: float, warmup: float) -> dict:
    exe = _exporter_bin("gpuwatch-slurm-exporter", "gpuwatch.exporters.slurm.cli")
    try:
        from gpuwatch.localstack.slurm import SlurmLab
    except ImportError:
        SlurmLab = None
    if exe is None or SlurmLab is None:
        return {"skipped": "gpuwatch-slurm-exporter or gpuwatch.localstack.slurm.SlurmLab not present yet"}
    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-slurm-") as tmp, SlurmLab(tmp) as lab:
        for i in range(20):
            lab.sbatch(["-p", "gpu", "--gres=gpu:1", "--wrap", "sleep 600", "-J", f"load{i}"])
        port = _free_port()
        # collections keep running under the load (every 2 s instead of the default 30 s)
        argv = [
            exe,
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--slurm.poll-interval",
            "2",
            "--log.level",
            "warn",
        ]
        with exporter_process(argv, env=lab.env) as exp:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, exporter=exp)
            return {
                "slurm exporter (real SlurmLab, 20 jobs, polling every 2 s)": measure(
                    exp.pid, url, clients, seconds, warmup
                )
            }


GPU_SCENARIO = """\
# 8 busy simulated H100s for the load benchmark
description: load benchmark, 8 GPUs
driver_version: "550.54.15"
defaults:
  name: NVIDIA H100 80GB HBM3
  memory_total: 81559MiB
  power_limit: 700
  nvlinks: 18
  values:
    utilization: {base: 0.85, amplitude: 0.1, period: 60}
    memory_used: 61GiB
    temperature: {base: 62, amplitude: 3, period: 120}
    power: {base: 520, amplitude: 40, period: 60}
gpus:
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000000, pci_bus_id: "00000000:18:00.0", minor: 0}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000001, pci_bus_id: "00000000:28:00.0", minor: 1}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000002, pci_bus_id: "00000000:38:00.0", minor: 2}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000003, pci_bus_id: "00000000:48:00.0", minor: 3}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000004, pci_bus_id: "00000000:58:00.0", minor: 4}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000005, pci_bus_id: "00000000:68:00.0", minor: 5}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000006, pci_bus_id: "00000000:78:00.0", minor: 6}
  - {uuid: GPU-10ad0000-0000-4000-8000-000000000007, pci_bus_id: "00000000:88:00.0", minor: 7}
"""


def gpu_exporter(clients: int, seconds: float, warmup: float) -> dict:
    exe = _exporter_bin("gpuwatch-gpu-exporter", "gpuwatch.exporters.gpu.cli")
    if exe is None:
        return {"skipped": "gpuwatch-gpu-exporter not present yet"}
    with tempfile.TemporaryDirectory(prefix="gpuwatch-load-gpu-") as tmp:
        scenario = Path(tmp) / "scenario.yml"
        scenario.write_text(GPU_SCENARIO)
        port = _free_port()
        argv = [
            exe,
            "--web.listen-address",
            f"127.0.0.1:{port}",
            "--nvml.scenario",
            str(scenario),
            "--log.level",
            "warn",
        ]
        with exporter_process(argv) as exp:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_http(url, exporter=exp)
            return {"gpu exporter (simulated, 8 GPUs)": measure(exp.pid, url, clients, seconds, warmup)}


TARGETS = {"http-layer": http_layer, "slurm-exporter": slurm_exporter, "gpu-exporter": gpu_exporter}


def run(
    quick: bool = False, clients: int = 50, seconds: float | None = None, only: str | None = None
) -> dict:
    seconds = seconds if seconds is not None else (5.0 if quick else 30.0)
    warmup = 1.0 if quick else 5.0
    results = {
        "title": f"Load: {clients} concurrent scrapers for {seconds:.0f} s per exporter",
        "summary": (
            "Half the scrapers keep their connection alive, half reconnect for every scrape; they run "
            "in several processes. RSS growth is measured after a warm-up at the same concurrency. "
            "Goal: no errors, RSS growth under 5 MB. prometheus_client's own server serves the same "
            "payload as the HTTP-layer stand-in, for comparison."
        ),
        "clients": clients,
        "seconds": seconds,
        "rss_goal_kib": RSS_GOAL_KIB,
        "targets": {},
    }
    for name, fn in TARGETS.items():
        if only and name != only:
            continue
        try:
            results["targets"][name] = fn(clients, seconds, warmup)
        except Exception as exc:  # one broken target must not hide the others' numbers
            results["targets"][name] = {"failed": f"{type(exc).__name__}: {exc}"}
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--only", choices=list(TARGETS))
    args = ap.parse_args()
    res = run(args.quick, args.clients, args.seconds, args.only)
    print(json.dumps(res, indent=2))
    bad = [
        f"{t}/{v}"
        for t, group in res["targets"].items()
        for v, r in group.items()
        if isinstance(r, dict) and not r.get("ok", True)
    ]
    return 1 if bad or any("failed" in g for g in res["targets"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
