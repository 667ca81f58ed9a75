"""compose/docker-compose.yml: valid against the compose-spec schema, and consistent with itself,
the repository and the Prometheus config (no Docker engine here, so this is the check)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from stackfiles import COMPOSE_DIR, bind_mounts, compose, compose_raw, interpolate, named_volumes  # noqa: F401 (fixtures)

ROOT = COMPOSE_DIR.parent
SCHEMA = ROOT / "tests" / "fixtures" / "compose-spec" / "compose-spec.json"
SERVICES = ("prometheus", "alertmanager", "grafana")
# Host port each service publishes, and the port its program listens on inside the container.
PORTS = {"prometheus": (9090, 9090), "alertmanager": (9093, 9093), "grafana": (3001, 3000)}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA.read_text())


def test_compose_file_is_valid_against_compose_spec(compose_raw, compose, schema):
    validator = jsonschema.Draft7Validator(schema)
    for doc in (compose_raw, compose):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file(compose, schema):
    """The schema check has teeth: an unknown key and a wrong type are both reported."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["prometheus"]["restartt"] = "always"
    broken["services"]["grafana"]["ports"] = "3001:3000"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(broken))
    assert len(errors) >= 2


def test_interpolation_with_every_variable_set(compose_raw, schema):
    env = {
        "GPUWATCH_BIND_ADDRESS": "0.0.0.0",
        "PROMETHEUS_RETENTION_TIME": "90d",
        "PROMETHEUS_RETENTION_SIZE": "200GB",
        "GPUWATCH_TARGETS_DIR": "./prometheus/demo-targets",
        "GRAFANA_ADMIN_PASSWORD_FILE": "/srv/secrets/grafana",
    }
    doc = interpolate(compose_raw, env)
    jsonschema.Draft7Validator(schema).validate(doc)
    prom = doc["services"]["prometheus"]
    assert "--storage.tsdb.retention.time=90d" in prom["command"]
    assert "0.0.0.0:9090:9090" in prom["ports"]
    assert doc["secrets"]["grafana_admin_password"]["file"] == "/srv/secrets/grafana"


def test_services_pinned_restarting_healthchecked(compose):
    assert set(compose["services"]) == set(SERVICES)
    for name, svc in compose["services"].items():
        image, _, tag = svc["image"].rpartition(":")
        assert image and tag and tag != "latest" and re.search(r"\d", tag), (
            f"{name}: image {svc['image']} is not pinned"
        )
        assert svc.get("restart") in ("unless-stopped", "always"), name
        check = svc.get("healthcheck", {})
        assert check.get("test") and check.get("interval") and check.get("retries"), f"{name}: no healthcheck"


def _major_minor(version: str) -> str:
    """``v3.5.3`` / ``3.5.3+ds1-6`` / ``0.33`` -> ``3.5`` / ``0.33``."""
    m = re.match(r"v?(\d+)\.(\d+)", version)
    assert m, version
    return f"{m.group(1)}.{m.group(2)}"


def test_pins_are_the_versions_the_tests_run(compose_raw):
    """compose/ pins the Prometheus and Alertmanager that the e2e test and the config tests run
    (the sid version root's), Grafana 12; gpuwatch-rules compiles for the pinned Alertmanager."""
    from conftest import require_root
    from stackfiles import PINNED_ROOT

    from gpuwatch.rules.cli import cli

    raw = compose_raw["services"]
    tags = {name: svc["image"].rpartition(":")[2] for name, svc in raw.items()}
    assert raw["grafana"]["image"].startswith("grafana/grafana:") and _major_minor(
        tags["grafana"]
    ).startswith("12.")
    root = require_root(PINNED_ROOT)
    for service, package in (("prometheus", "prometheus"), ("alertmanager", "prometheus-alertmanager")):
        tested = root.version(package)
        assert tested and _major_minor(tags[service]) == _major_minor(tested), (
            f"compose pins {service} {tags[service]}, the tests run {tested} ({root})"
        )
    defaults = {
        p.default for c in cli.commands.values() for p in c.params if p.name == "alertmanager_version"
    }
    assert defaults == {_major_minor(tags["alertmanager"])}, defaults


def test_ports_match_what_each_program_listens_on(compose):
    published = []
    for name, (host_port, container_port) in PORTS.items():
        svc = compose["services"][name]
        assert svc["ports"] == [f"127.0.0.1:{host_port}:{container_port}"], name
        published.append(host_port)
        health = " ".join(svc["healthcheck"]["test"])
        assert f"localhost:{container_port}/" in health, (
            f"{name}: healthcheck does not probe :{container_port}"
        )
        listen = [a for a in svc.get("command", []) if a.startswith("--web.listen-address=")]
        if listen:
            assert listen == [f"--web.listen-address=:{container_port}"], name
    assert len(set(published)) == len(published)


def test_prometheus_keeps_history_on_a_named_volume_with_retention(compose):
    prom = compose["services"]["prometheus"]
    cmd = prom["command"]
    tsdb = [a.split("=", 1)[1] for a in cmd if a.startswith("--storage.tsdb.path=")]
    assert tsdb == ["/prometheus"]
    assert ("prometheus-data", "/prometheus") in named_volumes(prom)
    assert any(a.startswith("--storage.tsdb.retention.time=") and a.split("=", 1)[1] for a in cmd)
    am = compose["services"]["alertmanager"]
    assert "--cluster.listen-address=" in am["command"]
    assert any(a == "--storage.path=/alertmanager" for a in am["command"])
    assert ("alertmanager-data", "/alertmanager") in named_volumes(am)


def test_named_volumes_declared_and_used(compose):
    used = {v for svc in compose["services"].values() for v, _ in named_volumes(svc)}
    assert used == set(compose["volumes"]), "every named volume is declared once and used"


def test_every_mounted_path_exists_in_the_repository(compose):
    """Bind mounts point at files this repository ships (or generates and commits).

    compose/secrets/ is the exception: git-ignored, created by `make up`."""
    for name, svc in compose["services"].items():
        for host, container, read_only in bind_mounts(svc):
            assert read_only, f"{name}: {host} mounted writable"
            if "secrets" in host.relative_to(ROOT).parts:
                continue
            assert host.exists(), (
                f"{name}: mounts {host.relative_to(ROOT)} at {container}, which does not exist"
            )
    config_files = {
        "prometheus": COMPOSE_DIR / "prometheus" / "prometheus.yml",
        "alertmanager": COMPOSE_DIR / "generated" / "alertmanager" / "alertmanager.yml",
    }
    for name, path in config_files.items():
        hosts = [h for h, _, _ in bind_mounts(compose["services"][name])]
        assert path in hosts, f"{name} does not mount {path}"
    rules = list((COMPOSE_DIR / "generated" / "prometheus" / "rules").glob("*.yml"))
    assert rules, "compose/generated/prometheus/rules has no rule files"


def test_secrets_come_from_git_ignored_files_never_defaults(compose):
    grafana = compose["services"]["grafana"]
    env = grafana["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env, "no Grafana password in the compose file"
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "grafana_admin_password" in grafana["secrets"]
    for key, spec in compose["secrets"].items():
        path = (COMPOSE_DIR / spec["file"]).resolve()
        assert path.relative_to(COMPOSE_DIR / "secrets"), key
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT)
        assert ignored.returncode == 0, f"{path} is not git-ignored"
    for host, container, _ in bind_mounts(compose["services"]["alertmanager"]):
        if container == "/etc/alertmanager/secrets":
            assert host == COMPOSE_DIR / "secrets" / "alertmanager"
            break
    else:
        pytest.fail("alertmanager does not mount compose/secrets/alertmanager")
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"(?i)password|secret|token|api_?key", key):
                assert key.endswith("__FILE"), f"{name}: {key}={value!r} puts a secret in the compose file"


def test_alertmanager_secret_files_live_under_the_mounted_folder():
    from gpuwatch.localstack.compose import alertmanager_secret_files

    am = COMPOSE_DIR / "generated" / "alertmanager" / "alertmanager.yml"
    for name in alertmanager_secret_files(am):
        assert name.startswith("/etc/alertmanager/secrets/"), (
            f"{am}: {name} is not under the mounted secrets folder"
        )


def test_grafana_provisioning_points_at_mounted_dashboards_and_prometheus(compose):
    grafana = compose["services"]["grafana"]
    mounts = {container: host for host, container, _ in bind_mounts(grafana)}
    prov = mounts["/etc/grafana/provisioning"]
    providers = []
    for f in sorted((prov / "dashboards").glob("*.y*ml")):
        providers += yaml.safe_load(f.read_text()).get("providers", [])
    assert providers, "no dashboard provider in grafana/provisioning/dashboards"
    for p in providers:
        path = p["options"]["path"]
        host = next(
            (h / Path(path).relative_to(c) for c, h in mounts.items() if Path(path).is_relative_to(c)), None
        )
        assert host is not None, f"dashboard provider path {path} is not mounted"
        assert list(host.glob("*.json")), f"no dashboards in {host} (provider path {path})"
    sources = []
    for f in sorted((prov / "datasources").glob("*.y*ml")):
        sources += yaml.safe_load(f.read_text()).get("datasources", [])
    prom = [s for s in sources if s.get("type") == "prometheus"]
    assert prom and all(s.get("uid") for s in prom), "Prometheus datasource with a fixed uid"
    urls = {interpolate(s["url"], grafana["environment"]) for s in prom}
    assert urls == {"http://prometheus:9090"}, urls


def test_demo_target_lists_are_file_sd_documents():
    for path in sorted((COMPOSE_DIR / "prometheus" / "demo-targets").glob("*.json")):
        groups = json.loads(path.read_text())
        for g in groups:
            assert g["targets"] and all(re.fullmatch(r"[\w.-]+:\d+", t) for t in g["targets"]), path
            labels = g["labels"]
            assert {"pod", "role"} <= set(labels), path
            if path.name.startswith("gpuwatch-gpu"):
                assert labels.get("node"), f"{path}: GPU targets carry the Slurm node name"
            else:
                assert "node" not in labels, f"{path}: no node label on the Slurm exporter target"


def test_make_up_without_docker_says_so(tmp_path):
    """`make up` on a machine without Docker: exit 2 and a message naming what is missing."""
    env_path = tmp_path / "bin"
    env_path.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "gpuwatch.localstack.compose", "up"],
        env={**os.environ, "PATH": str(env_path)},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert "Docker with the compose plugin is needed" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_demo_compose_mode_serves_the_static_target_list():
    """`make demo` with --compose puts its exporters where demo-targets/ points Prometheus."""
    from gpuwatch.localstack.demo import COMPOSE_PORTS

    listed = {}
    for path in sorted((COMPOSE_DIR / "prometheus" / "demo-targets").glob("*.json")):
        for group in json.loads(path.read_text()):
            for target in group["targets"]:
                host, port = target.rsplit(":", 1)
                assert host == "host.docker.internal"
                listed[group["labels"].get("node", "slurm")] = int(port)
    assert listed == COMPOSE_PORTS


def test_every_compose_variable_is_documented():
    """Each ${VAR} the compose file reads is named in docs/stack-and-demo.md."""
    text = (COMPOSE_DIR / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    section = (ROOT / "docs" / "stack-and-demo.md").read_text()
    missing = sorted(v for v in used if f"`{v}`" not in section)
    assert used and not missing, f"compose variables not documented in docs/stack-and-demo.md: {missing}"
