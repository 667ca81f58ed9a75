"""The control scripts (*-ctl.sh) rendered as the template module renders them, from one shared
set of macros (ansible/templates/daemon-ctl.sh.j2): valid sh, the pid-file guard in each, and
start/stop/restart/status (and extra commands) really working against a stand-in daemon."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time

import pytest
from playbook_runner import ANSIBLE_DIR

from gpuwatch.testing import pid_alive

pytestmark = pytest.mark.ansible

VARS = {
    "ansible_managed": "Managed by gpuwatch Ansible",
    "munge_pid_file": "/run/munge/munged.pid",
    "munge_key_path": "/etc/munge/munge.key",
    "munge_socket": "/run/munge/munge.socket.2",
    "munge_persist_dir": "/workspace/gpuwatch",
    "munge_packages": ["munge"],
    "munge_user": "munge",
    "munge_group": "munge",
    "munge_log_file": "/var/log/munge/munged.log",
    "munge_seed_file": "/var/lib/munge/munge.seed",
    "slurm_controller_pid_file": "/run/slurm/slurmctld.pid",
    "slurm_controller_config_dir": "/etc/slurm",
    "slurm_controller_persist_dir": "/workspace/gpuwatch",
    "slurm_controller_packages": ["slurmctld", "slurm-client"],
    "slurm_controller_log_file": "/var/log/slurm/slurmctld.log",
    "slurm_controller_state_dir": "/workspace/gpuwatch/slurmctld",
    "slurm_controller_user": "slurm",
    "slurm_compute_pid_file": "/run/slurm/slurmd.pid",
    "slurm_compute_conf_server": "head.runpod.internal:6817",
    "slurm_compute_spool_dir": "/var/spool/slurmd",
    "slurm_compute_conf_server_wait": 120,
    "slurm_compute_packages": ["slurmd", "slurm-client"],
    "slurm_compute_log_file": "/var/log/slurm/slurmd.log",
    "gpuwatch_exporters_venv": "/workspace/gpuwatch/venv",
    "gpuwatch_exporters_supervisord_conf": "/workspace/gpuwatch/etc/supervisord.conf",
    "gpuwatch_exporters_run_dir": "/run/gpuwatch",
    "gpuwatch_exporters_user": "gpuwatch",
    "gpuwatch_exporters_log_dir": "/var/log/gpuwatch",
}
SCRIPTS = {
    "munged": ("munge", "munge-ctl.sh.j2"),
    "slurmctld": ("slurm_controller", "slurmctld-ctl.sh.j2"),
    "slurmd": ("slurm_compute", "slurmd-ctl.sh.j2"),
    "supervisord": ("gpuwatch_exporters", "gpuwatch-exporters-ctl.sh.j2"),
}


def render(role: str, name: str, variables: dict | None = None) -> str:
    """The template as ansible.builtin.template renders it (same search path: role, playbooks)."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar

    src = ANSIBLE_DIR / "roles" / role / "templates" / name
    templar = Templar(loader=DataLoader(), variables={**VARS, **(variables or {})})
    templar.environment.loader.searchpath = [
        str(src.parent),
        str(src.parent.parent),
        str(ANSIBLE_DIR / "templates"),
        str(ANSIBLE_DIR),
    ]
    return templar.do_template(src.read_text(), preserve_trailing_newlines=True, escape_backslashes=False)


@pytest.mark.parametrize("daemon", sorted(SCRIPTS))
def test_rendered_script_is_valid_sh_with_the_shared_guard(daemon, tmp_path):
    text = render(*SCRIPTS[daemon])
    assert text.startswith("#!/bin/sh\n#\n# Managed by gpuwatch Ansible\n")
    for part in ("running() {", "start() {", "stop() {", 'case "${1:-}" in', "State:[[:space:]]*Z"):
        assert part in text, part
    assert "{{" not in text and "{%" not in text
    script = tmp_path / "ctl.sh"
    script.write_text(text)
    r = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["sh", str(script), "bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("usage: ")


def test_exporters_script_lists_its_extra_commands():
    text = render(*SCRIPTS["supervisord"])
    assert "usage: $0 start|stop|restart|update|restart-programs|status" in text
    assert "  update) if running; then ctl update; else start; fi ;;" in text
    assert '  status) if running; then ctl status; else echo "supervisord stopped"; exit 3; fi ;;' in text


def test_guard_start_stop_status_against_a_stand_in_daemon(tmp_path):
    """The slurmctld script with its daemon replaced by a Python sleeper that writes its pid file:
    status 3 when stopped, start once (a second start finds it running), stop by PID, and a stale
    pid file (a PID that is not the daemon) does not count as running."""
    pidfile = tmp_path / "run" / "slurmctld.pid"
    text = render(
        *SCRIPTS["slurmctld"],
        {
            "slurm_controller_pid_file": str(pidfile),
            "slurm_controller_config_dir": str(tmp_path / "etc"),
            "slurm_controller_persist_dir": str(tmp_path / "persist"),
            "slurm_controller_log_file": str(tmp_path / "log" / "slurmctld.log"),
            "slurm_controller_state_dir": str(tmp_path / "state"),
            "slurm_controller_user": pwd.getpwuid(os.getuid()).pw_name,
        },
    )
    daemon = tmp_path / "bin" / "slurmctld"
    daemon.parent.mkdir()
    # comm must start with "slurmctld" for running(); exec -a sets argv[0], prctl sets comm
    daemon.write_text(
        "#!/bin/sh\n"
        f"exec {sys.executable} -c '"
        "import ctypes, os, sys, time\n"
        'ctypes.CDLL(None).prctl(15, b"slurmctld", 0, 0, 0)\n'
        "if os.fork(): sys.exit(0)\n"
        "os.setsid()\n"
        f'open("{pidfile}", "w").write(str(os.getpid()))\n'
        "time.sleep(300)\n' </dev/null >/dev/null 2>&1\n"  # a daemon keeps no caller's pipe open
    )
    daemon.chmod(0o755)
    text = text.replace("/usr/sbin/slurmctld", str(daemon))
    script = tmp_path / "ctl.sh"
    script.write_text(text)

    def ctl(*args):
        return subprocess.run(["sh", str(script), *args], capture_output=True, text=True, timeout=60)

    assert ctl("status").returncode == 3
    pidfile.parent.mkdir()
    pidfile.write_text(str(os.getpid()))  # a live PID, but not slurmctld: stale
    assert ctl("status").returncode == 3
    pid = 0
    try:
        r = ctl("start")
        assert r.returncode == 0 and r.stdout.startswith("slurmctld started (pid "), r.stdout + r.stderr
        pid = int(pidfile.read_text())
        assert pid_alive(pid)
        assert ctl("start").stdout.startswith(f"slurmctld running (pid {pid})")
        assert ctl("status").returncode == 0
        r = ctl("stop")
        assert r.returncode == 0 and r.stdout.strip() == "slurmctld stopped"
        deadline = time.monotonic() + 5
        while pid_alive(pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not pidfile.exists() and ctl("status").returncode == 3
    finally:
        if not pid and pidfile.exists() and pidfile.read_text().strip() != str(os.getpid()):
            pid = int(pidfile.read_text())
        if pid and pid_alive(pid):
            os.kill(pid, 9)
