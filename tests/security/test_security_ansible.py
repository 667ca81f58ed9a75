"""Audit of the Ansible content: every task that handles a secret value hides its output
(``no_log: true``), and tasks that write secret files (munge key, web config, API key, password
files) give them modes without access for other users.

Static checks over ``ansible/**/*.yml`` (tasks, handlers, playbooks; blocks followed); the
converge tests exercise the same tasks for real.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"

# a Jinja expression using a variable whose name says it holds a secret value (not a path to one)
SECRET_VAR = re.compile(
    r"\{\{[^}]*\b(\w*(?:password|passwd|api_key|apikey|secret|token|webhook_url|slack_url)\w*)\b[^}]*\}\}",
    re.I,
)
NOT_A_VALUE = re.compile(r"(_file|_path|_dir|_files|_name|_user|_length|_min_length)$", re.I)
SECRET_DEST = re.compile(
    r"(munge\.key|munge_key|web[-_]config|web\.yml|api[-_]key|password|secret|\.pass$)", re.I
)
WRITERS = ("copy", "template", "file", "get_url")
# modules that move a file's content (unlike `file`, which sets owner and mode)
CONTENT_MOVERS = ("copy", "template", "get_url", "fetch")
TASK_LISTS = ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always")


def _tasks(node, inherited_no_log=False, where=""):
    """Yield (task, no_log in effect, location) for every task in a task list, blocks followed."""
    if not isinstance(node, list):
        return
    for i, task in enumerate(node):
        if not isinstance(task, dict):
            continue
        no_log = (
            bool(task.get("no_log", inherited_no_log)) if not isinstance(task.get("no_log"), str) else True
        )
        loc = f"{where}[{i}] {task.get('name', '')}"
        nested = False
        for key in ("block", "rescue", "always"):
            if key in task:
                nested = True
                yield from _tasks(task[key], no_log, f"{loc} {key}")
        if not nested:
            yield task, no_log, loc


def all_tasks(root: Path):
    for path in sorted(root.rglob("*.yml")):
        rel = path.relative_to(root)
        parts = rel.parts
        if (
            "meta" in parts
            or "defaults" in parts
            or "vars" in parts
            or "group_vars" in parts
            or "host_vars" in parts
        ):
            continue
        if "templates" in parts or "files" in parts:
            continue
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue  # ansible-lint reports syntax; this audit reads what parses
        if isinstance(doc, list) and doc and all(isinstance(x, dict) for x in doc):
            if any("hosts" in x or "import_playbook" in x for x in doc):  # a playbook
                for play in doc:
                    for key in TASK_LISTS:
                        yield from (
                            (t, nl, f"{rel} {key}{loc}")
                            for t, nl, loc in _tasks(play.get(key), bool(play.get("no_log")), "")
                        )
            else:
                yield from ((t, nl, f"{rel}{loc}") for t, nl, loc in _tasks(doc))


def secret_vars(task: dict) -> set[str]:
    body = {
        k: v
        for k, v in task.items()
        if k not in ("name", "no_log", "when", "tags", "fail_msg", "success_msg")
    }
    text = yaml.safe_dump(body, default_flow_style=True, width=10**6)
    return {m.group(1) for m in SECRET_VAR.finditer(text) if not NOT_A_VALUE.search(m.group(1))}


def module_of(task: dict) -> tuple[str, dict]:
    for key, value in task.items():
        short = key.rsplit(".", 1)[-1]
        if short in WRITERS or short in CONTENT_MOVERS:
            return short, value if isinstance(value, dict) else {}
    return "", {}


def audit(root: Path) -> list[str]:
    problems = []
    for task, no_log, loc in all_tasks(root):
        used = secret_vars(task)
        if used and not no_log:
            problems.append(f"{loc}: uses {', '.join(sorted(used))} without no_log: true")
        module, args = module_of(task)
        dest = str(args.get("dest") or args.get("path") or "")
        src = str(args.get("src") or "")
        if module in CONTENT_MOVERS and (SECRET_DEST.search(dest) or SECRET_DEST.search(src)) and not no_log:
            problems.append(f"{loc}: moves secret content ({src or dest}) without no_log: true")
        if (
            module in WRITERS
            and SECRET_DEST.search(dest)
            and args.get("state", "file") not in ("directory", "absent")
        ):
            mode = str(args.get("mode", ""))
            if not re.fullmatch(r"0?[0-7][0-7]0", mode.strip("'\"")):
                problems.append(
                    f"{loc}: writes {dest} with mode {mode or '(none)'}; others must get no access"
                )
    return problems


def test_audit_catches_samples(tmp_path):
    tasks = tmp_path / "roles" / "x" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(
        "- name: leaks\n  ansible.builtin.uri:\n    url: https://api.invalid\n    headers: {Authorization: 'Bearer {{ x_api_key }}'}\n"
        "- name: hidden\n  ansible.builtin.uri:\n    headers: {Authorization: 'Bearer {{ x_api_key }}'}\n  no_log: true\n"
        "- name: path only\n  ansible.builtin.stat:\n    path: '{{ x_password_file }}'\n"
        "- block:\n    - name: in a hidden block\n      ansible.builtin.command: {argv: [x], stdin: '{{ x_password }}'}\n  no_log: true\n"
        "- name: open key\n  ansible.builtin.copy:\n    src: a\n    dest: /etc/munge/munge.key\n    mode: '0644'\n"
        "- name: tight key\n  ansible.builtin.copy:\n    src: a\n    dest: /etc/munge/munge.key\n    mode: '0400'\n  no_log: true\n"
        "- name: shown key\n  ansible.builtin.copy:\n    src: /etc/munge/munge.key\n    dest: /x/k\n    mode: '0400'\n"
        "- name: mode only\n  ansible.builtin.file:\n    path: /etc/munge/munge.key\n    mode: '0400'\n"
    )
    found = audit(tmp_path)
    assert len(found) == 4, found
    assert "leaks" in found[0] and "x_api_key" in found[0]
    assert "open key" in found[1] and "without no_log" in found[1]
    assert "open key" in found[2] and "0644" in found[2]
    assert "shown key" in found[3] and "/etc/munge/munge.key" in found[3]


def test_ansible_hides_secrets_and_protects_secret_files():
    assert ANSIBLE.is_dir(), "ansible/ is part of the repository"
    tasks = list(all_tasks(ANSIBLE))
    assert len(tasks) > 20  # the audit really read the roles
    assert audit(ANSIBLE) == []
