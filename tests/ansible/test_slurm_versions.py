"""What differs between Slurm versions is decided in one place per consumer: the test lab's
gpuwatch.localstack.slurm.version_quirks() and the slurm_controller role's vars/main.yml. This
checks that the role's choice of CgroupPlugin, evaluated by Ansible itself from the role's own
variables, agrees with the lab's on every version the project tests (and the 23.x in between):
`disabled` from 23.02 on when no plugin uses cgroups, the host's cgroup version before.
The converge test (test_converge.py) then runs the result for real on 22.05 and 24.11.
"""

from __future__ import annotations

import json

import pytest
from playbook_runner import ROOT, playbook

from gpuwatch.localstack.slurm import VERSION_SUITES, version_quirks

pytestmark = pytest.mark.ansible

PROBE = ROOT / "tests" / "ansible" / "playbooks" / "cgroup_probe.yml"
# `slurmctld -V` as Debian and upstream builds print it.
VERSION_OUTPUTS = {
    "22.05": "slurm-wlm 22.05.8",
    "23.02": "slurm 23.02.3",
    "23.11": "slurm-wlm 23.11.4",  # Ubuntu 24.04, the RunPod images
    "24.11": "slurm-wlm 24.11.5",
    "26.05": "slurm-wlm 26.05.5",
}


def test_every_tested_version_is_probed():
    assert set(VERSION_SUITES) <= set(VERSION_OUTPUTS)


def test_role_cgroup_plugin_follows_the_same_version_rule_as_the_lab(tmp_path):
    cases, expected = [], []
    for version, output in VERSION_OUTPUTS.items():
        v = tuple(int(x) for x in version.split("."))
        disabled = "CgroupPlugin=disabled" in version_quirks(v, in_root=True).cgroup_conf
        for cgroup2 in (False, True):
            cases.append({"version_output": output, "cgroup2": cgroup2, "proctrack": "proctrack/linuxproc"})
            expected.append("disabled" if disabled else "cgroup/v2" if cgroup2 else "cgroup/v1")
        # A plugin that uses cgroups keeps the host's cgroup version on every release.
        cases.append({"version_output": output, "cgroup2": True, "proctrack": "proctrack/cgroup"})
        expected.append("cgroup/v2")
    out = tmp_path / "choices.json"
    run = playbook(
        PROBE,
        "-i",
        "localhost,",
        "-e",
        json.dumps({"probe_cases": cases, "probe_out": str(out)}),
        log_path=tmp_path / "probe.log",
        timeout=120,
    )
    assert run.rc == 0, run.out[-4000:]
    got = json.loads(out.read_text())
    assert list(zip(cases, got, strict=True)) == list(zip(cases, expected, strict=True))
