"""compose/prometheus/prometheus.yml through the real `promtool check config` of the Prometheus
that compose/ pins (3.5, from the sid version root), with the container paths mapped onto the
repository by the compose file's own mounts."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import require_root
from stackfiles import (  # noqa: F401 (fixtures)
    COMPOSE_DIR,
    PINNED_ROOT,
    PROMETHEUS_FILE,
    bind_mounts,
    compose,
    compose_raw,
    prometheus_config,
)

pytestmark = pytest.mark.prometheus

REMOTE_WRITE = re.compile(
    r"^# --- remote_write \(off\) -+\n(?P<body>.*?)^# --- end remote_write -+$", re.M | re.S
)


def _promtool(binds: list[Path]) -> list[str]:
    from gpuwatch.localstack.promstack import tool

    return tool(require_root(PINNED_ROOT), "promtool", binds=binds)


def mapped_config(text: str, compose: dict, tmp: Path, targets_dir: Path) -> Path:
    """Write the config with every container path replaced by the host path mounted there.

    Secrets (git-ignored, absent in a clone) become throwaway files in ``tmp``; the file_sd
    folder is ``targets_dir`` (the demo's static list, so its JSON is checked too)."""
    prom = compose["services"]["prometheus"]
    mounts = {container: host for host, container, _ in bind_mounts(prom)}
    mounts["/etc/prometheus/targets"] = targets_dir
    for secret in prom.get("secrets", []):
        name = secret if isinstance(secret, str) else secret["source"]
        fake = tmp / "secrets" / name
        fake.parent.mkdir(exist_ok=True)
        fake.write_text("not-a-real-password\n")
        mounts[f"/run/secrets/{name}"] = fake
    # Longest container path first, so /etc/prometheus/rules wins over /etc/prometheus.
    for container in sorted(mounts, key=len, reverse=True):
        text = text.replace(container, str(mounts[container]))
    live = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    leftovers = re.findall(r"(?<![\w.])/(?:etc|run|prometheus)/[^\s\"'\]]*", live)
    assert not leftovers, f"paths in prometheus.yml that no compose mount provides: {leftovers}"
    out = tmp / "prometheus.yml"
    out.write_text(text)
    return out


def promtool_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_promtool([path.parent, COMPOSE_DIR.parent]), "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_promtool_check_config_passes(compose, tmp_path):
    config = mapped_config(
        PROMETHEUS_FILE.read_text(), compose, tmp_path, COMPOSE_DIR / "prometheus" / "demo-targets"
    )
    proc = promtool_check(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr
    # promtool also loaded every compiled rule file through the glob.
    rules = sorted((COMPOSE_DIR / "generated" / "prometheus" / "rules").glob("*.yml"))
    assert rules
    for rule_file in rules:
        assert str(rule_file) in proc.stdout + proc.stderr


def test_promtool_rejects_a_broken_target_file(compose, tmp_path):
    """The check reads the file_sd files: a malformed target list fails it."""
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "gpuwatch-gpu.json").write_text(json.dumps([{"targets": "not-a-list"}]))
    config = mapped_config(PROMETHEUS_FILE.read_text(), compose, tmp_path, targets)
    proc = promtool_check(config)
    assert proc.returncode != 0
    assert "checking SD file" in proc.stdout + proc.stderr and "gpuwatch-gpu" in proc.stdout + proc.stderr


def test_remote_write_block_switches_on_cleanly(compose, tmp_path):
    """Uncommenting the documented remote_write block gives a config promtool accepts."""
    text = PROMETHEUS_FILE.read_text()
    match = REMOTE_WRITE.search(text)
    assert match, "the remote_write (off) block is missing from prometheus.yml"
    body = match.group("body")
    commented = [ln for ln in body.splitlines() if ln.startswith("# ")]
    start = next(i for i, ln in enumerate(commented) if ln.startswith("# remote_write:"))
    enabled = "\n".join(ln[2:] for ln in commented[start:]) + "\n"
    on = text.replace(body, body + enabled)
    doc = yaml.safe_load(on)
    assert doc["remote_write"][0]["basic_auth"]["password_file"] == "/run/secrets/remote_write_password"
    # The secret it names would be mounted the same way as scrape_password.
    compose = json.loads(json.dumps(compose))
    compose["services"]["prometheus"]["secrets"].append("remote_write_password")
    config = mapped_config(on, compose, tmp_path, COMPOSE_DIR / "prometheus" / "demo-targets")
    proc = promtool_check(config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # And the shipped file has it off.
    assert "remote_write" not in yaml.safe_load(text)


def test_scrape_jobs_follow_the_team_contract(prometheus_config):
    jobs = {j["job_name"]: j for j in prometheus_config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "alertmanager", "gpuwatch-gpu", "gpuwatch-slurm"}
    for name in ("gpuwatch-gpu", "gpuwatch-slurm"):
        job = jobs[name]
        assert job["scheme"] == "https"
        assert job["basic_auth"]["password_file"].startswith("/run/secrets/")
        assert "password" not in job["basic_auth"]
        files = [f for sd in job["file_sd_configs"] for f in sd["files"]]
        assert files == [f"/etc/prometheus/targets/{name}*.json"]
    assert prometheus_config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    am = prometheus_config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"] == jobs["alertmanager"]["static_configs"][0]["targets"]


def test_local_stack_config_matches_the_compose_jobs(prometheus_config, tmp_path):
    """The demo/e2e Prometheus config has the compose config's jobs and target-label rules, and
    promtool accepts it."""
    from gpuwatch.localstack.promstack import Target
    from gpuwatch.localstack.promstack import prometheus_config as local_config

    rules = tmp_path / "rules"
    rules.mkdir()
    for f in (COMPOSE_DIR / "generated" / "prometheus" / "rules").glob("*.yml"):
        (rules / f.name).write_text(f.read_text())
    local = local_config(
        scrape_interval="1s",
        evaluation_interval="1s",
        alertmanager="127.0.0.1:19093",
        rule_files=[str(rules / "*.yml")],
        gpu_targets=[Target("127.0.0.1:19400", {"node": "n1", "pod": "p1", "role": "compute"})],
        slurm_targets=[Target("127.0.0.1:19341", {"pod": "p0", "role": "head"})],
        self_address="127.0.0.1:19090",
    )
    jobs = {j["job_name"]: j for j in local["scrape_configs"]}
    assert set(jobs) == {j["job_name"] for j in prometheus_config["scrape_configs"]}
    assert "node" not in jobs["gpuwatch-slurm"]["static_configs"][0]["labels"]
    assert jobs["gpuwatch-gpu"]["static_configs"][0]["labels"]["node"] == "n1"
    path = tmp_path / "local.yml"
    path.write_text(yaml.safe_dump(local))
    proc = promtool_check(path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_local_stack_targets_carry_the_file_sd_target_labels(tmp_path):
    """The demo/e2e Prometheus labels its targets as the Ansible file_sd entries do (pod, role,
    hourly_cost_usd; node on GPU targets only): alerts and queries see the same labels."""
    from types import SimpleNamespace

    from gpuwatch.localstack.stack import GpuNode, LocalStack

    stack = LocalStack(tmp_path, gpu_nodes=[GpuNode(node="n1", scenario=tmp_path / "s.yml", port=19400)])
    stack.alertmanager = SimpleNamespace(address="127.0.0.1:19093")
    stack.slurm_exporter, stack.slurm_port = object(), 19341
    jobs = {j["job_name"]: j for j in stack._prometheus_config(19090)["scrape_configs"]}
    example = COMPOSE_DIR / "prometheus" / "targets"
    for job in ("gpuwatch-gpu", "gpuwatch-slurm"):
        want = {k for g in json.loads((example / f"{job}.json.example").read_text()) for k in g["labels"]}
        (group,) = jobs[job]["static_configs"]
        assert set(group["labels"]) == want, job


def test_promtool_accepts_the_playbook_target_files(compose, tmp_path):
    """The file_sd files in the shape ansible/site.yml writes them (the committed examples, which
    the converge test compares the playbook's output with) pass promtool's SD-file check."""
    targets = tmp_path / "targets"
    targets.mkdir()
    examples = sorted((COMPOSE_DIR / "prometheus" / "targets").glob("*.json.example"))
    assert {p.name for p in examples} == {"gpuwatch-gpu.json.example", "gpuwatch-slurm.json.example"}
    for example in examples:
        groups = json.loads(example.read_text())
        for group in groups:
            assert all(
                re.fullmatch(r"[a-z0-9]+-(9400|9341)\.proxy\.runpod\.net:443", t) for t in group["targets"]
            ), group
        (targets / example.name.removesuffix(".example")).write_text(example.read_text())
    config = mapped_config(PROMETHEUS_FILE.read_text(), compose, tmp_path, targets)
    proc = promtool_check(config)
    # promtool reads the SD files (test_promtool_rejects_a_broken_target_file shows it fails on a bad one).
    assert proc.returncode == 0, proc.stdout + proc.stderr
