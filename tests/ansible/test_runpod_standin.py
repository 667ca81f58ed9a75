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
