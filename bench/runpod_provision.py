"""RunPod provisioning at scale: ansible/provision.yml against the local RunPod v2 stand-in with
its rate limit on, a 1-pod deployment beside a 10- and a 50-pod one in the same run.

Each size gets a fresh stand-in with the same settings: a per-key quota of QUOTA requests per
WINDOW_S seconds (RunPod's `minute` window compressed in time; 429 with Retry-After and the
RateLimit headers past it), pods that take BOOT_S seconds from create to RUNNING. What is
measured: the playbook's wall time, requests the stand-in served, 429s it answered against 429s
the playbook reports having waited out (every one must be honoured), the pauses taken on an
exhausted window before any 429, and the ratio to the 1-pod wall time (the goal: well under
the pod count, since creates run in parallel within the quota and one poll covers every pod).

    python bench/runpod_provision.py [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load_standin():
    """The stand-in lives beside the Ansible tests; loaded by path (no sys.path edits)."""
    path = ROOT / "tests" / "ansible" / "runpod_standin.py"
    spec = importlib.util.spec_from_file_location("runpod_standin", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("runpod_standin", mod)
    spec.loader.exec_module(mod)
    return mod


RunpodStandin = _load_standin().RunpodStandin

KEY = "rpa_BENCH_" + "5a" * 16
QUOTA, WINDOW_S = 10, 2.0
START_S, RUN_S = 2.0, 3.0
POLL_S = 1.0
SUMMARY = re.compile(
    r"API: (\d+) requests, (\d+) rate-limit answers \(429\) honoured \(([\d.]+) s waited\), "
    r"(\d+) pauses for an exhausted quota window, (\d+) retries"
)


def provision(pods: int, work: Path) -> dict:
    key = work / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    state = work / f"state-{pods}.json"
    with RunpodStandin(KEY, start_s=START_S, run_s=RUN_S, rate_limit=(QUOTA, WINDOW_S)) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(
            RUNPOD_API_KEY=KEY,
            ANSIBLE_CONFIG=str(ROOT / "ansible" / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(work / "ansible-local"),
        )
        cmd = [
            str(Path(sys.executable).parent / "ansible-playbook"),
            str(ROOT / "ansible" / "provision.yml"),
            "-e",
            f"runpod_pods_api_url={api.url}",
            "-e",
            f"runpod_pods_ssh_public_key_file={key}.pub",
            "-e",
            f"runpod_pods_state_file={state}",
            "-e",
            f"runpod_pods_worker_count={pods - 1}",
            "-e",
            f"runpod_pods_wait_delay={POLL_S}",
            "-e",
            "runpod_pods_api_retry_delay=0.5",
            "-e",
            "gpuwatch_cluster_name=bench",
        ]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        wall = time.monotonic() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{pods}-pod provision failed:\n{proc.stdout[-3000:]}")
        flat = " ".join(proc.stdout.split())
        m = SUMMARY.search(flat)
        if not m:
            raise RuntimeError(f"no API summary in the output of the {pods}-pod provision")
        running = [p for p in api.live_pods() if p["status"] == "RUNNING"]
        created = [r for r in api.requests("POST", "/v2/pods") if r.status == 201]
        if len(running) != pods or len(api.live_pods()) != pods or len(created) != pods:
            raise RuntimeError(f"{pods}-pod provision: {len(running)} running pods, {len(created)} created")
        return {
            "pods": pods,
            "wall_s": round(wall, 2),
            "requests_served": len(api.state.requests),
            "requests_reported": int(m.group(1)),
            "answered_429": api.state.too_many,
            "honoured_429": int(m.group(2)),
            "waited_429_s": float(m.group(3)),
            "quota_pauses": int(m.group(4)),
            "retries": int(m.group(5)),
            "creates": len(created),
            "list_polls": len(api.requests("GET", "/v2/pods")),
        }


def run(quick: bool) -> dict:
    sizes = [1, 50] if quick else [1, 10, 50]
    with tempfile.TemporaryDirectory(prefix="gw-bench-runpod-") as tmp:
        rows = [provision(n, Path(tmp)) for n in sizes]
    base = rows[0]["wall_s"]
    for row in rows:
        row["x_one_pod"] = round(row["wall_s"] / base, 2)
        if row["answered_429"] != row["honoured_429"]:
            raise RuntimeError(
                f"{row['pods']} pods: {row['answered_429']} 429s answered, {row['honoured_429']} honoured"
            )
    big = rows[-1]
    return {
        "title": "RunPod provisioning at scale against the stand-in, rate limit on",
        "summary": (
            f"ansible/provision.yml end to end (ansible-playbook start-up, catalog placement, creates, "
            f"waiting, inventory). Stand-in: quota {QUOTA} requests per {WINDOW_S:.0f} s window, pods "
            f"RUNNING {START_S + RUN_S:.0f} s after create, playbook polls every {POLL_S:.0f} s. "
            f"{big['pods']} pods took {big['x_one_pod']}x the 1-pod wall time "
            f"({big['wall_s']} s against {base} s); every 429 answered was waited out."
        ),
        "rows": rows,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    print(json.dumps(run(ap.parse_args().quick), indent=2))
