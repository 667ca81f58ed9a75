"""``make demo``: the whole gpuwatch alert path on this machine, no GPU, Docker or RunPod needed.

Starts, each on its own free 127.0.0.1 port with its own config and data in a temp folder:

- a real single-host Slurm (munge, slurmctld, slurmd with 2 fake GPUs) with a few jobs,
- the Slurm exporter against it,
- two GPU exporters on the simulated backend: node A (the Slurm node) overheats a GPU for a while
  then cools; node B's GPU throws XID 79 about a minute in, falls off the bus, then recovers,
- Prometheus (1 s scrapes and rule evaluation) with the default rule pack compiled with the
  short-interval overlay, Alertmanager (gossip off), and a webhook receiver that prints each
  notification in this terminal.

Half a minute in, the demo also drains the Slurm node with scontrol and resumes it a minute
later. Alerts fire and resolve within about two minutes. Ctrl-C (or SIGTERM) stops everything
the demo started, by PID, and removes its temp folder.

    python -m gpuwatch.localstack.demo [--duration SECONDS] [--keep]
    GPUWATCH_DEMO_DURATION=150 make demo      # stop by itself after 150 s
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .procs import StackError
from .promstack import prom_root, versions
from .stack import GpuNode, LocalStack, fast_overlay
from .webhook import AlertEvent, format_event

# --compose: the exporters on the ports of the static target list that `make up DEMO=1` mounts
# (compose/prometheus/demo-targets/), reachable from the containers via host.docker.internal.
COMPOSE_PORTS = {"demo-node-a": 9400, "demo-node-b": 9401, "slurm": 9341}
DRAIN_AT = 30.0  # seconds after start-up: drain the Slurm node ...
RESUME_AT = 90.0  # ... and resume it


class Stopped(Exception):
    """SIGTERM/SIGINT arrived."""


def _on_signal(signum, _frame):
    raise Stopped(signal.Signals(signum).name)


def packaged_scenario(name: str) -> Path:
    from gpuwatch.exporters.gpu.sim.scenario import packaged

    return Path(packaged(name))


def _fault_text(f) -> str:
    """What one scripted fault does, in words."""
    if f.kind == "overheat":
        return f"GPU {f.gpu} overheats ({f.temperature:.0f} C)"
    if f.kind == "xid":
        return f"GPU {f.gpu} XID {f.xid}" + (", off the bus" if f.xid == 79 and f.until is not None else "")
    if f.kind == "lost":
        return f"GPU {f.gpu} lost"
    if f.kind == "ecc":
        return f"GPU {f.gpu} {f.count} {f.ecc_type} ECC errors"
    if f.kind == "nvml_init_failure":
        return "NVML fails to initialise"
    if f.kind == "hang":
        return f"GPU {f.gpu} NVML calls hang"
    return f.kind


def describe_faults(path: Path) -> list[str]:
    """One line per scripted fault of a scenario file, e.g. ``GPU 1 overheats (94 C) +20s..+80s``."""
    from gpuwatch.exporters.gpu.sim.scenario import load

    lines = []
    for f in load(path).faults:
        span = f"+{f.at:.0f}s" + (f"..+{f.until:.0f}s" if f.until is not None else "")
        lines.append(f"{_fault_text(f)} {span}")
    return lines


def _say(msg: str) -> None:
    print(msg, flush=True)


def _print_event(event: AlertEvent) -> None:
    print(format_event(event), flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="gpuwatch-demo",
        description="Local Slurm + exporters (simulated GPUs) + Prometheus + Alertmanager; notifications print here.",
    )
    env_duration = os.environ.get("GPUWATCH_DEMO_DURATION", "")
    parser.add_argument(
        "--duration",
        type=float,
        default=float(env_duration) if env_duration.strip() else 0.0,
        metavar="SECONDS",
        help="stop by itself after SECONDS (default: $GPUWATCH_DEMO_DURATION, else run until Ctrl-C)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp folder (configs, logs) after stopping"
    )
    parser.add_argument("--no-slurm-actions", action="store_true", help="do not drain/resume the Slurm node")
    parser.add_argument(
        "--compose",
        action="store_true",
        help="also serve the compose stack (make up DEMO=1): exporters on :9400, :9401, :9341 on all interfaces",
    )
    parser.add_argument(
        "--versions",
        choices=["host", "oldest", "trixie", "sid", "newest"],
        default="host",
        help="where Slurm, Prometheus and Alertmanager come from: host (default; Debian 12: Slurm 22.05, "
        "Prometheus 2.42, Alertmanager 0.25, also 'oldest'), trixie (24.11, 2.53, 0.28) or sid (26.05, "
        "3.5 LTS, 0.33, also 'newest'), the last two from a version root built on first use (as root)",
    )
    args = parser.parse_args(argv)
    if args.duration < 0:
        parser.error("--duration must be >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except ValueError:
        print("gpuwatch-demo: GPUWATCH_DEMO_DURATION must be a number of seconds", file=sys.stderr)
        return 2
    from .slurm import SlurmLab, SlurmLabError

    old_term = signal.signal(signal.SIGTERM, _on_signal)
    old_int = signal.signal(signal.SIGINT, _on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="gpuwatch-demo-", dir="/tmp"))
    os.chmod(workdir, 0o755)  # munge and job users must reach the Slurm lab inside it
    lab = stack = None
    seen: Counter = Counter()
    code = 0

    def on_event(event: AlertEvent) -> None:
        seen[(event.alertname, event.status)] += 1
        if event.alertname == "Watchdog" and seen[(event.alertname, event.status)] > 1:
            return
        _print_event(event)

    try:
        _say(f"gpuwatch demo: state in {workdir}")
        prom = prom_root(args.versions)
        _say(f"versions           {args.versions}: {versions(prom)}")
        lab = SlurmLab(workdir / "slurm", root=None if prom.is_host else prom).start()
        _say(f"Slurm              node {lab.node}, SLURM_CONF={lab.conf}")
        for opts in (
            ["-p", "gpu", "--gres=gpu:1", "-J", "train-llm"],
            ["-p", "gpu", "--gres=gpu:1", "-J", "finetune"],
            ["-p", "gpu", "--gres=gpu:2", "-J", "waits-for-gpus"],
            ["-p", "debug", "-J", "preprocess"],
        ):
            lab.sbatch(opts, user="nobody")
        nodes = [
            GpuNode(node=lab.node, scenario=packaged_scenario("demo-node-a"), pod="local-a"),
            GpuNode(node="demo-node-b", scenario=packaged_scenario("demo-node-b"), pod="local-b"),
        ]
        extra: dict[str, Any] = {}
        if args.compose:
            nodes[0].port, nodes[1].port = COMPOSE_PORTS["demo-node-a"], COMPOSE_PORTS["demo-node-b"]
            extra = {"slurm_port": COMPOSE_PORTS["slurm"], "exporter_bind": "0.0.0.0"}
        stack = LocalStack(
            workdir / "stack",
            gpu_nodes=nodes,
            slurm_env=lab.env,
            overlay=fast_overlay(),
            on_event=on_event,
            say=_say,
            prom_root=prom,
            **extra,
        )
        stack.start()
        started = time.monotonic()
        _say("")
        for name, url in stack.urls().items():
            _say(f"{name:<28} {url}")
        slurm_pids = f"munged={lab.munged_pid} slurmctld={lab.slurmctld_pid} slurmd={lab.slurmd_pid}"
        _say("pids " + " ".join(f"{p.name}={p.pid}" for p in _processes(stack)) + " " + slurm_pids)
        if args.compose:
            _say(
                "compose: exporters listen on all interfaces; in another terminal `make up DEMO=1`, Grafana at http://127.0.0.1:3001"
            )
        _say("")
        _say("Timeline (seconds after start):")
        for gpu in nodes:
            for line in describe_faults(gpu.scenario):
                _say(f"  {gpu.node}: {line}")
        if not args.no_slurm_actions:
            _say(f"  {lab.node}: Slurm node drained at +{DRAIN_AT:.0f}s, resumed at +{RESUME_AT:.0f}s")
        _say(
            "Notifications follow (Watchdog, the always-firing dead man's switch, is shown once; Ctrl-C stops the demo):"
        )
        _say("")
        drained = resumed = args.no_slurm_actions
        while True:
            elapsed = time.monotonic() - started
            if args.duration and elapsed >= args.duration:
                _say(f"demo: {args.duration:.0f}s elapsed, stopping")
                break
            if not drained and elapsed >= DRAIN_AT:
                lab.set_node_state("drain", reason="gpuwatch demo: maintenance")
                _say(f"demo: +{elapsed:.0f}s scontrol update NodeName={lab.node} State=DRAIN")
                drained = True
            if not resumed and elapsed >= RESUME_AT:
                lab.set_node_state("resume")
                _say(f"demo: +{elapsed:.0f}s scontrol update NodeName={lab.node} State=RESUME")
                resumed = True
            for proc in _processes(stack):
                if not proc.running():
                    raise StackError(
                        f"{proc.name} (pid {proc.pid}) exited; log {proc.log_path}:\n{proc.log_tail()}"
                    )
            time.sleep(0.5)
    except Stopped as sig:
        _say(f"\ndemo: {sig} received, stopping")
    except (StackError, SlurmLabError) as exc:
        print(f"gpuwatch-demo: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        # Stop even if a second Ctrl-C arrives while stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        # Each part is stopped even when stopping the one before failed (Slurm's daemons must not
        # outlive the demo because an exporter would not die).
        for part in (stack, lab):
            if part is None:
                continue
            try:
                part.stop()
            except Exception as exc:  # noqa: BLE001  (report, keep cleaning up)
                print(f"gpuwatch-demo: while stopping: {exc}", file=sys.stderr)
                code = code or 1
        if args.keep:
            _say(f"demo: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        if seen:
            _say("notifications: " + ", ".join(f"{n} {s} x{c}" for (n, s), c in sorted(seen.items())))
        _say("demo: stopped")
        signal.signal(signal.SIGTERM, old_term)
        signal.signal(signal.SIGINT, old_int)
    return code


def _processes(stack: LocalStack) -> list:
    procs = [stack.alertmanager, stack.prometheus, stack.slurm_exporter] + [
        g.process for g in stack.gpu_nodes
    ]
    return [p for p in procs if p is not None]


if __name__ == "__main__":
    sys.exit(main())
