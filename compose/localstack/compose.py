"""``make up`` / ``make down``: the compose stack, with its secrets prepared first.

    python -m gpuwatch.localstack.compose up [--demo]
    python -m gpuwatch.localstack.compose down
    python -m gpuwatch.localstack.compose secrets      # only prepare compose/secrets/

Secrets live in the git-ignored folder ``compose/secrets/`` (mode 0700; files 0644 so that the
containers' unprivileged users can read the bind-mounted files):

- ``grafana_admin_password``: from ``$GRAFANA_ADMIN_PASSWORD`` when set, else kept if the file
  exists, else a random one is generated (its path is printed, never the password).
- ``scrape_password``: the exporters' basic-auth password, written by the Ansible playbook. ``up``
  refuses to start without it, except with ``--demo`` (local exporters without auth), where a
  random placeholder is written.
- ``alertmanager/``: files that ``alertmanager.yml`` names in ``*_file`` keys (Slack URL, SMTP
  password, PagerDuty key); ``up`` checks every one exists (``--demo`` writes empty placeholders).

Where Docker or its compose plugin is missing, ``up`` says so and exits 2.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import yaml

COMPOSE_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"


class ComposeError(Exception):
    """Something ``make up``/``down`` cannot do; the message says what to fix."""


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def alertmanager_secret_files(config_path: Path) -> list[str]:
    """Every ``*_file`` value in an Alertmanager config (paths as the container sees them)."""
    try:
        config = yaml.safe_load(config_path.read_text())
    except FileNotFoundError:
        raise ComposeError(f"{config_path}: missing; run `make generate` (gpuwatch-rules compile)") from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"{config_path}: {exc}") from None
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(config)
    return sorted(set(found))


def prepare_secrets(
    compose_dir: Path = COMPOSE_DIR, demo: bool = False, environ: dict | None = None
) -> list[str]:
    """Create/check compose/secrets/; returns human-readable lines of what was done."""
    env = os.environ if environ is None else environ
    secrets_dir = compose_dir / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    (secrets_dir / "alertmanager").mkdir(exist_ok=True)
    done: list[str] = []

    grafana = secrets_dir / "grafana_admin_password"
    if env.get("GRAFANA_ADMIN_PASSWORD"):
        _write_secret(grafana, env["GRAFANA_ADMIN_PASSWORD"])
        done.append(f"{grafana}: written from $GRAFANA_ADMIN_PASSWORD")
    elif not grafana.exists():
        _write_secret(grafana, secrets.token_urlsafe(18))
        done.append(f"{grafana}: generated a random Grafana admin password (read it from this file)")

    scrape = secrets_dir / "scrape_password"
    if not scrape.exists():
        if not demo:
            raise ComposeError(
                f"{scrape}: missing. Write the exporters' basic-auth password there "
                "(ansible/site.yml does), or run `make up DEMO=1` for the local demo targets"
            )
        _write_secret(scrape, secrets.token_urlsafe(18))
        done.append(f"{scrape}: demo placeholder written")

    am_config = compose_dir / "generated" / "alertmanager" / "alertmanager.yml"
    missing = []
    for name in alertmanager_secret_files(am_config):
        prefix = "/etc/alertmanager/secrets/"
        if not name.startswith(prefix):
            raise ComposeError(f"{am_config}: {name} is outside {prefix} (the only secrets folder mounted)")
        host = secrets_dir / "alertmanager" / name[len(prefix) :]
        if host.exists():
            continue
        if demo:
            _write_secret(host, "")
            done.append(f"{host}: empty demo placeholder (notifications through it fail until you fill it)")
        else:
            missing.append(str(host))
    if missing:
        raise ComposeError("alertmanager.yml needs these secret files: " + ", ".join(missing))
    # The containers run as unprivileged users (nobody, grafana) and read the bind-mounted files
    # directly; the 0700 folder keeps other host users out. A file written 0600 (Ansible's
    # password lookup does) would be unreadable in the container: open it up to 0644.
    for path in sorted(p for p in secrets_dir.rglob("*") if p.is_file()):
        mode = stat.S_IMODE(path.stat().st_mode)
        if not mode & 0o004:
            os.chmod(path, 0o644)
            done.append(f"{path}: mode {mode:04o} -> 0644 (readable by the container; the folder stays 0700)")
    return done


def docker_compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            info = subprocess.run([docker, "info"], capture_output=True, text=True)
            if info.returncode != 0:
                raise ComposeError(
                    "docker is installed but its engine does not answer (`docker info` failed)"
                )
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    raise ComposeError(
        "Docker with the compose plugin is needed for `make up` (not found here). "
        "Without Docker, `make demo` runs the same Prometheus + Alertmanager as local processes."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpuwatch-compose", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("up", "down", "secrets"))
    parser.add_argument(
        "--demo",
        action="store_true",
        help="scrape the local demo exporters (compose/prometheus/demo-targets)",
    )
    args = parser.parse_args(argv)
    try:
        if args.action == "secrets":
            for line in prepare_secrets(demo=args.demo):
                print(line)
            return 0
        cmd = docker_compose_command() + ["-f", str(COMPOSE_FILE)]
        if args.action == "up":
            for line in prepare_secrets(demo=args.demo):
                print(line)
        env = dict(os.environ)
        if args.action == "up":
            if args.demo:
                env["GPUWATCH_TARGETS_DIR"] = "./prometheus/demo-targets"
            cmd += ["up", "-d", "--wait"]
        else:
            cmd += ["down"]
        print("+ " + " ".join(cmd))
        code = subprocess.run(cmd, env=env).returncode
        if code == 0 and args.action == "up":
            bind = env.get("GPUWATCH_BIND_ADDRESS", "127.0.0.1")
            print(
                f"Prometheus   http://{bind}:9090\nAlertmanager http://{bind}:9093\nGrafana      http://{bind}:3001"
            )
        return code
    except ComposeError as exc:
        print(f"gpuwatch-compose: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
