"""RunPod provisioning that is safe in a shared account and at scale (issue 13), with real
ansible-playbook runs against the stand-in: deployments side by side, lost create answers, a 429
storm, a pod in each status, no availability, Instant Clusters.

Each playbook run costs a few seconds, so scenarios share runs where that stays honest.
"""

from __future__ import annotations

import json
import time

import pytest
from playbook_runner import ANSIBLE_DIR
from runpod_standin import SPEC, RunpodStandin
from test_runpod_pods import API_KEY, OWN_SECRET, PROBE, run, ssh_key  # noqa: F401 (fixture)

pytestmark = pytest.mark.ansible

PROVISION = ANSIBLE_DIR / "provision.yml"
TEARDOWN = ANSIBLE_DIR / "teardown.yml"


@pytest.fixture
def api():
    with RunpodStandin(API_KEY, start_s=0.2, run_s=0.3) as standin:
        yield standin


def flat(text: str) -> str:
    return " ".join(text.split())


def dep_of(tmp_path, state: str) -> str:
    return json.loads((tmp_path / "state" / state).read_text())["deployment_id"]


def owned(api, dep: str) -> list[dict]:
    return [p for p in api.live_pods() if p["env"].get("GPUWATCH_DEPLOYMENT") == dep]


def touched(api, pod_ids) -> list:
    """Requests that acted on one of these pods (actions, deletes, patches)."""
    return [r for r in api.state.requests if r.method != "GET" and any(i in r.path for i in pod_ids)]


def test_two_deployments_lost_create_answers_and_a_429_storm(api, tmp_path, ssh_key):
    # Someone's pod named exactly like this cluster's old head name, with no deployment id.
    stranger = api.add_pod("gw-test-head")

    # Deployment A: its first create takes effect and answers 500, its second takes effect and
    # the connection drops. Each is found by listing (id + name), never created twice.
    api.state.create_faults = ["500", "drop"]
    a1 = run(PROVISION, api, tmp_path, ssh_key, name="a-provision", state="a.json")
    assert a1.rc == 0, a1.out[-4000:]
    dep_a = dep_of(tmp_path, "a.json")
    assert len(api.requests("POST", "/v2/pods")) == 2
    pods_a = owned(api, dep_a)
    assert sorted(p["name"] for p in pods_a) == [f"gw-test-head-{dep_a}", f"gw-test-worker-1-{dep_a}"]
    assert "2 lost create answers recovered" in flat(a1.out)
    assert "POST /pods: HTTP 500; the pod had been created" in flat(a1.out)
    assert "POST /pods: no answer" in flat(a1.out) and "no longer exists" not in a1.out
    assert f"left alone: gw-test-head ({stranger['id']}, RUNNING)" in flat(a1.out)

    # Deployment B: same cluster name, its own state file, during a 429 storm with headers.
    api.state.storm_429 = 3
    before = len(api.state.requests)
    b1 = run(PROVISION, api, tmp_path, ssh_key, name="b-provision", state="b.json")
    assert b1.rc == 0, b1.out[-4000:]
    dep_b = dep_of(tmp_path, "b.json")
    assert dep_b != dep_a
    assert "3 rate-limit answers (429) honoured (3.0 s waited)" in flat(b1.out)
    assert [r.status for r in api.state.requests[before : before + 3]] == [429, 429, 429]
    assert len(owned(api, dep_b)) == 2 and len(api.requests("POST", "/v2/pods")) == 4
    for pod in pods_a:  # A's pods reported with name, id and status, and never touched
        assert f"{pod['name']} ({pod['id']}, RUNNING)" in flat(b1.out)
    assert not touched(api, [p["id"] for p in pods_a] + [stranger["id"]])

    # B's teardown deletes B's pods only.
    b2 = run(TEARDOWN, api, tmp_path, ssh_key, name="b-teardown", state="b.json")
    assert b2.rc == 0, b2.out[-4000:]
    assert owned(api, dep_b) == [] and len(owned(api, dep_a)) == 2
    assert not touched(api, [p["id"] for p in pods_a] + [stranger["id"]])
    assert not (tmp_path / "state" / "b.json").exists()

    # A's state file is lost: recovered with -e runpod_pods_deployment_id; the stranger survives.
    (tmp_path / "state" / "a.json").unlink()
    a2 = run(
        TEARDOWN,
        api,
        tmp_path,
        ssh_key,
        "-e",
        f"runpod_pods_deployment_id={dep_a}",
        name="a-teardown",
        state="a-recovered.json",
    )
    assert a2.rc == 0, a2.out[-4000:]
    assert [p["id"] for p in api.live_pods()] == [stranger["id"]]
    assert not touched(api, [stranger["id"]])


def test_every_pod_status(api, tmp_path, ssh_key):
    # An earlier run of deployment "status01" left pods in every state the API reports.
    dep = "status01"
    env = {"GPUWATCH_DEPLOYMENT": dep, "HF_TOKEN": OWN_SECRET}
    seeded = {
        "RUNNING": api.add_pod(f"gw-test-head-{dep}", env=env),
        "EXITED": api.add_pod(f"gw-test-worker-1-{dep}", status="EXITED", env=env),
        "ERROR": api.add_pod(f"gw-test-worker-2-{dep}", status="ERROR", env=env),
        "PROVISIONING": api.add_pod(f"gw-test-worker-3-{dep}", status="PROVISIONING", env=env),
        "STARTING": api.add_pod(f"gw-test-worker-4-{dep}", status="STARTING", env=env),
    }
    args = ("-e", "runpod_pods_worker_count=4", "-e", f"runpod_pods_deployment_id={dep}")
    ok = run(PROVISION, api, tmp_path, ssh_key, *args, name="statuses")
    assert ok.rc == 0, ok.out[-4000:]
    assert not api.requests("POST", "/v2/pods")
    started = sorted(r.path for r in api.requests("POST", r"/v2/pods/.*/action"))
    assert started == sorted(f"/v2/pods/{seeded[s]['id']}/action" for s in ("EXITED", "ERROR"))
    assert all(api.state.pods[p["id"]]["status"] == "RUNNING" for p in seeded.values())
    assert "started 2" in flat(ok.out)

    # A pod that falls back into ERROR after its start, and one that ends TERMINATED: the run
    # fails at once, naming pod, id and status.
    for dep, fate, status in (("errorpod", "ERROR", "ERROR"), ("terminat", "TERMINATED", "STARTING")):
        env = {"GPUWATCH_DEPLOYMENT": dep}
        # (held for two reads: it ends TERMINATED while the run waits, not before it looks)
        bad = api.add_pod(f"gw-test-head-{dep}", status=status, fate=fate, env=env, hold_reads=2)
        api.add_pod(f"gw-test-worker-1-{dep}", env=env)
        t0 = time.monotonic()
        failed = run(
            PROVISION,
            api,
            tmp_path,
            ssh_key,
            "-e",
            f"runpod_pods_deployment_id={dep}",
            name=f"fate-{dep}",
            state=f"{dep}.json",
        )
        assert failed.rc != 0
        assert time.monotonic() - t0 < 60
        said = "ERROR again after a start" if fate == "ERROR" else "TERMINATED"
        assert f"pods that will not run: gw-test-head-{dep} ({bad['id']}, {said})" in flat(failed.out)
    assert not api.requests("POST", "/v2/pods")


def test_no_availability_fails_fast_and_creates_nothing(api, tmp_path, ssh_key):
    # The GPU type is in stock only where global networking is not offered.
    api.state.stock = {"CA-MTL-1": {"NVIDIA GeForce RTX 4090": ("HIGH", 8)}}
    t0 = time.monotonic()
    out = run(PROVISION, api, tmp_path, ssh_key, name="noavail")
    assert out.rc != 0
    assert time.monotonic() - t0 < 30
    assert (
        "no global-networking data centers report SECURE availability of NVIDIA GeForce RTX 4090 x1 for POD"
        in flat(out.out)
    )
    assert not api.requests("POST") and not api.live_pods()
    gpus = api.requests("GET", "/v2/catalog/gpus")
    assert [r.query for r in gpus] == ["include=AVAILABILITY&product=POD&count=1&cloud=SECURE"]
    assert [r.query for r in api.requests("GET", "/v2/catalog/datacenters")] == ["include=GPU_AVAILABILITY"]


def test_cluster_mode_twice_and_teardown_of_its_own_cluster(api, tmp_path, ssh_key):
    probe = tmp_path / "inventory.json"
    training = (
        "-e",
        "runpod_pods_mode=cluster",
        "-e",
        "runpod_pods_worker_count=2",
        "-e",
        f"probe_out={probe}",
    )
    # The create takes effect and answers 500: found by listing, one cluster.
    api.state.create_faults = ["500"]
    first = run(PROBE, api, tmp_path, ssh_key, *training, name="cluster1", state="a.json")
    assert first.rc == 0, first.out[-4000:]
    dep_a = dep_of(tmp_path, "a.json")
    creates = api.requests("POST", "/v2/clusters")
    assert len(creates) == 1 and len(api.live_clusters()) == 1
    body = creates[0].body
    assert SPEC.errors("CreateClusterRequest", body) == []
    assert body["name"] == f"gw-test-{dep_a}" and body["type"] == "TRAINING"
    assert body["compute"] == {"gpuTypeId": "NVIDIA GeForce RTX 4090", "gpuCountPerPod": 1, "podCount": 3}
    assert "globalNetworking" not in body and body["startSsh"] is True
    assert body["env"]["GPUWATCH_DEPLOYMENT"] == dep_a
    # Clusters need no global networking: the best data center for CLUSTER stock comes first.
    assert body["dataCenterIds"][0] in ("US-KS-2", "CA-MTL-1")
    assert any("product=CLUSTER" in r.query for r in api.requests("GET", "/v2/catalog/gpus"))
    cluster_a = api.live_clusters()[0]
    kept = json.loads((tmp_path / "state" / "a.json").read_text())
    assert kept["cluster"]["id"] == cluster_a["id"]
    inv = json.loads(probe.read_text())
    members = {p["name"]: p for p in api.live_pods() if p.get("cluster")}
    assert len(inv["compute"]) == 3 and inv["managed"] == []
    head = inv["controller"][0]
    assert members[head]["cluster"]["rank"] == 0
    for name, hv in inv["hosts"].items():  # Slurm talks over the overlay network
        assert hv["runpod_internal_dns"] == members[name]["cluster"]["ip"]
        assert hv["ansible_port"] == members[name]["ssh"]["direct"]["port"]
    # Member pods are listed only with includeClusterPods=true.
    assert all("includeClusterPods=true" in r.query for r in api.requests("GET", "/v2/pods"))

    second = run(PROBE, api, tmp_path, ssh_key, *training, name="cluster2", state="a.json")
    assert second.rc == 0, second.out[-4000:]
    assert second.recap["localhost"]["changed"] == 0, second.changed_tasks()
    assert len(api.requests("POST")) == 1

    # A second deployment, same cluster name: a SLURM cluster (RunPod's managed Slurm).
    slurm = (
        "-e",
        "runpod_pods_mode=cluster",
        "-e",
        "runpod_pods_cluster_type=SLURM",
        "-e",
        f"probe_out={probe}",
    )
    b1 = run(PROBE, api, tmp_path, ssh_key, *slurm, name="slurm1", state="b.json")
    assert b1.rc == 0, b1.out[-4000:]
    assert f"gw-test-{dep_a} ({cluster_a['id']}, CLUSTER TRAINING)" in flat(b1.out)
    inv = json.loads(probe.read_text())
    assert len(inv["managed"]) == 2 and sorted(inv["compute"]) == inv["managed"]
    ctl = inv["controller"][0]
    by_name = {p["name"]: p for p in api.live_pods() if p.get("cluster")}
    assert by_name[ctl]["cluster"]["role"] == "SLURM_CONTROLLER"
    assert inv["hosts"][ctl]["gpuwatch_exporters_slurm_conf"] == "/etc/slurm/slurm.conf"
    cluster_b = next(c for c in api.live_clusters() if c["id"] != cluster_a["id"])

    # A's teardown deletes A's cluster only.
    down = run(
        TEARDOWN, api, tmp_path, ssh_key, "-e", "runpod_pods_mode=cluster", name="cdown", state="a.json"
    )
    assert down.rc == 0, down.out[-4000:]
    assert [r.path for r in api.requests("DELETE")] == [f"/v2/clusters/{cluster_a['id']}"]
    assert [c["id"] for c in api.live_clusters()] == [cluster_b["id"]]
    assert "terminated 0 pod(s) and 1 cluster(s)" in flat(down.out)
    down_b = run(TEARDOWN, api, tmp_path, ssh_key, name="cdown-b", state="b.json")
    assert down_b.rc == 0, down_b.out[-4000:]
    assert api.live_clusters() == [] and api.live_pods() == []
