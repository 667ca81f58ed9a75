"""The reconciler module of role runpod_pods called directly (no ansible-playbook, well under a
second each) against the stand-in: rate-limit header parsing, a quota window honoured before any
429, and a state file from before deployment ids adopted instead of duplicated."""

from __future__ import annotations

import email.utils
import importlib.util
import json
import time

import pytest
from playbook_runner import ANSIBLE_DIR
from runpod_standin import RunpodStandin

KEY = "rpa_RECONCILE_" + "3c" * 12
MODULE = ANSIBLE_DIR / "roles" / "runpod_pods" / "library" / "runpod_pods_reconcile.py"
_spec = importlib.util.spec_from_file_location("runpod_pods_reconcile", MODULE)
rec = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rec)


def params(api, tmp_path, **over):
    base = dict(
        api_url=api.url + "/v2",
        api_key=KEY,
        cluster_name="gw-unit",
        state_file=str(tmp_path / "state.json"),
        worker_count=1,
        image="runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404",
        gpu_type="NVIDIA GeForce RTX 4090",
        ports=["22/tcp"],
        public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench gw",
        poll_interval=0.05,
        wait_timeout=30,
        backoff_base=0.05,
    )
    base.update(over)
    return base


def test_rate_limit_headers():
    assert rec.parse_rate_limit('"minute";r=0;t=12, "hour";r=2800;t=1812') == [
        {"name": "minute", "r": 0, "t": 12},
        {"name": "hour", "r": 2800, "t": 1812},
    ]
    assert rec.wait_from_headers({"Retry-After": "7", "RateLimit": '"minute";r=0;t=12'}) == 7
    # No Retry-After: the longest reset among exhausted windows.
    assert rec.wait_from_headers({"RateLimit": '"minute";r=0;t=12, "hour";r=0;t=30, "day";r=5;t=99'}) == 30
    assert rec.wait_from_headers({"RateLimit": '"minute";r=3;t=12'}) is None
    assert rec.wait_from_headers({}) is None


def test_an_exhausted_window_pauses_before_the_next_request(tmp_path):
    with RunpodStandin(KEY, start_s=0, run_s=0, rate_limit=(3, 1.0)) as api:
        api_client = rec.Api(api.url + "/v2", KEY, backoff_base=0.05)
        t0 = time.monotonic()
        for _ in range(7):
            api_client.call("GET", "/pods")
        took = time.monotonic() - t0
    # 7 requests at 3 per 1 s window: two window resets waited out, not a single 429 needed.
    assert api.state.too_many == 0
    assert api_client.stats["quota_pauses"] >= 2 and took >= 1.5
    assert api_client.stats["requests"] == 7


def test_legacy_state_file_pods_are_adopted_not_duplicated(tmp_path):
    with RunpodStandin(KEY, start_s=0, run_s=0) as api:
        head = api.add_pod("gw-unit-head")
        worker = api.add_pod("gw-unit-worker-1")
        (tmp_path / "state.json").write_text(
            json.dumps(
                {
                    "pods": [
                        {"id": head["id"], "name": head["name"]},
                        {"id": worker["id"], "name": worker["name"]},
                    ]
                }
            )
        )
        out = rec.reconcile(params(api, tmp_path))
        assert [p["id"] for p in out["pods"]] == [head["id"], worker["id"]]
        assert out["pods"][0]["role"] == "head" and not api.requests("POST")
        kept = json.loads((tmp_path / "state.json").read_text())
        assert kept["deployment_id"] == out["deployment_id"]
        # ... and teardown deletes them by their recorded ids.
        rec.reconcile(params(api, tmp_path, state="absent"))
        assert api.live_pods() == [] and not (tmp_path / "state.json").exists()


def test_mismatched_deployment_id_is_refused(tmp_path):
    (tmp_path / "state.json").write_text(json.dumps({"deployment_id": "abcd1234", "pods": []}))
    with RunpodStandin(KEY) as api, pytest.raises(rec.RunpodError, match="belongs to deployment abcd1234"):
        rec.reconcile(params(api, tmp_path, deployment_id="ffff0000"))


def test_retry_after_as_an_http_date():
    # RFC 9110 allows a date; a proxy in front of the API may send one instead of seconds.
    soon = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 17 <= rec.wait_from_headers({"Retry-After": soon}) <= 20
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert rec.wait_from_headers({"Retry-After": past}) == 0
    # Unparseable: fall back to the RateLimit header, else to backoff (None).
    assert rec.wait_from_headers({"Retry-After": "soon", "RateLimit": '"minute";r=0;t=9'}) == 9
    assert rec.wait_from_headers({"Retry-After": "soon"}) is None


def test_cluster_create_answered_500_before_members_are_listed_is_not_duplicated(tmp_path):
    # The create took effect, its answer was a 500, and RunPod lists no member pod yet: the cluster
    # is found by its name (which carries the deployment id) and adopted, not created again.
    with RunpodStandin(KEY, start_s=0, run_s=0, create_faults=["500"], members_after_s=0.5) as api:
        out = rec.reconcile(params(api, tmp_path, mode="cluster", pod_count=2))
        assert len(api.requests("POST", "/v2/clusters")) == 1 and len(api.live_clusters()) == 1
        assert out["api"]["create_recoveries"] == 1 and len(out["pods"]) == 2
        # A rerun changes nothing.
        again = rec.reconcile(params(api, tmp_path, mode="cluster", pod_count=2))
        assert not again["changed"] and len(api.requests("POST", "/v2/clusters")) == 1


def test_teardown_after_a_lost_state_file_finds_a_cluster_whose_members_are_not_listed_yet(tmp_path):
    with RunpodStandin(KEY, start_s=0, run_s=0) as api:
        out = rec.reconcile(params(api, tmp_path, mode="cluster", pod_count=2))
        dep = out["deployment_id"]
        # Another deployment's cluster of the same cluster name stays.
        other = tmp_path / "other"
        other.mkdir()
        rec.reconcile(params(api, other, mode="cluster", pod_count=2))
        (tmp_path / "state.json").unlink()
        api.state.members_after_s = 30
        for c in api.live_clusters():
            c["_members_at"] = time.monotonic() + 30  # members hidden from the listing for now
        gone = rec.reconcile(params(api, tmp_path, state="absent", deployment_id=dep))
        assert [d["kind"] for d in gone["deleted"]] == ["cluster"]
        assert [c["name"] for c in api.live_clusters()] != [] and all(
            not c["name"].endswith(dep) for c in api.live_clusters()
        )


def test_a_corrupted_state_file_stops_teardown_and_says_how_to_recover(tmp_path):
    (tmp_path / "state.json").write_text('{"deployment_id": "abcd1234", "pods": [{"id": "p1", "na')
    with RunpodStandin(KEY) as api:
        with pytest.raises(
            rec.RunpodError, match=r"not JSON.*runpod_pods_deployment_id=ID \(deployment abcd1234\)"
        ):
            rec.reconcile(params(api, tmp_path, state="absent"))
        assert not api.requests("DELETE")
    # The file is left as it was (nothing half-written).
    assert (tmp_path / "state.json").read_text().endswith('"na')


def test_a_create_that_lands_after_its_answer_was_lost_is_not_duplicated(tmp_path):
    # No answer, and the upstream is still at work: the pod is listed only 0.3 s later. The
    # reconciler waits its backoff before it looks, so the look finds it and nothing is created twice.
    with RunpodStandin(KEY, start_s=0, run_s=0, create_faults=["late"]) as api:
        out = rec.reconcile(params(api, tmp_path, worker_count=0, backoff_base=0.8))
        assert len(api.requests("POST", "/v2/pods")) == 1 and len(api.live_pods()) == 1
        assert out["api"]["create_recoveries"] == 1


@pytest.mark.parametrize(
    "content",
    ['{"deployment_id": 7}', '{"pods": "p1"}', '{"pods": [{"name": "x"}]}', '{"cluster": "c1"}', "[1]"],
)
def test_a_state_file_of_the_wrong_shape_is_refused_with_one_message(tmp_path, content):
    (tmp_path / "state.json").write_text(content)
    with RunpodStandin(KEY) as api:
        for state in ("present", "absent"):
            with pytest.raises(
                rec.RunpodError, match="state.json: (not a runpod_pods state file|expected a JSON)"
            ):
                rec.reconcile(params(api, tmp_path, state=state))
        assert not [r for r in api.state.requests if r.method != "GET"]


def test_an_unreachable_api_is_one_message_not_a_traceback(tmp_path):
    from gpuwatch.localstack.procs import free_port

    url = f"http://127.0.0.1:{free_port()}/v2"
    for state in ("present", "absent"):
        with pytest.raises(rec.RunpodError, match=r"RunPod API GET /pods: no answer .* after 2 retries"):
            rec.reconcile(
                dict(
                    api_url=url,
                    api_key=KEY,
                    cluster_name="gw-unit",
                    state_file=str(tmp_path / "state.json"),
                    deployment_id="abcd1234",
                    api_retries=2,
                    backoff_base=0.01,
                    state=state,
                )
            )
