"""The RunPod v2 stand-in itself keeps to the published OpenAPI document: status codes of pod
actions, what a stopped pod shows, and the Pod schema check on every pod it answers with.
(No Ansible here: plain HTTP requests, a second or two.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from runpod_standin import SPEC, RunpodStandin

TOKEN = "rpa_STANDIN_" + "0" * 24


def call(api, method: str, path: str, body=None, token: str = TOKEN):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        api.url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        return exc.code, json.loads(raw) if raw else None


@pytest.fixture
def api():
    with RunpodStandin(TOKEN, start_s=0, run_s=0) as standin:
        yield standin


def create(api) -> dict:
    status, pod = call(
        api,
        "POST",
        "/v2/pods",
        {
            "name": "p",
            "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
            "gpu": {"id": "NVIDIA GeForce RTX 4090", "count": 1},
            "globalNetworking": True,
            "dataCenterIds": ["US-KS-2"],
            "ports": ["22/tcp"],
        },
    )
    assert status == 201, pod
    return pod


def test_actions_follow_the_pods_valid_transitions(api):
    pod = create(api)
    assert pod["status"] == "PROVISIONING" and "start" not in pod["actions"]
    while pod["status"] != "RUNNING":
        status, pod = call(api, "GET", f"/v2/pods/{pod['id']}")
        assert status == 200
    assert pod["cost"] > 0 and pod["ssh"]["direct"]["port"] > 0
    # The document: 409 "Action not valid for current pod status".
    status, problem = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "start"})
    assert status == 409 and problem["status"] == 409 and "RUNNING" in problem["detail"]
    status, stopped = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "stop"})
    assert status == 200
    assert (stopped["status"], stopped["cost"], stopped["ssh"]["direct"]) == ("EXITED", 0.0, None)
    assert stopped["actions"] == ["start", "terminate"]
    status, problem = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "stop"})
    assert status == 409
    status, started = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "start"})
    assert status == 200 and started["status"] == "PROVISIONING"
    while started["status"] != "RUNNING":
        _, started = call(api, "GET", f"/v2/pods/{pod['id']}")
    assert started["cost"] == pod["cost"]
    status, problem = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "bogus"})
    assert status == 422 and problem["errors"]
    status, _ = call(api, "POST", f"/v2/pods/{pod['id']}/action", {"action": "terminate"})
    assert status == 204
    assert call(api, "GET", f"/v2/pods/{pod['id']}")[0] == 404


def test_every_answered_pod_is_checked_against_the_pod_schema(api):
    pod = create(api)
    assert SPEC.errors("Pod", pod) == []
    api.state.pods[pod["id"]]["status"] = "SLEEPING"  # not a PodStatus
    status, problem = call(api, "GET", "/v2/pods")
    assert status == 500 and any("SLEEPING" in e for e in problem["errors"]), problem
    status, problem = call(api, "GET", f"/v2/pods/{pod['id']}")
    assert status == 500


def test_bearer_token_is_checked(api):
    assert call(api, "GET", "/v2/pods", token="rpa_WRONG")[0] == 401
    assert [r.authorized for r in api.state.requests] == [False]


def test_rate_limit_answers_429_with_the_documents_headers():
    with RunpodStandin(TOKEN, rate_limit=(2, 30.0)) as api:
        assert call(api, "GET", "/v2/pods")[0] == 200
        assert call(api, "GET", "/v2/pods")[0] == 200
        req = urllib.request.Request(api.url + "/v2/pods", headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=10)
        exc = info.value
        assert exc.code == 429 and SPEC.errors("ErrorResponse", json.loads(exc.read())) == []
        assert 1 <= int(exc.headers["Retry-After"]) <= 30
        assert exc.headers["RateLimit"].startswith('"minute";r=0;t=')
        assert exc.headers["RateLimit-Policy"] == '"minute";q=2;w=30'


def test_catalog_needs_product_with_availability_and_answers_by_count(api):
    assert call(api, "GET", "/v2/catalog/gpus?include=AVAILABILITY")[0] == 400
    assert call(api, "GET", "/v2/catalog/gpus?product=POD")[0] == 400
    status, body = call(api, "GET", "/v2/catalog/gpus?include=AVAILABILITY&product=POD&count=8")
    assert status == 200
    rtx = next(g for g in body["gpus"] if g["id"] == "NVIDIA GeForce RTX 4090")
    assert {d["id"] for d in rtx["dataCenters"]} == {"EU-RO-1", "US-KS-2", "CA-MTL-1"}
    status, body = call(api, "GET", "/v2/catalog/gpus?include=AVAILABILITY&product=POD&count=9")
    rtx = next(g for g in body["gpus"] if g["id"] == "NVIDIA GeForce RTX 4090")
    assert rtx["availability"] == "NONE" and "dataCenters" not in rtx
    status, body = call(api, "GET", "/v2/catalog/datacenters?include=GPU_AVAILABILITY")
    assert status == 200 and all("gpuAvailability" in dc for dc in body["dataCenters"])


def test_clusters_members_listing_and_delete(api):
    body = {
        "name": "c1",
        "type": "SLURM",
        "compute": {"gpuTypeId": "NVIDIA GeForce RTX 4090", "gpuCountPerPod": 1, "podCount": 2},
        "image": "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
        "ports": ["22/tcp"],
    }
    assert call(api, "POST", "/v2/clusters", dict(body, globalNetworking=True))[0] == 422
    assert call(api, "POST", "/v2/clusters", dict(body, compute=dict(body["compute"], podCount=1)))[0] == 422
    status, cluster = call(api, "POST", "/v2/clusters", body)
    assert status == 201 and SPEC.errors("Cluster", cluster) == []
    assert call(api, "GET", "/v2/pods")[1]["pods"] == []
    members = call(api, "GET", "/v2/pods?includeClusterPods=true")[1]["pods"]
    assert sorted((p["cluster"]["rank"], p["cluster"]["role"]) for p in members) == [
        (0, "SLURM_CONTROLLER"),
        (1, "SLURM_COMPUTE"),
    ]
    assert call(api, "DELETE", f"/v2/pods/{members[0]['id']}")[0] == 409
    assert (
        call(api, "GET", f"/v2/clusters/{cluster['id']}/pods")[1]["pods"][0]["cluster"]["id"] == cluster["id"]
    )
    assert call(api, "DELETE", f"/v2/clusters/{cluster['id']}")[0] == 204
    assert call(api, "GET", "/v2/pods?includeClusterPods=true")[1]["pods"] == []
    assert call(api, "GET", f"/v2/clusters/{cluster['id']}")[0] == 404
