"""A local stand-in for RunPod's REST API v2 pod endpoints, built from the published OpenAPI
document (tests/fixtures/runpod/openapi-v2.json).

It checks the bearer token, validates request bodies against the document's schemas
(``CreatePodRequest``, ``PodActionRequest``) plus the rules the document states in prose (exactly
one of ``gpu``/``cpu``; global networking only in data centers with ``globalNetwork``), answers
errors as RFC 9457 problem details, moves pods PROVISIONING -> STARTING -> RUNNING as they are
polled, answers 409 to an action the pod's ``actions`` do not list (as the document says), and
records every request. Every pod it returns is validated against the ``Pod`` schema (a pod that
does not match is answered as a 500 naming the mismatch), so the stand-in cannot drift from the
document silently.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "runpod" / "openapi-v2.json"

DATA_CENTERS = [
    {"id": "EU-RO-1", "name": "Europe Romania 1", "region": "EUROPE", "globalNetwork": True},
    {"id": "US-KS-2", "name": "US Kansas 2", "region": "NORTH_AMERICA", "globalNetwork": True},
    {"id": "CA-MTL-1", "name": "Canada Montreal 1", "region": "NORTH_AMERICA", "globalNetwork": False},
]


@dataclass
class Recorded:
    method: str
    path: str
    authorized: bool
    body: object | None
    status: int


@dataclass
class StandinState:
    token: str
    polls_to_start: int = 1  # GETs of a pod while PROVISIONING before it goes STARTING
    polls_to_run: int = 2  # GETs while STARTING before it goes RUNNING
    pods: dict[str, dict] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_deletes: dict[str, int] = field(default_factory=dict)  # pod id -> 503s still to answer
    lock: threading.Lock = field(default_factory=threading.Lock)


class Spec:
    def __init__(self, path: Path = SPEC_PATH):
        self.doc = json.loads(path.read_text())
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:runpod", resource)

    def validator(self, schema_name: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"urn:runpod#/components/schemas/{schema_name}"}, registry=self.registry
        )

    def errors(self, schema_name: str, instance) -> list[str]:
        out = []
        for err in self.validator(schema_name).iter_errors(instance):
            where = "/".join(str(p) for p in err.absolute_path) or "(body)"
            out.append(f"{where}: {err.message}")
        return out


SPEC = Spec()


def new_pod(body: dict, pod_id: str | None = None) -> dict:
    """A pod as GET /v2/pods/{id} shows it right after creation (PROVISIONING)."""
    pod_id = pod_id or secrets.token_hex(7)
    dcs = body.get("dataCenterIds") or ["US-KS-2"]
    return {
        "id": pod_id,
        "name": body["name"],
        "image": body.get("image", ""),
        "args": body.get("args", ""),
        "disk": body.get("disk", 50),
        "ports": body.get("ports", []),
        "env": body.get("env", {}),
        "registry": None,
        "status": "PROVISIONING",
        "actions": ["stop", "terminate"],
        "mounts": body.get("mounts", {}),
        "gpu": {"id": body["gpu"]["id"], "count": body["gpu"].get("count", 1)} if "gpu" in body else None,
        "cloud": body.get("cloud", "SECURE"),
        "dataCenterId": dcs[0],
        "cudaVersion": "12.8",
        "ssh": {"proxy": None, "direct": None},
        "template": None,
        "cost": round(0.69 * (body["gpu"].get("count", 1) if "gpu" in body else 1), 2),
        "locked": False,
        "globalNetworking": {"enabled": False},
        "runtime": None,
        "createdAt": "2026-11-30T12:00:00Z",
        "startedAt": None,
    }


def advance(state: StandinState, pod: dict) -> None:
    """One poll moves a pod along PROVISIONING -> STARTING -> RUNNING."""
    n = state.polls.get(pod["id"], 0) + 1
    state.polls[pod["id"]] = n
    if pod["status"] == "PROVISIONING" and n > state.polls_to_start:
        pod["status"] = "STARTING"
        state.polls[pod["id"]] = 0
    elif pod["status"] == "STARTING" and n > state.polls_to_run:
        run(pod)


def run(pod: dict) -> None:
    port = 20000 + int(pod["id"][:4], 16) % 40000
    ip = "203.0.113.%d" % (int(pod["id"][4:6], 16) % 250 + 1)
    pod["status"] = "RUNNING"
    pod["actions"] = ["stop", "restart", "terminate"]
    if "_cost" in pod:  # back from EXITED: billed again
        pod["cost"] = pod.pop("_cost")
    pod["ssh"]["direct"] = {
        "host": ip,
        "port": port,
        "username": "root",
        "command": f"ssh root@{ip} -p {port}",
    }
    pod["ssh"]["proxy"] = {
        "host": "ssh.example.invalid",
        "port": 22,
        "username": f"{pod['id']}-64411eb2",
        "command": f"ssh {pod['id']}-64411eb2@ssh.example.invalid",
    }
    wants_gn = pod.pop("_global_networking", False)
    if wants_gn or pod["globalNetworking"]["enabled"]:
        pod["globalNetworking"] = {
            "enabled": True,
            "ip": "10.65.%d.%d" % (int(pod["id"][:2], 16), int(pod["id"][2:4], 16)),
            "internalDns": f"{pod['id']}.runpod.internal",
        }
    pod["runtime"] = {
        "uptime": 1,
        "ports": [{"private": 22, "public": port, "type": "tcp", "ip": ip}],
    }
    pod["startedAt"] = "2026-11-30T12:02:00Z"


def stop(pod: dict) -> None:
    """A stopped pod: EXITED, no SSH mapping or runtime, costs nothing (the document: 0.0)."""
    pod["status"] = "EXITED"
    pod["actions"] = ["start", "terminate"]
    pod["ssh"]["direct"] = None
    pod["runtime"] = None
    if pod["cost"]:
        pod["_cost"] = pod["cost"]
    pod["cost"] = 0.0


def public(pod: dict) -> dict:
    """The pod as the API shows it (private bookkeeping keys dropped)."""
    out = {k: v for k, v in pod.items() if not k.startswith("_")}
    if out.get("gpu") is None:
        out.pop("gpu", None)
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "runpod-standin/1"
    state: StandinState  # set per server

    def log_message(self, *args):  # keep pytest output clean
        pass

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, status: int, payload=None, content_type="application/json"):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        return status

    def _send_pods(self, status: int, pods: list[dict], listing: bool = False):
        """Pods as the API shows them, each checked against the document's ``Pod`` schema."""
        shown = [public(p) for p in pods]
        errors = [f"pod {p.get('id')}: {e}" for p in shown for e in SPEC.errors("Pod", p)]
        if errors:
            return self._problem(500, "Stand-in Drift", "a pod does not match the Pod schema", errors)
        return self._send(status, {"pods": shown} if listing else shown[0])

    def _problem(self, status: int, title: str, detail: str, errors=None):
        body = {"title": title, "status": status, "detail": detail}
        if errors:
            body["errors"] = errors
        return self._send(status, body, "application/problem+json")

    def _handle(self, method: str):
        state = self.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        auth = self.headers.get("Authorization", "")
        authorized = auth == f"Bearer {state.token}"
        path = self.path.split("?", 1)[0]
        with state.lock:
            if not auth.startswith("Bearer "):
                status = self._problem(401, "Unauthorized", "missing bearer token")
            elif not authorized:
                status = self._problem(401, "Unauthorized", "invalid API key")
            else:
                status = self._route(method, path, body)
            state.requests.append(Recorded(method, path, authorized, body, status))

    def _route(self, method: str, path: str, body):
        state = self.state
        if method == "GET" and path == "/v2/catalog/datacenters":
            dcs = [dict(dc, networkVolumeTypes=["STANDARD"], compliance=[]) for dc in DATA_CENTERS]
            return self._send(200, {"dataCenters": dcs})
        if path == "/v2/pods":
            if method == "GET":
                pods = [p for p in state.pods.values() if p["status"] != "TERMINATED"]
                return self._send_pods(200, pods, listing=True)
            if method == "POST":
                return self._create(body)
        m = re.fullmatch(r"/v2/pods/([^/]+)(/action)?", path)
        if m:
            pod = state.pods.get(m.group(1))
            if pod is None or pod["status"] == "TERMINATED":
                return self._problem(404, "Not Found", f"pod {m.group(1)} not found")
            if m.group(2):
                if method != "POST":
                    return self._problem(405, "Method Not Allowed", "use POST")
                return self._action(pod, body)
            if method == "GET":
                advance(state, pod)
                return self._send_pods(200, [pod])
            if method == "DELETE":
                left = state.fail_deletes.get(pod["id"], 0)
                if left:
                    state.fail_deletes[pod["id"]] = left - 1
                    return self._problem(503, "Service Unavailable", "try again")
                pod["status"] = "TERMINATED"
                return self._send(204)
        return self._problem(404, "Not Found", f"no route for {method} {path}")

    def _create(self, body):
        if not isinstance(body, dict):
            return self._problem(400, "Bad Request", "body must be a JSON object")
        errors = SPEC.errors("CreatePodRequest", body)
        if errors:
            return self._problem(422, "Unprocessable Entity", "request validation failed", errors)
        if ("gpu" in body) == ("cpu" in body):
            return self._problem(400, "Bad Request", "exactly one of gpu or cpu must be set")
        if "image" not in body and "templateId" not in body:
            return self._problem(400, "Bad Request", "image is required unless templateId is set")
        if body.get("globalNetworking"):
            allowed = {dc["id"] for dc in DATA_CENTERS if dc["globalNetwork"]}
            asked = set(body.get("dataCenterIds") or [])
            if "gpu" not in body or not asked or not asked <= allowed:
                return self._problem(
                    400,
                    "Bad Request",
                    "globalNetworking needs a GPU pod and data centers that support global networking",
                )
        pod = new_pod(body)
        pod["_global_networking"] = bool(body.get("globalNetworking"))
        self.state.pods[pod["id"]] = pod
        return self._send_pods(201, [pod])

    def _action(self, pod, body):
        errors = SPEC.errors("PodActionRequest", body)
        if errors:
            return self._problem(422, "Unprocessable Entity", "request validation failed", errors)
        action = body["action"]
        if action not in pod["actions"]:
            return self._problem(
                409, "Conflict", f"action {action} is not valid for a pod in status {pod['status']}"
            )
        if action == "start":
            pod["status"] = "PROVISIONING"
            pod["actions"] = ["stop", "terminate"]
            self.state.polls[pod["id"]] = 0
        elif action == "stop":
            stop(pod)
        elif action == "restart":
            pod["status"] = "STARTING"
            pod["ssh"]["direct"] = None
            pod["runtime"] = None
            self.state.polls[pod["id"]] = 0
        elif action == "terminate":
            pod["status"] = "TERMINATED"
            return self._send(204)
        return self._send_pods(200, [pod])

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_PATCH(self):
        self._handle("PATCH")


class RunpodStandin:
    """``with RunpodStandin(token) as api:`` serves on 127.0.0.1:<free port> (``api.url``)."""

    def __init__(self, token: str, **state_kwargs):
        self.state = StandinState(token=token, **state_kwargs)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add_pod(self, name: str, running: bool = True, **fields) -> dict:
        """A pod created outside this cluster (e.g. by someone else in the account)."""
        body = {"name": name, "image": "ubuntu:24.04", "gpu": {"id": "NVIDIA A40", "count": 1}}
        pod = new_pod(body)
        pod.update(fields)
        if running:
            run(pod)
        self.state.pods[pod["id"]] = pod
        return pod

    def stop_pod(self, pod_id: str) -> None:
        """Stop a pod behind the playbook's back (what a user or RunPod does)."""
        with self.state.lock:
            stop(self.state.pods[pod_id])

    def requests(self, method: str | None = None, path_re: str = ".*") -> list[Recorded]:
        return [
            r
            for r in self.state.requests
            if (method is None or r.method == method) and re.fullmatch(path_re, r.path)
        ]

    def live_pods(self) -> list[dict]:
        return [public(p) for p in self.state.pods.values() if p["status"] != "TERMINATED"]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
