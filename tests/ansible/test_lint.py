"""ansible-lint (production profile, offline: no Galaxy) and --syntax-check of every playbook."""

from __future__ import annotations

import os
import subprocess

import pytest
from playbook_runner import ANSIBLE_DIR, ROOT, tool

pytestmark = pytest.mark.ansible

PLAYBOOKS = sorted(p.name for p in ANSIBLE_DIR.glob("*.yml") if p.name != "requirements.yml")


def env():
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "NO_COLOR": "1",
    }


def test_every_playbook_is_listed():
    assert PLAYBOOKS == ["configure.yml", "provision.yml", "site.yml", "teardown.yml"]


def test_ansible_lint_production_profile():
    proc = subprocess.run(
        [tool("ansible-lint"), "--offline", "--profile", "production", "--nocolor", "ansible/"],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax_check(playbook):
    proc = subprocess.run(
        [tool("ansible-playbook"), "--syntax-check", str(ANSIBLE_DIR / playbook)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_control_scripts_refresh_package_lists_before_reinstalling():
    """After a pod restart the container disk is the image's again, whose apt lists are usually
    removed: a bare `apt-get install` there fails, and start.sh with it. Every control script
    reinstalls through the shared macro, which runs `apt-get update` first."""
    scripts = sorted(ANSIBLE_DIR.glob("roles/*/templates/*-ctl.sh.j2"))
    reinstalling = [p for p in scripts if "ctl.reinstall_if_missing(" in p.read_text()]
    assert len(reinstalling) >= 3, scripts
    assert not [p for p in scripts if "apt-get install" in p.read_text()]  # only through the macro
    lines = (ANSIBLE_DIR / "templates" / "daemon-ctl.sh.j2").read_text().splitlines()
    installs = [i for i, line in enumerate(lines) if "apt-get install" in line]
    assert installs
    for i in installs:
        assert any("apt-get update" in prev for prev in lines[max(0, i - 3) : i]), f"daemon-ctl.sh.j2:{i + 1}"
