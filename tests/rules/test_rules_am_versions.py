"""Receivers per Alertmanager version (--alertmanager-version 0.25 ... 0.34 and newer): every
receiver type of a version compiles, with its secrets moved to the *_file keys that version has;
types, keys and *_file forms a version lacks are refused with the version that brings them.
The 0.25 output is checked live by the real amtool (the host's Alertmanager); the other versions
by the generated configs (amversions.py is read off Alertmanager's source at each tag)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gpuwatch.rules import amversions
from gpuwatch.rules.cli import cli

try:  # conftest's module name depends on pytest's import mode
    from conftest import require_programs
except ImportError:  # pragma: no cover
    from tests.conftest import require_programs

VERSIONS = ["0.25", "0.26", "0.27", "0.28", "0.29", "0.30", "0.31", "0.32", "0.33", "0.34", "0.40"]
RUNBOOK = ["--runbook-url", "https://runbooks.example.org/gpuwatch"]

# one minimal config per receiver type; secrets as ${ENV} (written to --secrets-dir)
CONFIGS: dict[str, dict[str, Any]] = {
    "discord_configs": {"webhook_url": "${DISCORD_URL}"},
    "email_configs": {"to": "ops@example.org", "auth_password": "${SMTP_PASSWORD}"},
    "opsgenie_configs": {"api_key": "${OPSGENIE_KEY}"},
    "pagerduty_configs": {"routing_key": "${PD_KEY}"},
    "pushover_configs": {"user_key": "${PO_USER}", "token": "${PO_TOKEN}"},
    "slack_configs": {"api_url": "${SLACK_URL}", "channel": "#gpu"},
    "sns_configs": {"topic_arn": "arn:aws:sns:us-east-1:123456789012:gpu", "sigv4": {"region": "us-east-1"}},
    "telegram_configs": {"bot_token": "${TG_TOKEN}", "chat_id": 42},
    "victorops_configs": {"api_key": "${VO_KEY}", "routing_key": "gpu"},
    "webex_configs": {"room_id": "room", "http_config": {"authorization": {"credentials": "${WEBEX_TOKEN}"}}},
    "webhook_configs": {"url": "${HOOK_URL}"},
    "wechat_configs": {"api_secret": "${WECHAT_SECRET}", "corp_id": "corp", "to_user": "u", "agent_id": "1"},
    "msteams_configs": {"webhook_url": "${TEAMS_URL}"},
    "jira_configs": {
        "api_url": "https://jira.example.org",
        "project": "OPS",
        "issue_type": "Bug",
        "http_config": {"basic_auth": {"username": "bot", "password": "${JIRA_PASSWORD}"}},
    },
    "msteamsv2_configs": {"webhook_url": "${TEAMS2_URL}"},
    "rocketchat_configs": {"token": "${RC_TOKEN}", "token_id": "${RC_TOKEN_ID}", "channel": "#gpu"},
    "incidentio_configs": {
        "url": "https://api.incident.io/v2/alert_events/http/x",
        "alert_source_token": "${INC_TOKEN}",
    },
    "mattermost_configs": {"webhook_url": "${MM_URL}"},
}
ENV = {
    name: f"secret-value-{name.lower()}"
    for c in CONFIGS.values()
    for name in re.findall(r"\$\{(\w+)\}", repr(c))
}
GLOBAL = {"smtp_smarthost": "smtp.example.org:587", "smtp_from": "gpuwatch@example.org"}


def v(text: str) -> tuple[int, int]:
    a, b = text.split(".")
    return int(a), int(b)


INLINE_HOOK = {"url": "http://127.0.0.1:9/hook"}  # 0.25: a webhook URL is a plain URL, no url_file


def config(kind: str, version: tuple[int, int]) -> dict[str, Any]:
    return INLINE_HOOK if kind == "webhook_configs" and version < (0, 26) else CONFIGS[kind]


def secrets_of(kind: str, version: tuple[int, int]) -> list[tuple[str, str]]:
    """(place, field) of every secret the minimal config of ``kind`` sets."""
    out: list[tuple[str, str]] = []

    def walk(m: dict, place: str) -> None:
        for k, val in m.items():
            if isinstance(val, dict):
                walk(val, k)
            elif isinstance(val, str) and val.startswith("${"):
                out.append((place, k))

    walk(config(kind, version), kind)
    return out


def usable(kind: str, version: tuple[int, int]) -> bool:
    """A receiver type gpuwatch can configure for ``version``: it exists there and each of its
    secrets has a *_file form there (an inline secret is always refused)."""
    if version < amversions.RECEIVERS[kind]:
        return False
    return all(amversions.secret_table(p, version).get(f, "x") != "" for p, f in secrets_of(kind, version))


def notifications(kinds: list[str], version: tuple[int, int] = (0, 40)) -> str:
    doc = {
        "global": GLOBAL,
        "route": {
            "receiver": kinds[0],
            "routes": [{"matchers": [f'alertname="{k}"'], "receiver": k} for k in kinds[1:]],
        },
        "receivers": [{"name": k, k: [config(k, version)]} for k in kinds],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def compile_with(tmp: Path, text: str, version: str) -> Any:
    nf = tmp / "notifications.yml"
    nf.write_text(text)
    args = [
        "compile",
        "--notifications",
        str(nf),
        "--alertmanager-version",
        version,
        "--secrets-dir",
        str(tmp / "s"),
    ]
    return CliRunner().invoke(cli, [*args, *RUNBOOK, "-o", str(tmp / "out")], env=ENV)


@pytest.mark.parametrize("version", VERSIONS)
def test_every_receiver_type_of_a_version_compiles(tmp_path: Path, version: str) -> None:
    ver = v(version)
    kinds = [k for k in amversions.receivers(ver) if usable(k, ver)]
    r = compile_with(tmp_path, notifications(kinds, ver), version)
    assert r.exit_code == 0, r.stderr
    text = (tmp_path / "out/alertmanager/alertmanager.yml").read_text()
    assert "secret-value" not in text
    cfg = yaml.safe_load(text)
    got = {k for rc in cfg["receivers"] for k in rc if k != "name"}
    assert got == set(kinds)
    for rc in cfg["receivers"]:
        kind = next(k for k in rc if k != "name")
        c = rc[kind][0]
        for place, field in secrets_of(kind, ver):
            node = c if place == kind else _find(c, place)
            file_key = amversions.secret_table(place, ver)[field]
            assert field not in node and node[file_key] == str(tmp_path / "s" / _env_name(kind, place, field))
    # 0.25 keeps today's webhook: an inline url (no url_file there); from 0.26 ${ENV} -> url_file
    hook = next(rc["webhook_configs"][0] for rc in cfg["receivers"] if "webhook_configs" in rc)
    assert hook == (
        {"url": INLINE_HOOK["url"]} if ver == (0, 25) else {"url_file": str(tmp_path / "s/HOOK_URL")}
    )


def _find(m: dict, key: str) -> dict:
    for k, val in m.items():
        if k == key:
            return val
        if isinstance(val, dict):
            try:
                return _find(val, key)
            except KeyError:
                pass
    raise KeyError(key)


def _env_name(kind: str, place: str, field: str) -> str:
    node = CONFIGS[kind] if place == kind else _find(CONFIGS[kind], place)
    return re.fullmatch(r"\$\{(\w+)\}", node[field]).group(1)  # type: ignore[union-attr]


def test_the_version_table() -> None:
    """Spot checks against Alertmanager's changelog/docs (configuration.md at each tag)."""
    assert len(amversions.receivers((0, 25))) == 12
    assert amversions.RECEIVERS["msteams_configs"] == (0, 26)
    assert {k for k, s in amversions.RECEIVERS.items() if s == (0, 28)} == {
        "jira_configs",
        "msteamsv2_configs",
        "rocketchat_configs",
    }
    assert amversions.RECEIVERS["incidentio_configs"] == (0, 29)
    assert amversions.secret_table("webhook_configs", (0, 25)) == {}
    assert amversions.secret_table("webhook_configs", (0, 26)) == {"url": "url_file"}
    assert amversions.secret_table("discord_configs", (0, 26)) == {"webhook_url": ""}
    assert amversions.secret_table("discord_configs", (0, 27)) == {"webhook_url": "webhook_url_file"}


TOO_OLD = [
    ("0.25", "msteams_configs", "msteams_configs needs Alertmanager >= 0.26"),
    ("0.27", "jira_configs", "jira_configs needs Alertmanager >= 0.28"),
    ("0.28", "incidentio_configs", "incidentio_configs needs Alertmanager >= 0.29"),
    ("0.29", "mattermost_configs", "mattermost_configs needs Alertmanager >= 0.30"),
    ("0.26", "discord_configs", "webhook_url_file needs Alertmanager >= 0.27"),
    ("0.25", "telegram_configs", "bot_token_file needs Alertmanager >= 0.26"),
    ("0.30", "wechat_configs", "api_secret_file needs Alertmanager >= 0.31"),
]


@pytest.mark.parametrize("version,kind,message", TOO_OLD, ids=[f"{k}@{v}" for v, k, _ in TOO_OLD])
def test_what_a_version_lacks_is_refused(tmp_path: Path, version: str, kind: str, message: str) -> None:
    r = compile_with(tmp_path, notifications([kind]), version)
    assert r.exit_code == 1
    assert message in r.stderr, r.stderr
    assert "notifications.yml:" in r.stderr and "nothing written" in r.stderr
    assert not (tmp_path / "out").exists()


def test_newer_keys_need_their_version(tmp_path: Path) -> None:
    text = "route: {receiver: a}\nreceivers: [{name: a, labels: {team: gpu}}]\n"
    r = compile_with(tmp_path, text, "0.32")
    assert r.exit_code == 1 and "receiver 'labels' needs Alertmanager >= 0.33" in r.stderr
    assert compile_with(tmp_path, text, "0.33").exit_code == 0
    r = compile_with(tmp_path, "tracing: {endpoint: 'localhost:4317'}\n" + text, "0.29")
    assert r.exit_code == 1 and "'tracing' needs Alertmanager >= 0.30" in r.stderr


def test_webhook_url_inline_stays_allowed_and_env_needs_026(tmp_path: Path) -> None:
    inline = (
        "route: {receiver: h}\nreceivers: [{name: h, webhook_configs: [{url: 'http://127.0.0.1:9/hook'}]}]\n"
    )
    for version in ("0.25", "0.28"):
        assert compile_with(tmp_path, inline, version).exit_code == 0
    env = inline.replace("'http://127.0.0.1:9/hook'", "'${HOOK_URL}'")
    r = compile_with(tmp_path, env, "0.25")
    assert (
        r.exit_code == 1
        and "is only expanded in secret fields (Alertmanager 0.25 has no url_file" in r.stderr
    )


def test_version_option(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["compile", "-o", str(tmp_path), "--alertmanager-version", "0.24"])
    assert r.exit_code == 2 and "older than 0.25, the oldest supported" in r.output + r.stderr


def _amtool_version(tool: str) -> tuple[int, int]:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True)
    m = re.search(r"version (\d+)\.(\d+)", out.stdout + out.stderr)
    assert m, out
    return int(m.group(1)), int(m.group(2))


@pytest.mark.prometheus
def test_live_amtool_accepts_every_usable_receiver_type(tmp_path: Path) -> None:
    """The real amtool (0.25 here) on the compiled config with every receiver type gpuwatch can
    configure for that version; and it refuses a type from a later version."""
    tool = require_programs("amtool")["amtool"]
    ver = _amtool_version(tool)
    version = amversions.fmt(ver)
    kinds = [k for k in amversions.receivers(ver) if usable(k, ver)]
    assert len(kinds) >= 8
    r = compile_with(tmp_path, notifications(kinds, ver), version)
    assert r.exit_code == 0, r.stderr
    am = tmp_path / "out/alertmanager/alertmanager.yml"
    res = subprocess.run([tool, "check-config", str(am)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"- {len(kinds)} receivers" in res.stdout
    later = [k for k, s in amversions.RECEIVERS.items() if s > ver]
    if later:  # what the compiler refuses, amtool refuses too
        cfg = yaml.safe_load(am.read_text())
        cfg["receivers"].append({"name": "later", later[0]: [{}]})
        cfg["route"].setdefault("routes", []).append({"receiver": "later"})
        am.write_text(yaml.safe_dump(cfg))
        res = subprocess.run([tool, "check-config", str(am)], capture_output=True, text=True)
        assert res.returncode != 0 and later[0] in res.stdout + res.stderr


@pytest.mark.prometheus
def test_check_skips_an_amtool_older_than_the_version(tmp_path: Path) -> None:
    """`check` with the host's amtool 0.25 and a 0.28 config: amtool would refuse msteamsv2, so it
    is not run (and the note says why); for 0.25 it runs."""
    tool = require_programs("promtool", "amtool")["amtool"]
    if _amtool_version(tool) >= (0, 28):  # pragma: no cover - a newer host
        pytest.skip("the installed amtool is 0.28 or newer")
    nf = tmp_path / "n.yml"
    nf.write_text(notifications(["msteamsv2_configs"], (0, 28)))
    args = ["check", "--notifications", str(nf), "--secrets-dir", str(tmp_path / "s"), *RUNBOOK]
    r = CliRunner().invoke(cli, [*args, "--alertmanager-version", "0.28"], env=ENV)
    assert r.exit_code == 0, r.stderr
    assert "amtool check-config not run" in r.stderr and "amtool" not in r.stdout.split("passed", 1)[-1]
    nf.write_text(notifications(["slack_configs"], (0, 25)))
    r = CliRunner().invoke(cli, [*args, "--alertmanager-version", "0.25"], env=ENV)
    assert r.exit_code == 0, r.stderr
    assert "amtool check-config" in r.stdout
