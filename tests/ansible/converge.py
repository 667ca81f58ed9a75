"""Shared plumbing for the converge tests: an inventory for namespaced hosts (nshost.Cluster)."""

from __future__ import annotations

from pathlib import Path

import yaml

PERSIST_DIR = "/opt/workspace/gpuwatch"  # stands in for the pod's /workspace volume (overlaid /opt)


def write_inventory(cluster, path: Path, controller: str, extra_vars: dict | None = None) -> Path:
    """Writes the inventory to PATH; returns the extra-vars file to pass as -e @FILE."""
    hosts = {}
    for i, h in enumerate(cluster.hosts):
        hosts[h.name] = {
            "runpod_pod_id": h.name,
            "runpod_pod_name": "gw-ci-head" if h.name == controller else f"gw-ci-worker-{i}",
            "runpod_pod_role": "head" if h.name == controller else "compute",
            "runpod_pod_cost": 0.69,
            "runpod_internal_dns": f"{h.name}.runpod.internal",
        }
    inv = {
        "all": {
            "vars": {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_common_args": f"-F {cluster.ssh_config}",
            },
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                }
            },
            "children": {
                "slurm_controller": {"hosts": {controller: hosts[controller]}},
                "slurm_compute": {"hosts": hosts},
                "runpod_managed_slurm": {},  # configure.yml excludes it (RunPod-managed Slurm)
            },
        }
    }
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    # Settings that must win over ansible/group_vars go in as extra vars (highest precedence):
    # above all the persistent folder, which must lie inside the hosts' overlaid folders.
    extra = {"gpuwatch_persist_dir": PERSIST_DIR, **(extra_vars or {})}
    extra_path = path.with_name(path.stem + "-extra.yml")
    extra_path.write_text(yaml.safe_dump(extra, sort_keys=False))
    return extra_path
