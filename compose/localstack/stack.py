"""The whole gpuwatch alert path as local processes: what `make demo` and the e2e test run.

    rules (gpuwatch-rules compile, short-interval overlay, webhook notifications)
    Slurm exporter (against a SlurmLab) + GPU exporters (simulated backend, one per node)
      -> Prometheus (1 s scrapes and evaluation, resend-delay 1s)
      -> Alertmanager (gossip off)
      -> WebhookReceiver (records and prints every notification)

Every program listens on a free 127.0.0.1 port with its config and data in ``workdir``; nothing
is shared with a system Prometheus, Alertmanager or munge. :meth:`LocalStack.stop` stops what
was started, by PID, in reverse order.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .procs import ManagedProcess, StackError, free_port
from .promstack import Alertmanager, Prometheus, Target, alertmanager_version, prometheus_config
from .roots import Root
from .webhook import AlertEvent, WebhookReceiver


@dataclass
class GpuNode:
    """One simulated GPU node: its Slurm node name (the ``node`` target label) and scenario."""

    node: str
    scenario: Path
    pod: str = "local"
    role: str = "compute"
    # the node's price per hour: the hourly_cost_usd target label and the exporter's
    # --gpu.hourly-cost-usd, as Ansible sets both from the pod's price (local processes cost nothing)
    hourly_cost_usd: str = "0"
    port: int = 0  # 0: a free port is picked at start
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """Where this stack's Prometheus scrapes it (always loopback)."""
        return f"127.0.0.1:{self.port}"


def console_script(name: str, module: str, func: str = "main") -> list[str]:
    """argv prefix that runs one of gpuwatch's console scripts with this interpreter."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        f"import sys; from {module} import {func}; sys.argv[0] = {name!r}; sys.exit({func}())",
    ]


def slurm_exporter_argv(port: int, *flags: str, bind: str = "127.0.0.1") -> list[str]:
    """argv of a Slurm exporter listening on ``bind:port`` with ``flags`` (the stack, tests, bench)."""
    return [
        *console_script("gpuwatch-slurm-exporter", "gpuwatch.exporters.slurm.cli"),
        f"--web.listen-address={bind}:{port}",
        *flags,
    ]


def gpu_exporter_argv(
    port: int,
    scenario: str | Path | None,
    *flags: str,
    bind: str = "127.0.0.1",
    hourly_cost_usd: str | float | None = None,
) -> list[str]:
    """argv of a GPU exporter on the simulated backend ``scenario`` (None: the real GPUs),
    listening on ``bind:port``; ``hourly_cost_usd``: the node's price (``--gpu.hourly-cost-usd``),
    not passed when None."""
    return [
        *console_script("gpuwatch-gpu-exporter", "gpuwatch.exporters.gpu.cli"),
        f"--web.listen-address={bind}:{port}",
        *([f"--nvml.scenario={scenario}"] if scenario is not None else []),
        *([f"--gpu.hourly-cost-usd={hourly_cost_usd}"] if hourly_cost_usd is not None else []),
        *flags,
    ]


def pack_file(*parts: str) -> Path:
    """A file of the shipped default pack (``notifications.yml``, ``overlays/fast.yml``)."""
    from gpuwatch.rules import pack

    path = Path(pack.__file__).resolve().parent.joinpath(*parts)
    if not path.is_file():
        raise StackError(f"{path}: missing from the installed gpuwatch.rules pack")
    return path


def fast_overlay() -> Path:
    """The pack's short-interval overlay (1 s scrapes/evaluation, short for:, 1 m windows)."""
    return pack_file("overlays", "fast.yml")


def webhook_notifications(webhook_url: str, source: Path | None = None) -> dict:
    """The pack's notifications file with each receiver replaced by a local webhook.

    Route tree, grouping and inhibit rules stay exactly the pack's (so the demo and the e2e test
    exercise the real routing and inhibition); receiver ``NAME`` posts to ``webhook_url/NAME``.
    Global SMTP/Slack settings are dropped (nothing here sends mail)."""
    source = source or pack_file("notifications.yml")
    try:
        doc = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise StackError(f"{source}: {exc}") from None
    if not isinstance(doc, dict) or "route" not in doc or not isinstance(doc.get("receivers"), list):
        raise StackError(f"{source}: not a notifications file (route, receivers)")
    out: dict = {}
    if isinstance(doc.get("global"), dict) and "resolve_timeout" in doc["global"]:
        out["global"] = {"resolve_timeout": doc["global"]["resolve_timeout"]}
    out["route"] = doc["route"]
    out["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": f"{webhook_url}/{r['name']}", "send_resolved": True}]}
        for r in doc["receivers"]
    ]
    for key in ("inhibit_rules", "time_intervals", "mute_time_intervals"):
        if key in doc:
            out[key] = doc[key]
    return out


def compile_rules(
    outdir: Path,
    *,
    overlay: Path | None,
    notifications: Path | None,
    scrape_interval: str,
    sources: Sequence[Path] = (),
    log_path: Path | None = None,
    alertmanager_version: str | None = None,
) -> Path:
    """Run ``gpuwatch-rules compile`` (the default pack unless ``sources``) into ``outdir``,
    for ``alertmanager_version`` (``0.25``; default: the compiler's, the Alertmanager compose pins)."""
    argv = console_script("gpuwatch-rules", "gpuwatch.rules.cli", "cli") + [
        "compile",
        *map(str, sources),
        "-o",
        str(outdir),
    ]
    if overlay is not None:
        argv += ["--overlay", str(overlay)]
    if notifications is not None:
        argv += ["--notifications", str(notifications)]
    argv += ["--scrape-interval", scrape_interval]
    if alertmanager_version:
        argv += ["--alertmanager-version", alertmanager_version]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if log_path is not None:
        log_path.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise StackError(
            f"gpuwatch-rules compile failed ({proc.returncode}):\n{proc.stderr.strip() or proc.stdout.strip()}"
        )
    rules = sorted((outdir / "prometheus" / "rules").glob("*.yml"))
    if not rules or not (outdir / "alertmanager" / "alertmanager.yml").exists():
        raise StackError(f"gpuwatch-rules compile wrote no rules or alertmanager.yml under {outdir}")
    return outdir


class LocalStack:
    """Start/stop the local alert path. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        workdir: Path,
        *,
        gpu_nodes: Sequence[GpuNode],
        slurm_env: Mapping[str, str] | None = None,
        overlay: Path | None = None,
        notifications_source: Path | None = None,
        gpu_exporter_args: Sequence[str] = ("--collect.interval=1s",),
        rule_sources: Sequence[Path] = (),
        scrape_interval: str = "1s",
        slurm_poll_interval: float | None = 1.0,
        slurm_port: int = 0,
        exporter_bind: str = "127.0.0.1",
        on_event: Callable[[AlertEvent], None] | None = None,
        say: Callable[[str], None] = lambda _msg: None,
        prom_root: Root | None = None,
    ) -> None:
        """``prom_root``: take Prometheus and Alertmanager from this version root (see
        :func:`.promstack.prom_root`); default: the host's."""
        self.workdir = Path(workdir)
        self.prom_root = prom_root
        self.gpu_nodes = list(gpu_nodes)
        self.slurm_env = dict(slurm_env) if slurm_env is not None else None
        self.overlay = overlay
        self.notifications_source = notifications_source
        self.gpu_exporter_args = list(gpu_exporter_args)
        self.rule_sources = list(rule_sources)
        self.scrape_interval = scrape_interval
        self.slurm_poll_interval = slurm_poll_interval
        self.say = say
        self.webhook = WebhookReceiver(on_event=on_event)
        self.alertmanager: Alertmanager | None = None
        self.prometheus: Prometheus | None = None
        self.slurm_exporter: ManagedProcess | None = None
        self.slurm_port = slurm_port
        self.exporter_bind = exporter_bind
        self.generated = self.workdir / "generated"
        self._started: list[Any] = []  # webhook receiver and ManagedProcesses: all have stop()

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> LocalStack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.webhook.start()
        self._started.append(self.webhook)
        self.say(f"webhook receiver   {self.webhook.url}")

        notifications = self.workdir / "notifications.yml"
        notifications.write_text(
            yaml.safe_dump(
                webhook_notifications(self.webhook.url, self.notifications_source), sort_keys=False
            )
        )
        if self.generated.exists():
            shutil.rmtree(self.generated)
        compile_rules(
            self.generated,
            overlay=self.overlay,
            notifications=notifications,
            scrape_interval=self.scrape_interval,
            sources=self.rule_sources,
            log_path=self.workdir / "compile.log",
            alertmanager_version=alertmanager_version(self.prom_root),  # the one started below
        )
        self.say(f"rules compiled     {self.generated}")

        # Each process is registered for stop() before it starts: a Ctrl-C that lands just after
        # a child was spawned must still find (and stop) it.
        self.alertmanager = Alertmanager(
            self.workdir / "alertmanager",
            self.generated / "alertmanager" / "alertmanager.yml",
            root=self.prom_root,
            binds=[self.workdir],
        )
        self._started.append(self.alertmanager)
        self.alertmanager.start()

        if self.slurm_env is not None:
            self.start_slurm_exporter()
        for gpu in self.gpu_nodes:
            self.start_gpu_exporter(gpu)

        port = free_port()
        self.prometheus = Prometheus(
            self.workdir / "prometheus",
            self._prometheus_config(port),
            port=port,
            root=self.prom_root,
            binds=[self.workdir],
        )
        self._started.append(self.prometheus)
        self.prometheus.start()

        self.alertmanager.wait_http(self.alertmanager.url + "/-/ready", 30)
        for gpu in self.gpu_nodes:
            self.wait_exporter(gpu.process, gpu.address)
        if self.slurm_exporter is not None:
            self.wait_exporter(self.slurm_exporter, f"127.0.0.1:{self.slurm_port}")
        self.prometheus.wait_http(self.prometheus.url + "/-/ready", 60)
        return self

    def stop(self) -> None:
        errors = []
        for thing in reversed(self._started):
            try:
                thing.stop()
            except Exception as exc:  # noqa: BLE001  (keep stopping the rest)
                errors.append(f"{thing}: {exc}")
        self._started.clear()
        if errors:
            raise StackError("while stopping: " + "; ".join(errors))

    # --- exporters ------------------------------------------------------------------------------

    def start_slurm_exporter(self) -> ManagedProcess:
        if not self.slurm_port:
            self.slurm_port = free_port()
        poll = [f"--slurm.poll-interval={self.slurm_poll_interval:g}"] if self.slurm_poll_interval else []
        argv = slurm_exporter_argv(self.slurm_port, *poll, bind=self.exporter_bind)
        self.slurm_exporter = ManagedProcess(
            "slurm-exporter", argv, self.workdir / "slurm-exporter.log", env=self.slurm_env
        )
        self._started.append(self.slurm_exporter)
        return self.slurm_exporter.start()

    def start_gpu_exporter(self, gpu: GpuNode) -> ManagedProcess:
        """(Re)start the GPU exporter of ``gpu`` on its port (kept across restarts)."""
        if not gpu.port:
            gpu.port = free_port()
        argv = gpu_exporter_argv(
            gpu.port,
            gpu.scenario,
            *self.gpu_exporter_args,
            bind=self.exporter_bind,
            hourly_cost_usd=gpu.hourly_cost_usd,
        )
        gpu.process = ManagedProcess(
            f"gpu-exporter-{gpu.node}", argv, self.workdir / f"gpu-exporter-{gpu.node}.log"
        )
        self._started.append(gpu.process)
        return gpu.process.start()

    def wait_exporter(self, proc: ManagedProcess | None, address: str, timeout: float = 30) -> None:
        if proc is None:
            raise StackError(f"no exporter process for {address}")
        proc.wait_http(f"http://{address}/metrics", timeout)

    def gpu(self, node: str) -> GpuNode:
        for g in self.gpu_nodes:
            if g.node == node:
                return g
        raise KeyError(node)

    # --- Prometheus -------------------------------------------------------------------------------

    def _prometheus_config(self, port: int) -> dict:
        assert self.alertmanager is not None
        # The target labels the Ansible playbook's file_sd entries carry (local processes cost nothing).
        gpu_targets = [
            Target(
                g.address,
                {"node": g.node, "pod": g.pod, "role": g.role, "hourly_cost_usd": g.hourly_cost_usd},
            )
            for g in self.gpu_nodes
        ]
        slurm_targets = []
        if self.slurm_exporter is not None:
            slurm_targets.append(
                Target(
                    f"127.0.0.1:{self.slurm_port}", {"pod": "local", "role": "head", "hourly_cost_usd": "0"}
                )
            )
        return prometheus_config(
            scrape_interval=self.scrape_interval,
            evaluation_interval=self.scrape_interval,
            alertmanager=self.alertmanager.address,
            rule_files=[str(self.generated / "prometheus" / "rules" / "*.yml")],
            gpu_targets=gpu_targets,
            slurm_targets=slurm_targets,
            self_address=f"127.0.0.1:{port}",
        )

    def urls(self) -> dict[str, str]:
        out = {"webhook receiver": self.webhook.url}
        if self.prometheus is not None:
            out["Prometheus"] = self.prometheus.url
            out["Prometheus alerts"] = self.prometheus.url + "/alerts"
        if self.alertmanager is not None:
            out["Alertmanager"] = self.alertmanager.url
        for g in self.gpu_nodes:
            out[f"GPU exporter {g.node}"] = f"http://{g.address}/metrics"
        if self.slurm_exporter is not None:
            out["Slurm exporter"] = f"http://127.0.0.1:{self.slurm_port}/metrics"
        return out

    def wait_for_targets_up(self, timeout: float = 30) -> None:
        """Until Prometheus has scraped every target successfully at least once."""
        assert self.prometheus is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                targets = self.prometheus.targets()
            except StackError:
                targets = []
            if targets and all(t.get("health") == "up" for t in targets):
                return
            time.sleep(0.2)
        down = [
            f"{t['labels'].get('job')} {t['scrapeUrl']}: {t.get('lastError')}"
            for t in self.prometheus.targets()
            if t.get("health") != "up"
        ]
        raise StackError("targets not up: " + "; ".join(down))
