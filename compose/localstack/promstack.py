"""Prometheus and Alertmanager (the Debian binaries) as local processes on 127.0.0.1.

Each gets a private folder (config, data), a free port, ``--cluster.listen-address=`` for
Alertmanager (no gossip port), and ``--rules.alert.resend-delay`` for Prometheus (with the
default of 1m the first notification can be lost while Alertmanager is being discovered).
They never touch a system Prometheus or Alertmanager: other ports, other configs, other data.

Versions: by default the host's binaries (Debian 12: Prometheus 2.42, Alertmanager 0.25); with
``root=`` those of a version root (:mod:`.roots`; trixie: 2.53 + 0.28, sid: 3.5 + 0.33), run in
it with the folders they read and write mounted at the same path. :func:`prom_root` turns a name
(``host``, ``trixie``, ``sid``, ``oldest``, ``newest``) into a root; :func:`tool` gives the argv
of promtool/amtool from the same root.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .procs import ManagedProcess, StackError, free_port
from .roots import Root, RootError

PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
SEARCH_PATH = "/usr/bin:/usr/sbin:/usr/local/bin:/bin:/sbin"

# Where each tested Prometheus + Alertmanager pair comes from (the Debian suite's root).
PROM_VERSIONS = {
    "host": "host",  # Debian 12: Prometheus 2.42, Alertmanager 0.25
    "trixie": "trixie",  # Prometheus 2.53, Alertmanager 0.28
    "sid": "sid",  # Prometheus 3.5 (LTS), Alertmanager 0.33
    "oldest": "host",
    "newest": "sid",
}


def prom_root(name: str | Root | None) -> Root:
    """The root whose Prometheus/Alertmanager to run: a :class:`Root`, or a name of
    :data:`PROM_VERSIONS` (``None``: the host's). Builds a missing root (needs root)."""
    if isinstance(name, Root):
        return name
    if name is None:
        return Root.host()
    if name not in PROM_VERSIONS:
        raise StackError(f"versions {name!r}: choose one of {', '.join(PROM_VERSIONS)}")
    try:
        return Root.ensure(PROM_VERSIONS[name], quiet=False)
    except RootError as exc:
        raise StackError(f"versions {name}: {exc}") from None


def versions(root: Root) -> str:
    """``Prometheus 3.5.3, Alertmanager 0.33.1`` as installed in ``root``."""

    def short(package: str) -> str:
        v = root.version(package) or "?"
        return v.split(":", 1)[-1].split("+", 1)[0].split("-", 1)[0]

    return f"Prometheus {short('prometheus')}, Alertmanager {short('prometheus-alertmanager')}"


def alertmanager_version(root: Root | None) -> str | None:
    """``0.25``: major.minor of the Alertmanager in ``root`` (None: the host's), for
    ``gpuwatch-rules compile --alertmanager-version``; None when not installed."""
    v = (root or Root.host()).version("prometheus-alertmanager")
    parts = v.split(":", 1)[-1].split(".") if v else []
    return ".".join(p.split("+")[0].split("-")[0] for p in parts[:2]) if len(parts) >= 2 else None


def tool(root: Root | None, name: str, binds: Iterable[str | os.PathLike] = ()) -> list[str]:
    """argv prefix of ``promtool``/``amtool`` (or any program) from ``root`` (None: the host's),
    with ``binds`` (folders holding the files it reads) mounted at the same path."""
    if root is None or root.is_host:
        return [find_binary((name,), "prometheus" if name == "promtool" else "prometheus-alertmanager")]
    return root.argv([name], binds=[b for b in dict.fromkeys(map(str, binds))])


def _command(root: Root | None, names: Sequence[str], package: str, binds: Iterable[Path]) -> str | list[str]:
    if root is None or root.is_host:
        return find_binary(names, package)
    for name in names:
        if root.has(name):
            return root.argv([name], binds=list(dict.fromkeys(str(b) for b in binds)))
    raise StackError(f"{names[0]} not found in the {root}")


def find_binary(names: Sequence[str], package: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), SEARCH_PATH])
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return found
    raise StackError(f"{names[0]} not found; install the Debian package {package} (make deps does, as root)")


def _get_json(url: str, timeout: float = 5.0) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        body = exc.read().decode(errors="replace")[:500]
        raise StackError(f"GET {url}: HTTP {exc.code}: {body}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"GET {url}: {exc}") from None


def _post(url: str, timeout: float = 5.0) -> None:
    req = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise StackError(f"POST {url}: {exc}") from None


@dataclass
class Target:
    """One scrape target: ``host:port`` plus target labels (``node``, ``pod``, ``role``, ``hourly_cost_usd``)."""

    address: str
    labels: dict[str, str] = field(default_factory=dict)


def prometheus_config(
    *,
    scrape_interval: str,
    evaluation_interval: str,
    alertmanager: str | None,
    rule_files: Iterable[str],
    gpu_targets: Iterable[Target] = (),
    slurm_targets: Iterable[Target] = (),
    self_address: str | None = None,
) -> dict:
    """The local stack's Prometheus config: the compose config's jobs, static local targets.

    Same job names and target labels as compose/prometheus/prometheus.yml (``gpuwatch-gpu`` with
    ``node``/``pod``/``role`` on each target, ``gpuwatch-slurm`` without ``node``), plain HTTP on
    loopback instead of RunPod's HTTPS proxy.
    """

    def static(targets: Iterable[Target]) -> list[dict]:
        return [{"targets": [t.address], "labels": dict(t.labels)} for t in targets]

    scrape: list[dict] = []
    if self_address:
        scrape.append({"job_name": "prometheus", "static_configs": [{"targets": [self_address]}]})
    if alertmanager:
        scrape.append({"job_name": "alertmanager", "static_configs": [{"targets": [alertmanager]}]})
    scrape.append({"job_name": "gpuwatch-gpu", "static_configs": static(gpu_targets)})
    scrape.append({"job_name": "gpuwatch-slurm", "static_configs": static(slurm_targets)})
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": {"monitor": "gpuwatch-local"},
        },
        "rule_files": list(rule_files),
        "scrape_configs": scrape,
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


class Prometheus(ManagedProcess):
    """``prometheus`` on 127.0.0.1:PORT with its config and TSDB under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        config: dict,
        port: int | None = None,
        resend_delay: str = "1s",
        binary: str | None = None,
        root: Root | None = None,
        binds: Iterable[Path] = (),
    ) -> None:
        """``root``: run the root's Prometheus; ``binds``: folders besides ``workdir`` it reads
        (rule files) that are mounted into the root."""
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.config_path = self.workdir / "prometheus.yml"
        self.data_dir = self.workdir / "data"
        self.write_config(config)
        command = binary or _command(root, PROMETHEUS_BINARIES, "prometheus", [self.workdir, *binds])
        argv = [
            *([command] if isinstance(command, str) else command),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}",
            f"--rules.alert.resend-delay={resend_delay}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]
        super().__init__("prometheus", argv, self.workdir / "prometheus.log")

    def write_config(self, config: dict) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(self.config_path)

    def start_and_wait(self, timeout: float = 60.0) -> Prometheus:
        self.start()
        self.wait_http(self.url + "/-/ready", timeout)
        return self

    def reload(self) -> None:
        _post(self.url + "/-/reload")

    def api(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        body = _get_json(f"{self.url}/api/v1/{path}{query}")
        if body.get("status") != "success":
            raise StackError(f"prometheus /api/v1/{path}: {body}")
        return body["data"]

    def query(self, expr: str, time: float | None = None) -> dict:
        """``/api/v1/query``; returns ``data`` (``resultType``, ``result``)."""
        params = {"query": expr}
        if time is not None:
            params["time"] = f"{time:.3f}"
        return self.api("query", **params)

    def query_range(self, expr: str, start: float, end: float, step: str = "1s") -> dict:
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step)

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    def rules(self) -> list[dict]:
        return self.api("rules")["groups"]

    def targets(self) -> list[dict]:
        return self.api("targets")["activeTargets"]


class Alertmanager(ManagedProcess):
    """``prometheus-alertmanager`` on 127.0.0.1:PORT, gossip off, state under ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        config_file: Path,
        port: int | None = None,
        binary: str | None = None,
        root: Root | None = None,
        binds: Iterable[Path] = (),
    ) -> None:
        """``root``: run the root's Alertmanager (the config's folder and ``binds``, e.g. where
        ``*_file`` secrets are, are mounted into it)."""
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.config_path = Path(config_file)
        command = binary or _command(
            root,
            ALERTMANAGER_BINARIES,
            "prometheus-alertmanager",
            [self.workdir, self.config_path.resolve().parent, *binds],
        )
        argv = [
            *([command] if isinstance(command, str) else command),
            f"--config.file={self.config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address={self.address}",
            f"--web.external-url={self.url}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        super().__init__("alertmanager", argv, self.workdir / "alertmanager.log")

    def start_and_wait(self, timeout: float = 30.0) -> Alertmanager:
        self.start()
        self.wait_http(self.url + "/-/ready", timeout)
        return self

    def alerts(self, **filters: str) -> list[dict]:
        query = ("?" + urllib.parse.urlencode(filters)) if filters else ""
        return _get_json(f"{self.url}/api/v2/alerts{query}")

    def status(self) -> dict:
        return _get_json(f"{self.url}/api/v2/status")
