"""provision.yml / teardown.yml (role runpod_pods) against a local RunPod v2 API stand-in.

No RunPod account is reachable from here: the stand-in follows the published OpenAPI document
(tests/fixtures/runpod/openapi-v2.json), checks the bearer token and the request bodies, and
records every request so the tests can assert exactly what the playbooks asked for.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import require_programs
from playbook_runner import ANSIBLE_DIR, ROOT, playbook
from runpod_standin import SPEC, RunpodStandin

pytestmark = pytest.mark.ansible

API_KEY = "rpa_TESTKEY_" + "9f3c2a7d41e8b6" * 2  # must never show up in any output
# Secrets in pods' environments (GET /v2/pods returns every pod's env): never in any output either.
FOREIGN_SECRET = "jupyter-" + "4be1d9c0a7f3" * 2
OWN_SECRET = "hf_" + "Zq8Lw3Nx5Rt7" * 2
PROBE = ROOT / "tests" / "ansible" / "playbooks" / "provision_probe.yml"


@pytest.fixture
def ssh_key(tmp_path):
    require_programs("ssh-keygen")
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "gpuwatch-test", "-f", str(key)],
        check=True,
    )
    return key


@pytest.fixture
def api():
    with RunpodStandin(API_KEY) as standin:
        yield standin


def common_args(api, tmp_path, ssh_key, *extra, state="pods.json"):
    return (
        "-e",
        f"runpod_pods_api_url={api.url}",
        "-e",
        f"runpod_pods_ssh_public_key_file={ssh_key}.pub",
        "-e",
        f"runpod_pods_state_file={tmp_path / 'state' / state}",
        "-e",
        "runpod_pods_wait_delay=0.1",
        "-e",
        "runpod_pods_api_retry_delay=0",
        "-e",
        "gpuwatch_cluster_name=gw-test",
        *extra,
    )


def run(pb, api, tmp_path, ssh_key, *extra, key=API_KEY, name="run", state="pods.json"):
    log = tmp_path / f"{name}.log"
    result = playbook(
        pb,
        *common_args(api, tmp_path, ssh_key, *extra, state=state),
        "-vvv",
        env={"RUNPOD_API_KEY": key},
        log_path=log,
        timeout=300,
    )
    texts = [result.out, log.read_text() if log.exists() else ""]
    for kept in (tmp_path / "state").glob("*.json"):
        texts.append(kept.read_text())
    for text in texts:
        assert key not in text, f"the API key leaked into the output of {name}"
        for secret in (FOREIGN_SECRET, OWN_SECRET):
            assert secret not in text, f"a pod environment secret leaked into the output of {name}"
    return result


def assert_pods_match_schema(api):
    for pod in api.live_pods():
        errors = SPEC.errors("Pod", pod)
        assert not errors, errors


def test_provision_twice_restart_and_teardown_leave_foreign_pods(api, tmp_path, ssh_key):
    # Pods of someone else in the account, one with a name this cluster's names start with.
    foreign = api.add_pod("gw-test-head-old", env={"JUPYTER_PASSWORD": FOREIGN_SECRET})
    other = api.add_pod("training-run-7")
    own_env = ("-e", json.dumps({"runpod_pods_env": {"HF_TOKEN": OWN_SECRET}}))
    probe_out = tmp_path / "inventory.json"

    def provision(name: str):
        """The probe playbook with the head and two workers, run under ``name``."""
        args = ("-e", "runpod_pods_worker_count=2", "-e", f"probe_out={probe_out}", *own_env)
        return run(PROBE, api, tmp_path, ssh_key, *args, name=name)

    first = provision("provision1")
    assert first.rc == 0, first.out[-4000:]

    creates = api.requests("POST", "/v2/pods")
    assert len(creates) == 3
    assert all(r.authorized for r in api.state.requests)
    dep = json.loads((tmp_path / "state" / "pods.json").read_text())["deployment_id"]
    assert re.fullmatch("[a-z0-9]{8}", dep)
    names = [f"gw-test-head-{dep}", f"gw-test-worker-1-{dep}", f"gw-test-worker-2-{dep}"]
    assert sorted(r.body["name"] for r in creates) == names
    public_key = (ssh_key.parent / "id_ed25519.pub").read_text().strip()
    for r in creates:
        body = r.body
        assert SPEC.errors("CreatePodRequest", body) == []
        assert body["globalNetworking"] is True
        assert body["gpu"] == {"id": "NVIDIA GeForce RTX 4090", "count": 1}
        assert body["ports"] == ["22/tcp", "9400/http", "9341/http"]
        assert body["env"] == {"PUBLIC_KEY": public_key, "HF_TOKEN": OWN_SECRET, "GPUWATCH_DEPLOYMENT": dep}
        # Global-networking data centers with the GPU available, best first (CA-MTL-1 has the
        # most stock but no global networking).
        assert body["dataCenterIds"] == ["US-KS-2", "EU-RO-1"]
        assert body["mounts"] == {"persistent": {"size": 20, "path": "/workspace"}}
        assert body["image"].startswith("runpod/") and "ubuntu2404" in body["image"]
        assert body["startSsh"] is True  # beside PUBLIC_KEY: official images set up sshd either way
    assert not api.requests("PUT", "/v2/account/ssh-keys")
    assert (
        "placement US-KS-2, EU-RO-1 (global-networking data centers with NVIDIA GeForce RTX 4090 x1"
        in " ".join(first.out.split())
    )
    assert_pods_match_schema(api)

    inv = json.loads(probe_out.read_text())
    assert inv["controller"] == [names[0]]
    assert sorted(inv["compute"]) == names
    by_name = {p["name"]: p for p in api.live_pods()}
    for name, hv in inv["hosts"].items():
        pod = by_name[name]
        assert pod["status"] == "RUNNING"
        assert hv["runpod_pod_id"] == pod["id"]
        assert hv["ansible_host"] == pod["ssh"]["direct"]["host"]
        assert hv["ansible_port"] == pod["ssh"]["direct"]["port"]
        assert hv["runpod_internal_dns"] == f"{pod['id']}.runpod.internal"
        assert hv["runpod_pod_role"] == ("head" if name == names[0] else "compute")
        assert hv["runpod_pod_cost"] == pytest.approx(0.69)

    recorded = json.loads((tmp_path / "state" / "pods.json").read_text())
    assert sorted(p["name"] for p in recorded["pods"]) == names

    # Second run: everything exists, nothing is created, nothing reported changed.
    before = len(api.requests("POST"))
    second = provision("provision2")
    assert second.rc == 0, second.out[-4000:]
    assert len(api.requests("POST")) == before
    assert second.recap["localhost"]["changed"] == 0, second.recap

    # A stopped pod (its container disk is gone) is started again, not recreated.
    head_id = by_name[names[0]]["id"]
    api.stop_pod(head_id)
    third = provision("provision3")
    assert third.rc == 0, third.out[-4000:]
    assert len(api.requests("POST", "/v2/pods")) == 3
    assert [r.body for r in api.requests("POST", f"/v2/pods/{head_id}/action")] == [{"action": "start"}]
    assert api.state.pods[head_id]["status"] == "RUNNING"

    # Teardown: the head's first DELETE answers 503 (retried); worker-2's never succeeds, so
    # teardown fails naming it and keeps it in the record; foreign pods are never touched.
    worker2 = by_name[names[2]]
    api.state.fail_deletes[head_id] = 1
    api.state.fail_deletes[worker2["id"]] = 1000
    down = run(
        ANSIBLE_DIR / "teardown.yml",
        api,
        tmp_path,
        ssh_key,
        "-e",
        "runpod_pods_api_retries=2",
        name="teardown1",
    )
    assert down.rc != 0
    assert f"could not delete 1 pod(s): {names[2]} ({worker2['id']}, RUNNING)" in " ".join(down.out.split())
    kept = json.loads((tmp_path / "state" / "pods.json").read_text())
    assert kept["pods"] == [{"id": worker2["id"], "name": names[2]}] and kept["deployment_id"] == dep
    assert len(api.requests("DELETE", f"/v2/pods/{head_id}")) == 2

    # The next teardown finds the recorded survivor and finishes the job.
    api.state.fail_deletes[worker2["id"]] = 0
    again = run(ANSIBLE_DIR / "teardown.yml", api, tmp_path, ssh_key, name="teardown2")
    assert again.rc == 0, again.out[-4000:]
    assert f"terminated 1 pod(s) and 0 cluster(s): {names[2]}" in " ".join(again.out.split())
    deleted = sorted(r.path.rsplit("/", 1)[1] for r in api.requests("DELETE") if r.status == 204)
    cluster_ids = sorted(
        p["id"] for n, p in by_name.items() if n not in ("gw-test-head-old", "training-run-7")
    )
    assert deleted == cluster_ids
    assert sorted(p["id"] for p in api.live_pods()) == sorted([foreign["id"], other["id"]])
    assert not api.requests("DELETE", f"/v2/pods/{foreign['id']}") and not api.requests(
        "DELETE", f"/v2/pods/{other['id']}"
    )
    assert not (tmp_path / "state" / "pods.json").exists()


def test_bad_key_and_bad_data_center_fail_clearly(api, tmp_path, ssh_key):
    bad = run(
        ANSIBLE_DIR / "provision.yml", api, tmp_path, ssh_key, key="rpa_WRONG_" + "7" * 30, name="badkey"
    )
    assert bad.rc != 0
    assert "GET /pods answered HTTP 401: invalid API key" in " ".join(bad.out.split())
    assert not api.requests("POST")

    dc = run(
        ANSIBLE_DIR / "provision.yml",
        api,
        tmp_path,
        ssh_key,
        "-e",
        '{"runpod_pods_data_center_ids": ["CA-MTL-1"]}',
        name="baddc",
    )
    assert dc.rc != 0
    assert "runpod_pods_data_center_ids: CA-MTL-1 do not support global networking" in " ".join(
        dc.out.split()
    )
    assert not api.requests("POST")

    nokey = playbook(ANSIBLE_DIR / "provision.yml", *common_args(api, tmp_path, ssh_key), env={})
    assert nokey.rc != 0 and "RUNPOD_API_KEY is not set" in nokey.out
