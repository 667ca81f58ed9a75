"""A local stand-in for RunPod's REST API v2 (pods, Instant Clusters, catalog), built from the
published OpenAPI document (tests/fixtures/runpod/openapi-v2.json).

It checks the bearer token, validates request bodies against the document's schemas
(``CreatePodRequest``, ``PodActionRequest``, ``CreateClusterRequest``) plus the rules the document
states in prose (exactly one of ``gpu``/``cpu``; global networking only in data centers with
``globalNetwork``; ``product`` required with ``include=AVAILABILITY``; cluster member pods listed
only with ``includeClusterPods=true`` and not deletable through the pod endpoints), answers errors
as RFC 9457 problem details, moves pods PROVISIONING -> STARTING -> RUNNING as time passes
(``start_s``/``run_s``), answers 409 to an action the pod's ``actions`` do not list, and records
every request. Every pod, cluster and catalog answer is validated against its schema (a mismatch
is answered as a 500 naming it), so the stand-in cannot drift from the document silently.

Failure modes for tests: a per-key rate limit answering 429 with ``Retry-After``, ``RateLimit``
and ``RateLimit-Policy`` (``rate_limit=(quota, window_s)``; the window keeps the document's name
``minute`` but may be compressed to seconds), a 429 storm (``storm_429``: that many requests in a
row answered 429), creates that take effect and then answer 500 or drop the connection
(``create_faults``), pods whose start ends in ERROR or TERMINATED (``fate``), DELETEs that 503.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent.parent / "fixtures" / "runpod" / "openapi-v2.json"

DATA_CENTERS = [
    {"id": "EU-RO-1", "name": "Europe Romania 1", "region": "EUROPE", "globalNetwork": True},
    {"id": "US-KS-2", "name": "US Kansas 2", "region": "NORTH_AMERICA", "globalNetwork": True},
    {"id": "CA-MTL-1", "name": "Canada Montreal 1", "region": "NORTH_AMERICA", "globalNetwork": False},
]
GPU_TYPES = {
    "NVIDIA GeForce RTX 4090": ("RTX 4090", 24, 0.69, 8),
    "NVIDIA A40": ("A40", 48, 0.40, 10),
    "NVIDIA H100 80GB HBM3": ("H100 SXM", 80, 2.69, 8),
}
# Stock per data center and GPU type: (availability level, most GPUs one machine can still give).
DEFAULT_STOCK = {
    "EU-RO-1": {"NVIDIA GeForce RTX 4090": ("MEDIUM", 8), "NVIDIA A40": ("LOW", 4)},
    "US-KS-2": {"NVIDIA GeForce RTX 4090": ("HIGH", 8), "NVIDIA H100 80GB HBM3": ("HIGH", 8)},
    "CA-MTL-1": {"NVIDIA GeForce RTX 4090": ("HIGH", 8), "NVIDIA A40": ("HIGH", 8)},
}
LEVEL_RANK = {"NONE": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}


@dataclass
class Recorded:
    method: str
    path: str
    authorized: bool
    body: object | None
    status: int
    query: str = ""


@dataclass
class StandinState:
    token: str
    start_s: float = 0.2  # seconds PROVISIONING before STARTING (after a create or a start)
    run_s: float = 0.3  # seconds STARTING before RUNNING
    pods: dict[str, dict] = field(default_factory=dict)
    clusters: dict[str, dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    fail_deletes: dict[str, int] = field(default_factory=dict)  # pod id -> 503s still to answer
    stock: dict = field(default_factory=lambda: {dc: dict(g) for dc, g in DEFAULT_STOCK.items()})
    rate_limit: tuple[int, float] | None = None  # (quota, window seconds) per API key
    window: list = field(default_factory=lambda: [0.0, 0])  # [window start, requests in it]
    storm_429: int = 0  # the next N authenticated requests are answered 429
    create_faults: list[str] = field(default_factory=list)  # per POST create: "500" or "drop" after creating,
    # "late": drop the connection, the pod appears 0.3 s later (an upstream still at work)
    too_many: int = 0  # 429s answered
    members_after_s: float = 0.0  # a new cluster's member pods are listed only this long after its create
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
    gpu = body.get("gpu") or (
        {"id": body["compute"]["gpuTypeId"], "count": body["compute"]["gpuCountPerPod"]}
        if "compute" in body
        else None
    )
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
        "gpu": {"id": gpu["id"], "count": gpu.get("count", 1)} if gpu else None,
        "cloud": body.get("cloud", "SECURE"),
        "dataCenterId": dcs[0],
        "cudaVersion": "12.8",
        "ssh": {"proxy": None, "direct": None},
        "template": None,
        "cost": round(0.69 * (gpu.get("count", 1) if gpu else 1), 2),
        "locked": False,
        "globalNetworking": {"enabled": False},
        "runtime": None,
        "createdAt": "2026-11-30T12:00:00Z",
        "startedAt": None,
        "_since": time.monotonic(),
    }


def advance(state: StandinState, pod: dict) -> None:
    """Time moves a pod along PROVISIONING -> STARTING -> RUNNING (or to its ``_fate``: a pod
    with ``_fate`` ERROR or TERMINATED ends there instead of running, every time it is started)."""
    if pod.get("_hold_reads", 0) > 0:  # stays as it is for this many more reads
        pod["_hold_reads"] -= 1
        return
    age = time.monotonic() - pod.get("_since", 0)
    if pod["status"] == "PROVISIONING" and age >= state.start_s:
        pod["status"] = "STARTING"
    if pod["status"] == "STARTING" and age >= state.start_s + state.run_s:
        fate = pod.get("_fate")
        if fate == "ERROR":
            pod["status"] = "ERROR"
            pod["actions"] = ["start", "terminate"]
            pod["cost"] = 0.0
        elif fate == "TERMINATED":
            pod["status"] = "TERMINATED"
        else:
            run(pod)


def run(pod: dict) -> None:
    port = 20000 + int(pod["id"][:4], 16) % 40000
    ip = f"203.0.113.{int(pod['id'][4:6], 16) % 250 + 1}"
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
    if pod.get("cluster") is not None:
        c = pod["cluster"]
        c["ip"] = f"10.66.{int(c['id'][-2:], 16) % 250}.{(c['rank'] or 0) + 2}"
    elif wants_gn or pod["globalNetworking"]["enabled"]:
        pod["globalNetworking"] = {
            "enabled": True,
            "ip": f"10.65.{int(pod['id'][:2], 16)}.{int(pod['id'][2:4], 16)}",
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
    if out.get("cluster") is None:
        out.pop("cluster", None)
    return out


def cluster_view(state: StandinState, cluster: dict) -> dict:
    """A cluster as GET /v2/clusters/{id} shows it: summary of members, primary, network."""
    members = [p for p in state.pods.values() if (p.get("cluster") or {}).get("id") == cluster["id"]]
    live = [p for p in members if p["status"] != "TERMINATED"]
    by_status: dict[str, int] = {}
    for p in live:
        advance(state, p)
        by_status[p["status"]] = by_status.get(p["status"], 0) + 1
    out = {k: v for k, v in cluster.items() if not k.startswith("_")}
    out["pods"] = {"total": len(live), "byStatus": by_status}
    primary = next((p for p in live if p["cluster"]["rank"] == 0), None)
    if primary:
        out["primary"] = {"podId": primary["id"], "status": primary["status"]}
        direct = primary["ssh"]["direct"]
        if direct:
            out["primary"]["sshEndpoint"] = f"{direct['host']}:{direct['port']}"
        out["dataCenterId"] = primary["dataCenterId"]
        out["network"] = {"cidr": "10.66.0.0/16", "vxlanId": 42, "vxlanPort": 4789}
    return out


class Drop(Exception):
    """Close the connection without an answer (after the request took effect)."""


class Handler(BaseHTTPRequestHandler):
    server_version = "runpod-standin/1"
    state: StandinState  # set per server

    def log_message(self, *args):  # keep pytest output clean
        pass

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, status: int, payload=None, content_type="application/json", headers=None):
        self._record(status)  # before the answer leaves: a client may look right after it
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or self._limit_headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)
        return status

    def _record(self, status: int) -> None:
        self._pending.status = status
        self.state.requests.append(self._pending)

    def _checked(self, status: int, schema: str, payload):
        """An answer validated against the document's schema (a mismatch is a 500 naming it)."""
        errors = SPEC.errors(schema, payload)
        if errors:
            return self._problem(500, "Stand-in Drift", f"answer does not match {schema}", errors)
        return self._send(status, payload)

    def _send_pods(self, status: int, pods: list[dict], listing: bool = False):
        """Pods as the API shows them, each checked against the document's ``Pod`` schema."""
        shown = [public(p) for p in pods]
        errors = [f"pod {p.get('id')}: {e}" for p in shown for e in SPEC.errors("Pod", p)]
        if errors:
            return self._problem(500, "Stand-in Drift", "a pod does not match the Pod schema", errors)
        return self._send(status, {"pods": shown} if listing else shown[0])

    def _problem(self, status: int, title: str, detail: str, errors=None, headers=None):
        body = {"title": title, "status": status, "detail": detail}
        if errors:
            body["errors"] = errors
        return self._send(status, body, "application/problem+json", headers)

    def _rate(self) -> tuple[bool, dict]:
        """Count one request against the key's window: (over the quota?, RateLimit headers)."""
        state = self.state
        if state.storm_429 > 0:
            state.storm_429 -= 1
            return True, {
                "Retry-After": "1",
                "RateLimit": '"minute";r=0;t=1',
                "RateLimit-Policy": '"minute";q=60;w=60',
            }
        if not state.rate_limit:
            return False, {}
        quota, window = state.rate_limit
        now = time.monotonic()
        if now - state.window[0] >= window:
            state.window[:] = [now, 0]
        reset = max(1, math.ceil(state.window[0] + window - now))
        over = state.window[1] >= quota
        if not over:
            state.window[1] += 1
        left = max(0, quota - state.window[1])
        headers = {
            "RateLimit": f'"minute";r={left};t={reset}',
            "RateLimit-Policy": f'"minute";q={quota};w={math.ceil(window)}',
        }
        if over:
            headers["Retry-After"] = str(reset)
        return over, headers

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
        path, _, query = self.path.partition("?")
        self.query = {k: v[-1] for k, v in parse_qs(query).items()}
        self._limit_headers = {}
        self._pending = Recorded(method, path, authorized, body, -1, query)
        with state.lock:
            try:
                if not auth.startswith("Bearer "):
                    self._problem(401, "Unauthorized", "missing bearer token")
                elif not authorized:
                    self._problem(401, "Unauthorized", "invalid API key")
                else:
                    over, self._limit_headers = self._rate()
                    if over:
                        state.too_many += 1
                        self._problem(429, "Too Many Requests", "rate limit exceeded for the minute window")
                    else:
                        self._route(method, path, body)
            except Drop:
                self._record(-1)
                self.close_connection = True

    def _fault(self) -> str | None:
        return self.state.create_faults.pop(0) if self.state.create_faults else None

    def _created(self, fault: str | None, status: int, schema: str, payload):
        if fault == "drop":
            raise Drop()
        if fault == "500":
            return self._problem(500, "Internal Server Error", "upstream error")
        return self._checked(status, schema, payload)

    def _route(self, method: str, path: str, body):
        state = self.state
        if method == "GET" and path == "/v2/catalog/datacenters":
            return self._datacenters()
        if method == "GET" and path == "/v2/catalog/gpus":
            return self._gpus()
        if path == "/v2/pods":
            if method == "GET":
                with_members = self.query.get("includeClusterPods") == "true"
                pods = [p for p in state.pods.values() if with_members or p.get("cluster") is None]
                now = time.monotonic()
                pods = [
                    p
                    for p in pods
                    if p.get("cluster") is None
                    or state.clusters[p["cluster"]["id"]].get("_members_at", 0) <= now
                ]
                for p in pods:
                    advance(state, p)
                pods = [p for p in pods if p["status"] != "TERMINATED"]
                return self._send_pods(200, pods, listing=True)
            if method == "POST":
                return self._create(body)
        m = re.fullmatch(r"/v2/pods/([^/]+)(/action)?", path)
        if m:
            pod = state.pods.get(m.group(1))
            if pod is not None:
                advance(state, pod)
            if pod is None or pod["status"] == "TERMINATED":
                return self._problem(404, "Not Found", f"pod {m.group(1)} not found")
            member = pod.get("cluster") is not None
            if m.group(2):
                if method != "POST":
                    return self._problem(405, "Method Not Allowed", "use POST")
                if member:
                    return self._problem(
                        409, "Conflict", "pod belongs to a cluster; manage it via /v2/clusters"
                    )
                return self._action(pod, body)
            if method == "GET":
                return self._send_pods(200, [pod])
            if method == "DELETE":
                if member:
                    return self._problem(
                        409,
                        "Conflict",
                        "pod belongs to a cluster and cannot be terminated via the pod endpoints",
                    )
                left = state.fail_deletes.get(pod["id"], 0)
                if left:
                    state.fail_deletes[pod["id"]] = left - 1
                    return self._problem(503, "Service Unavailable", "try again")
                pod["status"] = "TERMINATED"
                return self._send(204)
        if path == "/v2/clusters":
            if method == "GET":
                shown = [cluster_view(state, c) for c in state.clusters.values() if not c.get("_deleted")]
                return self._checked(200, "ListClustersResponse", {"clusters": shown})
            if method == "POST":
                return self._create_cluster(body)
        m = re.fullmatch(r"/v2/clusters/([^/]+)(/pods)?", path)
        if m:
            cluster = state.clusters.get(m.group(1))
            if cluster is None or cluster.get("_deleted"):
                return self._problem(404, "Not Found", f"cluster {m.group(1)} not found")
            if m.group(2) and method == "GET":
                members = [
                    p for p in state.pods.values() if (p.get("cluster") or {}).get("id") == cluster["id"]
                ]
                for p in members:
                    advance(state, p)
                return self._send_pods(200, [p for p in members if p["status"] != "TERMINATED"], listing=True)
            if method == "GET":
                return self._checked(200, "Cluster", cluster_view(state, cluster))
            if method == "DELETE":
                cluster["_deleted"] = True
                for p in state.pods.values():
                    if (p.get("cluster") or {}).get("id") == cluster["id"]:
                        p["status"] = "TERMINATED"
                return self._send(204)
        return self._problem(404, "Not Found", f"no route for {method} {path}")

    # -- catalog ----------------------------------------------------------------------------
    def _datacenters(self):
        include = [v for v in self.query.get("include", "").split(",") if v]
        if any(v not in ("GPU_AVAILABILITY", "CPU_AVAILABILITY") for v in include):
            return self._problem(422, "Unprocessable Entity", "include: GPU_AVAILABILITY or CPU_AVAILABILITY")
        out = []
        for dc in DATA_CENTERS:
            item = dict(dc, networkVolumeTypes=["STANDARD"], compliance=[])
            if "GPU_AVAILABILITY" in include:
                stock = self.state.stock.get(dc["id"], {})
                if stock:
                    item["gpuAvailability"] = [
                        {"id": g, "name": GPU_TYPES[g][0], "availability": level}
                        for g, (level, _) in sorted(stock.items())
                    ]
            out.append(item)
        return self._checked(200, "ListDataCentersResponse", {"dataCenters": out})

    def _gpus(self):
        q = self.query
        include = [v for v in q.get("include", "").split(",") if v]
        if any(v != "AVAILABILITY" for v in include):
            return self._problem(422, "Unprocessable Entity", "include: AVAILABILITY")
        with_avail = include == ["AVAILABILITY"]
        products = [v for v in q.get("product", "").split(",") if v]
        if with_avail != bool(products):
            return self._problem(
                400, "Bad Request", "product is required with include=AVAILABILITY, and valid only with it"
            )
        if any(v not in ("POD", "CLUSTER", "SERVERLESS") for v in products):
            return self._problem(422, "Unprocessable Entity", "product: POD, CLUSTER or SERVERLESS")
        if not with_avail and ("count" in q or "cloud" in q):
            return self._problem(
                400, "Bad Request", "count and cloud are valid only with include=AVAILABILITY"
            )
        try:
            count = int(q.get("count", "1"))
        except ValueError:
            return self._problem(422, "Unprocessable Entity", "count must be an integer")
        if count < 1:
            return self._problem(422, "Unprocessable Entity", "count must be at least 1")
        gpus = []
        for gid, (name, memory, price, max_count) in GPU_TYPES.items():
            item = {
                "id": gid,
                "name": name,
                "pool": None,
                "manufacturer": "NVIDIA",
                "memory": memory,
                "secure": True,
                "community": False,
                "price": {"secure": price, "community": 0.0},
                "maxCount": {"secure": max_count, "community": 0},
            }
            if with_avail:
                dcs = []
                for dc in DATA_CENTERS:
                    level, most = self.state.stock.get(dc["id"], {}).get(gid, ("NONE", 0))
                    if level != "NONE" and most >= count:
                        dcs.append({"id": dc["id"], "name": dc["name"], "availability": level})
                best = max((LEVEL_RANK[d["availability"]] for d in dcs), default=0)
                item["availability"] = [k for k, v in LEVEL_RANK.items() if v == best][0]
                if dcs:
                    item["dataCenters"] = dcs
            gpus.append(item)
        return self._checked(200, "ListGpuTypesResponse", {"gpus": gpus})

    # -- creates ----------------------------------------------------------------------------
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
        fault = self._fault()
        pod = new_pod(body)
        pod["_global_networking"] = bool(body.get("globalNetworking"))
        if fault == "late":  # the answer is lost now; the pod shows up in listings only 0.3 s later
            state = self.state

            def appear():
                with state.lock:
                    state.pods[pod["id"]] = pod

            threading.Timer(0.3, appear).start()
            raise Drop()
        self.state.pods[pod["id"]] = pod
        if fault:
            return self._created(fault, 201, "Pod", public(pod))
        return self._send_pods(201, [pod])

    def _create_cluster(self, body):
        if not isinstance(body, dict):
            return self._problem(400, "Bad Request", "body must be a JSON object")
        errors = SPEC.errors("CreateClusterRequest", body)
        if errors:
            return self._problem(422, "Unprocessable Entity", "request validation failed", errors)
        if "image" not in body:
            return self._problem(400, "Bad Request", "image is required")
        compute = body["compute"]
        cid = "c" + secrets.token_hex(6)
        dcs = body.get("dataCenterIds") or ["US-KS-2"]
        fault = self._fault()
        cluster = {
            "id": cid,
            "name": body["name"],
            "type": body["type"],
            "compute": dict(compute),
            "pods": {"total": 0, "byStatus": {}},
            "createdAt": "2026-11-30T12:00:00Z",
        }
        if self.state.members_after_s:
            cluster["_members_at"] = time.monotonic() + self.state.members_after_s
        self.state.clusters[cid] = cluster
        for rank in range(compute["podCount"]):
            pod = new_pod(dict(body, name=f"{body['name']}-node-{rank}", dataCenterIds=dcs[:1]))
            role = None
            if body["type"] == "SLURM":
                role = "SLURM_CONTROLLER" if rank == 0 else "SLURM_COMPUTE"
            pod["cluster"] = {"id": cid, "rank": rank} | ({"role": role} if role else {})
            self.state.pods[pod["id"]] = pod
        return self._created(fault, 201, "Cluster", cluster_view(self.state, cluster))

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
            pod["_since"] = time.monotonic()
        elif action == "stop":
            stop(pod)
        elif action == "restart":
            pod["status"] = "STARTING"
            pod["ssh"]["direct"] = None
            pod["runtime"] = None
            pod["_since"] = time.monotonic() - self.state.start_s
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
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add_pod(
        self,
        name: str,
        running: bool = True,
        status: str | None = None,
        fate: str | None = None,
        hold_reads: int = 0,
        **fields,
    ) -> dict:
        """A pod put there behind the playbook's back (someone else's, or an earlier run's):
        RUNNING, or in ``status`` (kept for ``hold_reads`` reads); ``fate`` ERROR/TERMINATED:
        where it ends instead of RUNNING, whenever started."""
        body = {"name": name, "image": "ubuntu:24.04", "gpu": {"id": "NVIDIA A40", "count": 1}}
        pod = new_pod(body)
        pod["_global_networking"] = True
        pod.update(fields)
        if fate:
            pod["_fate"] = fate
        if status in ("EXITED", "ERROR"):
            run(pod)
            stop(pod)
            pod["status"] = status
        elif status in ("PROVISIONING", "STARTING"):
            pod["status"] = status
            pod["_since"] = time.monotonic() - (self.state.start_s if status == "STARTING" else 0)
        elif running:
            run(pod)
        pod["_hold_reads"] = hold_reads
        with self.state.lock:
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

    def live_pods(self, members: bool = True) -> list[dict]:
        return [
            public(p)
            for p in self.state.pods.values()
            if p["status"] != "TERMINATED" and (members or p.get("cluster") is None)
        ]

    def live_clusters(self) -> list[dict]:
        return [c for c in self.state.clusters.values() if not c.get("_deleted")]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
