"""Runs ansible-playbook from the project's venv against the project's ansible/ folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = ROOT / "ansible"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


@dataclass
class Run:
    rc: int
    out: str
    recap: dict[str, dict[str, int]]

    def changed(self, host: str | None = None) -> int:
        hosts = [host] if host else list(self.recap)
        return sum(self.recap[h]["changed"] for h in hosts)

    def changed_tasks(self) -> list[str]:
        """'TASK [...]' headers of the tasks that reported a change (for failure messages)."""
        out, header = [], ""
        for line in self.out.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                header = line.rstrip(" *")
            elif line.startswith("changed:"):
                out.append(f"{header} {line}")
        return out


RECAP_RE = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", re.M)


def parse_recap(out: str) -> dict[str, dict[str, int]]:
    tail = out.rsplit("PLAY RECAP", 1)[-1]
    recap = {}
    for host, counts in RECAP_RE.findall(tail):
        recap[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return recap


def playbook(
    playbook: str | Path,
    *args: str,
    env: dict[str, str] | None = None,
    inventory: str | Path | None = None,
    timeout: float = 600,
    log_path: Path | None = None,
) -> Run:
    """ansible-playbook PLAYBOOK ARGS with ansible/ansible.cfg; stdout+stderr in one string."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "RUNPOD_API_KEY"}
    full_env.update(
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str((log_path.parent if log_path else Path("/tmp")) / "ansible-local"),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    if log_path:
        full_env["ANSIBLE_LOG_PATH"] = str(log_path)
    full_env.update(env or {})
    cmd = [tool("ansible-playbook")]
    if inventory:
        cmd += ["-i", str(inventory)]
    cmd += [str(playbook), *args]
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, parse_recap(proc.stdout))
