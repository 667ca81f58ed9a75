#!/usr/bin/python
# Copyright: gpuwatch contributors. Apache-2.0.
"""Ansible module: make this deployment's RunPod pods (or Instant Cluster) exist and run, or delete
exactly them, through the REST API v2 (RunPod's OpenAPI document, tests/fixtures/runpod/).

Why a module and not uri tasks: exactly-once creates (look before retrying a create whose answer
was lost), one shared rate-limit state honouring Retry-After/RateLimit across every request,
parallel creates and one poll loop over all pods cannot be expressed safely as a task loop.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import re
import secrets
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException

DOCUMENTATION = r"""
---
module: runpod_pods_reconcile
short_description: Create, start, wait for and delete exactly one deployment's RunPod pods or cluster
description:
  - Ownership is a deployment id (random, kept in O(state_file)) carried by every pod in its
    C(GPUWATCH_DEPLOYMENT) environment variable and as the suffix of its name. Only pods carrying
    this id are adopted, started or deleted; pods of other deployments whose names match are
    reported (name, id, status) and left alone.
  - Creates are exactly-once. After a create that failed with a 5xx or got no answer, the module
    waits its backoff, lists the pods (or clusters) and adopts this deployment's one with that name
    before any retry (a cluster by its name, which ends in the deployment id, unless a listed member
    pod carries another id).
  - 429 answers are waited out as C(Retry-After) or the C(RateLimit) header says (capped), else
    with exponential backoff and jitter; a C(RateLimit) member with no requests left pauses the
    next request until its window resets. Counts are returned in C(api).
options:
  api_url: {type: str, required: true, description: Base URL including the version, e.g. https://api.runpod.io/v2.}
  api_key: {type: str, required: true, no_log: true, description: Bearer token.}
  api_timeout: {type: int, default: 30, description: Seconds per request.}
  api_retries: {type: int, default: 5, description: Retries of a request on 5xx answers and network errors.}
  api_concurrency: {type: int, default: 4, description: Requests in flight at once (creates, starts, deletes).}
  rate_limit_max_wait: {type: float, default: 60, description: Longest single wait for a 429 or an exhausted window.}
  rate_limit_retries: {type: int, default: 30, description: 429 answers honoured per request before giving up.}
  backoff_base: {type: float, default: 1.0, description: First backoff (seconds) when no header says how long.}
  state: {type: str, default: present, choices: [present, absent]}
  mode: {type: str, default: pods, choices: [pods, cluster]}
  cluster_type: {type: str, default: TRAINING, choices: [TRAINING, SLURM]}
  cluster_name: {type: str, required: true}
  deployment_id: {type: str, default: '', description: Recover a deployment whose state file was lost.}
  state_file: {type: path, required: true}
  worker_count: {type: int, default: 1}
  pod_count: {type: int, default: 2, description: Cluster mode, podCount (2-250).}
  image: {type: str, default: ''}
  gpu_type: {type: str, default: ''}
  gpu_count: {type: int, default: 1}
  cloud: {type: str, default: SECURE}
  data_center_ids: {type: list, elements: str, default: []}
  container_disk_gb: {type: int, default: 40}
  volume_gb: {type: int, default: 20}
  volume_path: {type: str, default: /workspace}
  ports: {type: list, elements: str, default: []}
  env: {type: dict, default: {}, no_log: true}
  public_key: {type: str, default: ''}
  start_ssh: {type: bool, default: true}
  wait_timeout: {type: float, default: 900, description: Seconds to wait for every pod to run.}
  poll_interval: {type: float, default: 10}
author: gpuwatch
"""

RETURN = r"""
deployment_id: {description: This deployment's id., returned: always, type: str}
pods: {description: Own pods (name, id, role, status, ssh host/port, address, cost, rank)., returned: always, type: list}
foreign: {description: Pods or clusters with a matching name owned by another deployment (name, id, status)., returned: always, type: list}
placement: {description: Data centers chosen and why., returned: when something was created, type: dict}
api: {description: Requests sent, 429s honoured, seconds waited for rate limits, retries., returned: always, type: dict}
"""

try:
    from ansible.module_utils.basic import AnsibleModule
except ImportError:  # imported by tests and the bench without Ansible's module runtime
    AnsibleModule = None

DEPLOYMENT_ENV = "GPUWATCH_DEPLOYMENT"
ID_RE = re.compile(r"^[a-z0-9]{4,16}$")
LEVELS = {"HIGH": 3, "MEDIUM": 2, "LOW": 1, "NONE": 0}
TRANSIENT = {500, 502, 503, 504}


class RunpodError(Exception):
    """A failure reported to the user as one message (the module's only exception type)."""


class Transient(Exception):
    """No usable answer (5xx or network error): the request may or may not have taken effect."""


def parse_rate_limit(value: str) -> list[dict]:
    """RateLimit / RateLimit-Policy structured-field list: '"minute";r=0;t=12, "hour";r=5;t=99'."""
    out = []
    for member in (value or "").split(","):
        parts = [p.strip() for p in member.split(";")]
        if not parts or not parts[0]:
            continue
        item = {"name": parts[0].strip('"')}
        for param in parts[1:]:
            key, _, val = param.partition("=")
            try:
                item[key.strip()] = float(val)
            except ValueError:
                continue
        out.append(item)
    return out


def wait_from_headers(headers) -> float | None:
    """Seconds to wait after a 429: Retry-After, else the longest reset of an exhausted window."""
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
        # RFC 9110 also allows an HTTP-date ("Fri, 04 Dec 2026 23:10:00 GMT"); the document gives
        # seconds, but a proxy in front of the API may answer with a date.
        try:
            when = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    exhausted = [
        m["t"] for m in parse_rate_limit(headers.get("RateLimit", "")) if m.get("r") == 0 and "t" in m
    ]
    return max(exhausted) if exhausted else None


class Api:
    """RunPod REST v2 client with one rate-limit state shared by every thread."""

    def __init__(self, url, key, timeout=30, retries=5, max_wait=60.0, limit_retries=30, backoff_base=1.0):
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.limit_retries = limit_retries
        self.backoff_base = backoff_base
        self.lock = threading.Lock()
        self.pause_until = 0.0
        self.stats = {
            "requests": 0,
            "rate_limited": 0,
            "rate_limit_wait_s": 0.0,
            "quota_pauses": 0,
            "retries": 0,
            "create_recoveries": 0,
        }

    def _count(self, key, inc=1):
        with self.lock:
            self.stats[key] += inc

    def _backoff(self, attempt: int) -> float:
        return min(self.max_wait, self.backoff_base * 2**attempt) * random.uniform(0.5, 1.0)

    def _pause(self, seconds: float) -> None:
        with self.lock:
            self.pause_until = max(self.pause_until, time.monotonic() + seconds)

    def _honour_pause(self) -> None:
        while True:
            with self.lock:
                left = self.pause_until - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def _send(self, method, path, query, body):
        url = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.key)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        self._count("requests")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 (https/loopback)
                raw, status, headers = resp.read(), resp.status, resp.headers
        except urllib.error.HTTPError as exc:
            raw, status, headers = exc.read(), exc.code, exc.headers
        except (TimeoutError, urllib.error.URLError, HTTPException, OSError) as exc:
            raise Transient(f"{method} {path}: no answer ({getattr(exc, 'reason', exc)})") from None
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return status, payload, headers

    def call(self, method, path, query=None, body=None, expect=(200,), idempotent=True):
        """One request; 429s are always waited out. 5xx/network errors are retried for idempotent
        requests and raised as Transient for the others (the caller decides)."""
        limited = transient = 0
        while True:
            self._honour_pause()
            try:
                status, payload, headers = self._send(method, path, query, body)
            except Transient as exc:
                if not idempotent:
                    raise
                if transient >= self.retries:
                    raise RunpodError(f"RunPod API {exc} after {transient} retries") from None
                transient += 1
                self._count("retries")
                time.sleep(self._backoff(transient - 1))
                continue
            for member in parse_rate_limit(headers.get("RateLimit", "")) if status != 429 else []:
                if member.get("r") == 0 and member.get("t", 0) > 0:
                    self._count("quota_pauses")
                    self._pause(min(member["t"], self.max_wait))
            if status == 429:
                if limited >= self.limit_retries:
                    raise RunpodError(f"{method} {path}: still rate limited after {limited} waits")
                wait = wait_from_headers(headers)
                wait = self._backoff(limited) if wait is None else min(wait, self.max_wait)
                limited += 1
                self._count("rate_limited")
                self._count("rate_limit_wait_s", wait)
                self._pause(wait)
                continue
            if status in TRANSIENT:
                if not idempotent:
                    raise Transient(f"{method} {path}: HTTP {status}")
                if transient >= self.retries:
                    raise RunpodError(
                        f"{method} {path}: HTTP {status} after {transient} retries: {detail(payload)}"
                    )
                transient += 1
                self._count("retries")
                time.sleep(self._backoff(transient - 1))
                continue
            if status not in expect:
                raise RunpodError(f"RunPod API {method} {path} answered HTTP {status}: {detail(payload)}")
            return status, payload


def detail(payload) -> str:
    if isinstance(payload, dict):
        text = payload.get("detail") or payload.get("title") or ""
        if payload.get("errors"):
            text += " (" + "; ".join(str(e) for e in payload["errors"][:5]) + ")"
        return text
    return "no problem detail"


# -- state file -----------------------------------------------------------------------------------


def read_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        # Moving it away alone would orphan (and keep billing) the pods it names: say how to recover.
        seen = re.search(r'"deployment_id"\s*:\s*"([a-z0-9]{4,16})"', text)
        hint = f"deployment {seen.group(1)}" if seen else "the deployment id that ends its pods' names"
        raise RunpodError(
            f"{path}: not JSON ({exc}); fix it, or move it away and run again with "
            f"-e runpod_pods_deployment_id=ID ({hint}) so this deployment's pods are found"
        ) from None
    if not isinstance(data, dict):
        raise RunpodError(f"{path}: expected a JSON object")
    pods, cluster, dep = data.get("pods", []), data.get("cluster"), data.get("deployment_id", "")
    if (
        not isinstance(dep, str)
        or not isinstance(pods, list)
        or not all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in pods)
        or not (cluster is None or (isinstance(cluster, dict) and isinstance(cluster.get("id"), str)))
    ):
        raise RunpodError(
            f"{path}: not a runpod_pods state file (expected deployment_id: string, pods: [{{id, name}}], "
            "cluster: {id, name, type}); fix it, or move it away and run again with "
            "-e runpod_pods_deployment_id=ID"
        )
    return data


def write_state(path: str, data: dict) -> None:
    """Atomically (temp file + rename), mode 0600, folder 0700."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".state-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# -- the reconciler ------------------------------------------------------------------------------


def pod_summary(pod: dict) -> dict:
    """What is reported about a pod: never its env (it may hold secrets)."""
    return {"name": pod.get("name"), "id": pod.get("id"), "status": pod.get("status")}


class Reconciler:
    def __init__(self, p: dict, api: Api):
        self.p = p
        self.api = api
        self.changed = False
        self.lock = threading.Lock()
        self.warnings: list[str] = []
        self.state = read_state(p["state_file"])
        self.created: list[str] = []
        self.started: list[str] = []
        self.placement: dict = {}
        self.dep = self._deployment_id()
        self.base = p["cluster_name"]

    # -- identity ---------------------------------------------------------------------------
    def _deployment_id(self) -> str:
        given, kept = self.p["deployment_id"], self.state.get("deployment_id")
        for value, where in ((given, "runpod_pods_deployment_id"), (kept, self.p["state_file"])):
            if value and not ID_RE.match(value):
                raise RunpodError(f"{where}: deployment id {value!r} is not 4-16 characters [a-z0-9]")
        if given and kept and given != kept:
            raise RunpodError(
                f"runpod_pods_deployment_id={given} but {self.p['state_file']} belongs to deployment {kept}: "
                "use that state file's id, or another state file"
            )
        return given or kept or ""

    def ensure_id(self) -> None:
        """A new deployment gets its id before anything is created, kept in the state file."""
        if not self.dep:
            self.dep = secrets.token_hex(4)
            self.changed = True
        if self.state.get("deployment_id") != self.dep:
            self.state["deployment_id"] = self.dep
            self.save()

    def save(self) -> None:
        self.state.setdefault("cluster_name", self.base)
        write_state(self.p["state_file"], self.state)

    def names(self) -> list[str]:
        n = self.p["worker_count"]
        return [f"{self.base}-head-{self.dep}"] + [
            f"{self.base}-worker-{i}-{self.dep}" for i in range(1, n + 1)
        ]

    def cluster_obj_name(self) -> str:
        return f"{self.base}-{self.dep}"

    def own(self, pod: dict) -> bool:
        env = pod.get("env") or {}
        recorded = {x["id"] for x in self.state.get("pods", []) if isinstance(x, dict) and "id" in x}
        return bool(self.dep) and env.get(DEPLOYMENT_ENV) == self.dep or pod.get("id") in recorded

    def name_matches(self, name: str) -> bool:
        """A name of this cluster, whichever deployment's suffix it carries (or none)."""
        b = re.escape(self.base)
        return bool(re.fullmatch(rf"{b}(-head|-worker-\d+)?(-[a-z0-9]{{4,16}})?", name or ""))

    # -- listing ----------------------------------------------------------------------------
    def list_pods(self, cluster_pods=False) -> list[dict]:
        query = {"includeClusterPods": "true"} if cluster_pods else None
        _, payload = self.api.call("GET", "/pods", query)
        return (payload or {}).get("pods", [])

    def foreign_pods(self, pods: list[dict]) -> list[dict]:
        return [pod_summary(p) for p in pods if self.name_matches(p.get("name", "")) and not self.own(p)]

    # -- placement --------------------------------------------------------------------------
    def place(self, product: str, count: int, need_global: bool) -> list[str]:
        given = self.p["data_center_ids"]
        _, payload = self.api.call("GET", "/catalog/datacenters", {"include": "GPU_AVAILABILITY"})
        dcs = (payload or {}).get("dataCenters", [])
        by_id = {dc["id"]: dc for dc in dcs}
        if given:
            unknown = [d for d in given if d not in by_id]
            no_gn = [d for d in given if d in by_id and need_global and not by_id[d].get("globalNetwork")]
            if unknown or no_gn:
                gn = [dc["id"] for dc in dcs if dc.get("globalNetwork")]
                raise RunpodError(
                    "runpod_pods_data_center_ids: "
                    + ", ".join(unknown + no_gn)
                    + (" do not support global networking" if no_gn else " are not in the catalog")
                    + f" (those that do: {', '.join(gn)})"
                )
            self.placement = {"data_centers": list(given), "reason": "runpod_pods_data_center_ids"}
            return list(given)
        gpu = self.p["gpu_type"]
        query = {"include": "AVAILABILITY", "product": product, "count": str(count), "cloud": self.p["cloud"]}
        _, payload = self.api.call("GET", "/catalog/gpus", query)
        entry = next((g for g in (payload or {}).get("gpus", []) if g.get("id") == gpu), None)
        if entry is None:
            raise RunpodError(
                f"runpod_pods_gpu_type: {gpu!r} is not in the GPU catalog (GET /v2/catalog/gpus)"
            )
        for_count = {d["id"]: d.get("availability", "NONE") for d in entry.get("dataCenters") or []}
        ranked = []
        for dc in dcs:
            if need_global and not dc.get("globalNetwork"):
                continue
            level = for_count.get(dc["id"], "NONE")
            here = {g["id"]: g.get("availability", "NONE") for g in dc.get("gpuAvailability") or []}
            if LEVELS.get(level, 0) == 0 or LEVELS.get(here.get(gpu, "NONE"), 0) == 0:
                continue
            ranked.append((-LEVELS[level], -LEVELS.get(here[gpu], 0), dc["id"], level))
        ranked.sort()
        where = "global-networking data centers" if need_global else "data centers"
        if not ranked:
            raise RunpodError(
                f"no {where} report {self.p['cloud']} availability of {gpu} x{count} for {product} "
                f"(catalog availability: {entry.get('availability', 'NONE')}); nothing was created. "
                "Try another runpod_pods_gpu_type or runpod_pods_gpu_count, or later"
            )
        chosen = [r[2] for r in ranked]
        reason = ", ".join(f"{r[2]} ({r[3]})" for r in ranked)
        self.placement = {
            "data_centers": chosen,
            "reason": f"{where} with {gpu} x{count} available for {product}, best first: {reason}",
        }
        return chosen

    # -- pods mode --------------------------------------------------------------------------
    def pod_env(self) -> dict:
        """The env every pod (or cluster member) is created with: the user's, this deployment's
        id, and the SSH public key when one is given."""
        env = dict(self.p["env"])
        env[DEPLOYMENT_ENV] = self.dep
        if self.p["public_key"]:
            env["PUBLIC_KEY"] = self.p["public_key"]
        return env

    def pod_body(self, name: str, dcs: list[str]) -> dict:
        return {
            "name": name,
            "image": self.p["image"],
            "cloud": self.p["cloud"],
            "gpu": {"id": self.p["gpu_type"], "count": self.p["gpu_count"]},
            "dataCenterIds": dcs,
            "globalNetworking": True,
            **self.container_fields(),
        }

    def container_fields(self) -> dict:
        """What a pod and a cluster's member pods are created with alike: disk, volume, ports,
        env and SSH."""
        fields = {
            "disk": self.p["container_disk_gb"],
            "mounts": {"persistent": {"size": self.p["volume_gb"], "path": self.p["volume_path"]}},
            "ports": self.p["ports"],
            "env": self.pod_env(),
        }
        if self.p["start_ssh"]:
            fields["startSsh"] = True
        return fields

    def record_pod(self, pod: dict) -> None:
        with self.lock:
            pods = [x for x in self.state.get("pods", []) if x.get("id") != pod["id"]]
            self.state["pods"] = pods + [{"id": pod["id"], "name": pod["name"]}]
            self.save()

    def create_once(self, path: str, body: dict, find) -> dict:
        """POST, and after a 5xx or no answer look for what it may have created before retrying."""
        for attempt in range(self.api.retries + 1):
            try:
                _, obj = self.api.call("POST", path, body=body, expect=(201,), idempotent=False)
                return obj
            except Transient as exc:
                # Wait before looking, not only before retrying: a timed-out create may still be
                # at work upstream, and a look right away would miss the pod it is making.
                time.sleep(self.api._backoff(attempt))
                found = find()
                if found is not None:
                    self.api._count("create_recoveries")
                    self.warnings.append(
                        f"{exc}; the {path[1:-1]} had been created ({found['id']}), adopted it"
                    )
                    return found
                if attempt == self.api.retries:
                    raise RunpodError(
                        f"{exc}; nothing was created, gave up after {attempt + 1} tries"
                    ) from None
                self.api._count("retries")
        raise AssertionError("unreachable")

    def create_pod(self, name: str, dcs: list[str]) -> dict:
        def find():
            mine = [p for p in self.list_pods() if p.get("name") == name and self.own(p)]
            return mine[0] if mine else None

        pod = self.create_once("/pods", self.pod_body(name, dcs), find)
        self.record_pod(pod)
        with self.lock:
            self.created.append(name)
            self.changed = True
        return pod

    def start_pod(self, pod: dict) -> dict:
        if "start" not in (pod.get("actions") or []):
            raise RunpodError(
                f"pod {pod['name']} ({pod['id']}) is {pod.get('status')} and the API does not allow starting it"
            )
        status, answer = self.api.call(
            "POST", f"/pods/{pod['id']}/action", body={"action": "start"}, expect=(200, 409)
        )
        if status == 409:  # its status changed meanwhile: look again
            status, answer = self.api.call("GET", f"/pods/{pod['id']}", expect=(200, 404))
            return answer if status == 200 else dict(pod, status="TERMINATED")
        with self.lock:
            self.started.append(pod["name"])
            self.changed = True
        return answer

    def pods_present(self) -> dict:
        self.ensure_id()
        names = self.names()
        pods = self.list_pods()
        foreign = self.foreign_pods(pods)
        mine = [p for p in pods if self.own(p)]
        for name in names:
            same = [p["id"] for p in mine if p.get("name") == name]
            if len(same) > 1:
                raise RunpodError(
                    f"deployment {self.dep} has {len(same)} pods named {name} ({', '.join(same)}): delete the extra ones"
                )
        by_name = {p["name"]: p for p in mine if p.get("name") in names}
        # A state file from before deployment ids: its recorded pods (named without the suffix)
        # are this deployment's and keep their places instead of being created again.
        for name in names:
            legacy = name[: -len(self.dep) - 1]
            old = [p for p in mine if p.get("name") == legacy]
            if old and name not in by_name:
                by_name[name] = old[0]
                self.warnings.append(
                    f"adopted {legacy} ({old[0]['id']}) from the state file in the place of {name}"
                )
        taken = {p["id"] for p in by_name.values()}
        surplus = [pod_summary(p) for p in mine if p["id"] not in taken]
        for extra in surplus:
            self.warnings.append(
                f"{extra['name']} ({extra['id']}, {extra['status']}) is this deployment's but not in its shape "
                "(fewer workers asked?): left as it is; teardown deletes it"
            )
        listed = {p["id"] for p in pods}
        for gone in [x for x in self.state.get("pods", []) if x.get("id") not in listed]:
            self.warnings.append(f"recorded pod {gone.get('name')} ({gone.get('id')}) no longer exists")
        missing = [n for n in names if n not in by_name]
        if missing:
            dcs = self.place("POD", self.p["gpu_count"], need_global=True)
            with ThreadPoolExecutor(self.p["api_concurrency"]) as pool:
                for pod in pool.map(lambda n: self.create_pod(n, dcs), missing):
                    by_name[pod["name"]] = pod
        actual = [by_name[n]["name"] for n in names]  # a legacy pod keeps its old name
        ready = self.wait_pods(actual, {p["name"]: p for p in by_name.values()})
        record = sorted(
            (
                {"id": p["id"], "name": p["name"]}
                for p in list(by_name.values()) + [p for p in mine if p["id"] not in taken]
            ),
            key=lambda x: x["name"],
        )
        if sorted(self.state.get("pods", []), key=lambda x: x.get("name", "")) != record:
            self.state["pods"] = record  # what exists now: gone pods dropped from the record
            self.save()
        return {
            "pods": [self.host(ready[a], i == 0) for i, a in enumerate(actual)],
            "foreign": foreign,
            "surplus": surplus,
        }

    def wait_pods(self, names: list[str], by_name: dict, cluster_id: str | None = None) -> dict:
        """One poll loop over every pod (one list request per round): N pods take one pod's time."""
        deadline = time.monotonic() + self.p["wait_timeout"]
        started_here = set()
        current = dict(by_name)
        while True:
            fatal, waiting, ready = [], [], {}
            to_start = []
            for name in names:
                pod = current.get(name)
                if pod is None:
                    fatal.append(f"{name} (missing, TERMINATED or deleted)")
                    continue
                st = pod.get("status")
                if self.is_ready(pod):
                    ready[name] = pod
                elif st == "TERMINATED":
                    fatal.append(f"{name} ({pod['id']}, TERMINATED)")
                elif st in ("EXITED", "ERROR"):
                    if cluster_id or pod["id"] in started_here:
                        fatal.append(
                            f"{name} ({pod['id']}, {st}{' again after a start' if not cluster_id else ''})"
                        )
                    else:
                        to_start.append(pod)
                else:
                    waiting.append(f"{name} ({pod['id']}, {st})")
            if fatal:
                raise RunpodError("pods that will not run: " + ", ".join(fatal) + self.stats_note())
            if to_start:
                with ThreadPoolExecutor(self.p["api_concurrency"]) as pool:
                    for pod, answer in zip(to_start, pool.map(self.start_pod, to_start)):
                        started_here.add(pod["id"])
                        current[pod["name"]] = answer
                continue
            if not waiting:
                return ready
            if time.monotonic() > deadline:
                raise RunpodError(
                    f"pods not running with SSH after {self.p['wait_timeout']:.0f} s: " + ", ".join(waiting)
                )
            time.sleep(self.p["poll_interval"])
            listed = self.list_pods(cluster_pods=bool(cluster_id))
            fresh = {p["name"]: p for p in listed if self.own(p) and p.get("name") in names}
            if cluster_id:
                fresh = {p["name"]: p for p in listed if (p.get("cluster") or {}).get("id") == cluster_id}
            for name in names:
                if name in fresh:
                    current[name] = fresh[name]
                elif name in current and not cluster_id:
                    # Gone from the list: terminated or deleted (the list omits TERMINATED pods).
                    status, answer = self.api.call("GET", f"/pods/{current[name]['id']}", expect=(200, 404))
                    current[name] = answer if status == 200 else dict(current[name], status="TERMINATED")
                elif name in current:
                    current[name] = dict(current[name], status="TERMINATED")

    def is_ready(self, pod: dict) -> bool:
        if pod.get("status") != "RUNNING" or not isinstance((pod.get("ssh") or {}).get("direct"), dict):
            return False
        if self.p["mode"] == "cluster":
            return bool((pod.get("cluster") or {}).get("ip"))
        return bool((pod.get("globalNetworking") or {}).get("internalDns"))

    def host(self, pod: dict, head: bool) -> dict:
        cluster = pod.get("cluster") or {}
        addr = cluster.get("ip") if self.p["mode"] == "cluster" else pod["globalNetworking"]["internalDns"]
        return {
            "name": pod["name"],
            "id": pod["id"],
            "role": "head" if head else "compute",
            "status": pod["status"],
            "ssh_host": pod["ssh"]["direct"]["host"],
            "ssh_port": pod["ssh"]["direct"]["port"],
            "address": addr,
            "cost": pod.get("cost", 0),
            "data_center": pod.get("dataCenterId"),
            "rank": cluster.get("rank"),
            "cluster_role": cluster.get("role"),
        }

    # -- cluster mode -----------------------------------------------------------------------
    def own_cluster_ids(self, members: list[dict]) -> set[str]:
        return {(p.get("cluster") or {}).get("id") for p in members if p.get("cluster") and self.own(p)}

    def named_own_clusters(self, clusters: list[dict], pods: list[dict]) -> set[str]:
        """Clusters named with this deployment's id whose listed member pods all carry it too.

        A cluster has no env, and RunPod may list its member pods only some time after the create:
        the name (it ends in this deployment's random id) is what marks it before they appear.
        """
        name = self.cluster_obj_name()
        out = set()
        for c in clusters:
            if not self.dep or c.get("name") != name:
                continue
            members = [p for p in pods if (p.get("cluster") or {}).get("id") == c["id"]]
            if all(self.own(p) for p in members):
                out.add(c["id"])
        return out

    def cluster_present(self) -> dict:
        self.ensure_id()
        name = self.cluster_obj_name()
        _, payload = self.api.call("GET", "/clusters")
        clusters = (payload or {}).get("clusters", [])
        members = [p for p in self.list_pods(cluster_pods=True) if p.get("cluster")]
        owned = (
            self.own_cluster_ids(members)
            | self.named_own_clusters(clusters, members)
            | ({self.state["cluster"]["id"]} if self.state.get("cluster") else set())
        )
        foreign = [
            {"name": c["name"], "id": c["id"], "status": "CLUSTER " + c.get("type", "")}
            for c in clusters
            if self.name_matches(c.get("name", "")) and c["id"] not in owned
        ]
        mine = [c for c in clusters if c["id"] in owned]
        if len(mine) > 1:
            raise RunpodError(
                f"deployment {self.dep} owns {len(mine)} clusters ({', '.join(c['id'] for c in mine)})"
            )
        if mine:
            cluster = mine[0]
            shape = cluster.get("compute", {})
            want = (self.p["gpu_type"], self.p["gpu_count"], self.p["pod_count"], self.p["cluster_type"])
            have = (
                shape.get("gpuTypeId"),
                shape.get("gpuCountPerPod"),
                shape.get("podCount"),
                cluster.get("type"),
            )
            if have != want:
                raise RunpodError(
                    f"cluster {cluster['name']} ({cluster['id']}) has shape {have}, asked {want}: a cluster's "
                    "shape is fixed at creation; tear it down first"
                )
        else:
            if self.state.get("cluster"):
                self.warnings.append(
                    f"recorded cluster {self.state['cluster']['id']} is gone; creating a new one"
                )
            dcs = self.place("CLUSTER", self.p["gpu_count"], need_global=False)
            body = {
                "name": name,
                "type": self.p["cluster_type"],
                "compute": {
                    "gpuTypeId": self.p["gpu_type"],
                    "gpuCountPerPod": self.p["gpu_count"],
                    "podCount": self.p["pod_count"],
                },
                "dataCenterIds": dcs,
                "image": self.p["image"],
                **self.container_fields(),
            }

            def find():
                # A cluster has no env: its name carries this deployment's random id, and its member
                # pods (when already listed; they may come later) must carry it in their env too.
                # Requiring listed members would create a second cluster when the lost answer came
                # before RunPod placed any member pod.
                _, listed = self.api.call("GET", "/clusters")
                found = (listed or {}).get("clusters", [])
                ids = self.named_own_clusters(found, self.list_pods(cluster_pods=True))
                hits = [c for c in found if c["id"] in ids]
                return hits[0] if hits else None

            cluster = self.create_once("/clusters", body, find)
            self.state["cluster"] = {"id": cluster["id"], "name": name, "type": self.p["cluster_type"]}
            self.save()
            self.created.append(name)
            self.changed = True
        if self.state.get("cluster", {}).get("id") != cluster["id"]:
            self.state["cluster"] = {
                "id": cluster["id"],
                "name": cluster["name"],
                "type": cluster.get("type"),
            }
            self.save()
        members = [
            p
            for p in self.list_pods(cluster_pods=True)
            if (p.get("cluster") or {}).get("id") == cluster["id"]
        ]
        ready = self.wait_cluster(cluster, members)
        order = sorted(
            ready.values(), key=lambda p: (p["cluster"].get("rank") is None, p["cluster"].get("rank") or 0)
        )
        hosts = [self.host(p, i == 0) for i, p in enumerate(order)]
        return {
            "pods": hosts,
            "foreign": foreign,
            "surplus": [],
            "cluster": {
                "id": cluster["id"],
                "name": cluster["name"],
                "type": cluster.get("type"),
                "data_center": cluster.get("dataCenterId"),
            },
        }

    def wait_cluster(self, cluster: dict, members: list[dict]) -> dict:
        deadline = time.monotonic() + self.p["wait_timeout"]
        count = self.p["pod_count"]
        while True:
            names = sorted(p["name"] for p in members)
            if len(members) >= count and all(p.get("cluster", {}).get("rank") is not None for p in members):
                return self.wait_pods(names, {p["name"]: p for p in members}, cluster_id=cluster["id"])
            if time.monotonic() > deadline:
                raise RunpodError(
                    f"cluster {cluster['name']} ({cluster['id']}): {len(members)} of {count} member pods "
                    f"after {self.p['wait_timeout']:.0f} s"
                )
            time.sleep(self.p["poll_interval"])
            members = [
                p
                for p in self.list_pods(cluster_pods=True)
                if (p.get("cluster") or {}).get("id") == cluster["id"]
            ]

    # -- absent -----------------------------------------------------------------------------
    def absent(self) -> dict:
        if not self.dep and not self.state.get("pods") and not self.state.get("cluster"):
            pods = self.list_pods(cluster_pods=True)
            foreign = self.foreign_pods(pods)
            if foreign:
                self.warnings.append(
                    f"no state file ({self.p['state_file']}) and no runpod_pods_deployment_id: nothing is known "
                    f"to be this deployment's; {len(foreign)} pod(s) with this cluster's names left alone"
                )
            return {"pods": [], "foreign": foreign, "deleted": []}
        pods = self.list_pods(cluster_pods=True)
        foreign = self.foreign_pods(pods)
        deleted, survivors = [], []
        # Clusters first: recorded, or holding member pods with this deployment's id.
        _, listed = self.api.call("GET", "/clusters")
        cluster_ids = self.own_cluster_ids(pods) | self.named_own_clusters(
            (listed or {}).get("clusters", []), pods
        )
        if self.state.get("cluster"):
            cluster_ids.add(self.state["cluster"]["id"])
        for cid in sorted(cluster_ids):
            status, _ = self.api.call("DELETE", f"/clusters/{cid}", expect=(204, 404))
            deleted.append(
                {"name": (self.state.get("cluster") or {}).get("name", cid), "id": cid, "kind": "cluster"}
            )
            self.changed = self.changed or status == 204
        doomed = [p for p in pods if self.own(p) and not p.get("cluster")]

        def delete(pod):
            try:
                status, _ = self.api.call("DELETE", f"/pods/{pod['id']}", expect=(204, 404))
                return pod, status
            except RunpodError as exc:
                return pod, str(exc)

        with ThreadPoolExecutor(self.p["api_concurrency"]) as pool:
            for pod, status in pool.map(delete, doomed):
                if status in (204, 404):
                    deleted.append({"name": pod["name"], "id": pod["id"], "kind": "pod"})
                    self.changed = self.changed or status == 204
        left = self.list_pods(cluster_pods=True)
        gone_ids = {d["id"] for d in deleted}
        survivors = [
            pod_summary(p)
            for p in left
            if p.get("status") != "TERMINATED"
            and (
                (p["id"] in {d["id"] for d in doomed})
                or ((p.get("cluster") or {}).get("id") in cluster_ids and self.own(p))
            )
        ]
        if survivors:
            # Cluster members go with their cluster (kept in the state file): only plain pods are
            # recorded as pods (the pod endpoints refuse to delete a member).
            members = {p["id"] for p in left if p.get("cluster")}
            self.state["pods"] = [
                {"id": s["id"], "name": s["name"]} for s in survivors if s["id"] not in members
            ]
            self.save()
            raise RunpodError(
                f"could not delete {len(survivors)} pod(s): "
                + ", ".join(f"{s['name']} ({s['id']}, {s['status']})" for s in survivors)
                + f"; they are kept in {self.p['state_file']}, run teardown again"
            )
        del gone_ids
        if os.path.exists(self.p["state_file"]):
            os.unlink(self.p["state_file"])
            self.changed = True
        return {"pods": [], "foreign": foreign, "deleted": deleted}

    def stats_note(self) -> str:
        s = self.api.stats
        return f" [API: {s['requests']} requests, {s['rate_limited']} rate limited]"

    def run(self) -> dict:
        if self.p["state"] == "absent":
            out = self.absent()
        elif self.p["mode"] == "cluster":
            out = self.cluster_present()
        else:
            out = self.pods_present()
        out.update(
            changed=self.changed,
            deployment_id=self.dep,
            created=self.created,
            started=self.started,
            placement=self.placement,
            warnings_seen=self.warnings,
        )
        return out


ARGS = dict(
    api_url=dict(type="str", required=True),
    api_key=dict(type="str", required=True, no_log=True),
    api_timeout=dict(type="int", default=30),
    api_retries=dict(type="int", default=5),
    api_concurrency=dict(type="int", default=4),
    rate_limit_max_wait=dict(type="float", default=60),
    rate_limit_retries=dict(type="int", default=30),
    backoff_base=dict(type="float", default=1.0),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    mode=dict(type="str", default="pods", choices=["pods", "cluster"]),
    cluster_type=dict(type="str", default="TRAINING", choices=["TRAINING", "SLURM"]),
    cluster_name=dict(type="str", required=True),
    deployment_id=dict(type="str", default=""),
    state_file=dict(type="path", required=True),
    worker_count=dict(type="int", default=1),
    pod_count=dict(type="int", default=2),
    image=dict(type="str", default=""),
    gpu_type=dict(type="str", default=""),
    gpu_count=dict(type="int", default=1),
    cloud=dict(type="str", default="SECURE"),
    data_center_ids=dict(type="list", elements="str", default=[]),
    container_disk_gb=dict(type="int", default=40),
    volume_gb=dict(type="int", default=20),
    volume_path=dict(type="str", default="/workspace"),
    ports=dict(type="list", elements="str", default=[]),
    env=dict(type="dict", default={}, no_log=True),
    public_key=dict(type="str", default=""),
    start_ssh=dict(type="bool", default=True),
    wait_timeout=dict(type="float", default=900),
    poll_interval=dict(type="float", default=10),
)


def reconcile(params: dict) -> dict:
    """Run with plain parameters (the module's, or a test's); raises RunpodError on failure."""
    p = {k: params.get(k, v.get("default")) for k, v in ARGS.items()}
    p["env"] = {str(k): str(v) for k, v in (p["env"] or {}).items()}
    api = Api(
        p["api_url"],
        p["api_key"],
        p["api_timeout"],
        p["api_retries"],
        p["rate_limit_max_wait"],
        p["rate_limit_retries"],
        p["backoff_base"],
    )
    rec = Reconciler(p, api)
    try:
        out = rec.run()
    except RunpodError as exc:
        exc.api = api.stats  # type: ignore[attr-defined]
        exc.deployment_id = rec.dep  # type: ignore[attr-defined]
        raise
    out["api"] = dict(api.stats, rate_limit_wait_s=round(api.stats["rate_limit_wait_s"], 2))
    return out


def main():
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=False)
    try:
        out = reconcile(module.params)
    except RunpodError as exc:
        api = getattr(exc, "api", {})
        module.fail_json(msg=str(exc), api=api, deployment_id=getattr(exc, "deployment_id", ""))
    # Also returned as `notes`: the role's task runs with no_log, which hides module warnings.
    out["notes"] = out.pop("warnings_seen")
    for warning in out["notes"]:
        module.warn(warning)
    for f in out["foreign"]:
        module.warn(f"left alone, not this deployment's: {f['name']} ({f['id']}, {f['status']})")
    module.exit_json(**out)


if __name__ == "__main__":
    main()
