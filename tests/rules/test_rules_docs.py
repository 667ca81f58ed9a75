"""docs/rules.md against the code: the errors/warnings table names every finding the compiler
reports, in the class the compiler reports it, and the examples of "A first alert file" and of the
catalogs section print what the page says they print."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gpuwatch.rules.cli import cli

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs/rules.md").read_text()
BROKEN = ROOT / "tests/fixtures/rules/broken"
MINIMAL = ROOT / "tests/fixtures/rules/minimal"

# Each row of the table (by the start of its first cell), its class, and the message fragments
# the compiler prints for that row. A row added to or taken from the table, or a finding moved
# between classes, must be mirrored here, and the corpus below must show every fragment.
ROWS: dict[str, tuple[str, list[str]]] = {
    "YAML syntax; duplicate keys": (
        "error",
        [
            "YAML syntax",
            "duplicate key",
            "unknown field",
            "missing required field",
            "must be a string",
            "is not a duration",
            "severity must be one of",
        ],
    ),
    "PromQL syntax": ("error", ["PromQL:"]),
    "a `gpuwatch_*` name no gpuwatch exporter declares": ("error", ["no gpuwatch exporter declares it"]),
    "a label matcher on a gpuwatch metric": ("error", ["so this selector never matches what the exporter"]),
    "`rate()`, `irate()`, `increase()` over a gauge": ("error", ["only makes sense for counters"]),
    "an alert expression that can never be empty": (
        "error",
        ["this expression can never be empty", "always_fires is set but"],
    ),
    "template syntax, unknown functions": (
        "error",
        [
            "template: unknown function",
            "without {{ end }}",
            "without a closing '}}'",
            "does not expand templates in recording rule labels",
        ],
    ),
    "`%{threshold}` not defined": ("error", ["unknown threshold", "overlay names", "in overlay for"]),
    "a copy: an alert or recording rule": ("error", ["is a copy of the one at"]),
    "a promtool test that cannot pass": (
        "error",
        ["are not promtool notation", "give the expected alert's 'value'"],
    ),
    "routes to undefined receivers": (
        "error",
        [
            "which is not defined (receivers",
            "is not a matcher like",
            "bad regular expression",
            "closing double quote",
            "unescaped double quote",
            "inline secret",
            "needs Alertmanager >=",
        ],
    ),
    "no runbook": ("warning", ["has no runbook"]),
    "a non-zero `for:` shorter than two scrape intervals": ("warning", ["shorter than two scrape intervals"]),
    "a receiver no route uses": ("warning", ["is never used by any route"]),
    "an inhibit rule's `equal` label that no alert carries": (
        "warning",
        ["compares it as empty on both sides"],
    ),
    "`{{ $labels.x }}` where `x` is never on the result": ("warning", ["is never set: the expression's"]),
    "a metric outside the `gpuwatch_` namespace": ("warning", ["no catalog declares it"]),
    "a label matcher on another exporter's metric": ("warning", ["so this selector may never match"]),
    "an alert without `description`": ("warning", ["has no description"]),
    "an alert name that is not a plain name": ("warning", ["is not a plain name like"]),
    "the same alert or recording name with the same static labels": (
        "warning",
        ["has the same labels as the one at"],
    ),
    "the same alert or recording name in another group": ("warning", ["is also defined in group"]),
}


def _table() -> list[tuple[str, str]]:
    sec = DOC.split("## Errors and warnings", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in sec.splitlines():
        m = re.match(r"^\| (.+) \| (error|warning) \|$", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


def test_table_rows_are_the_known_finding_classes() -> None:
    table = _table()
    assert len(table) == len(ROWS), "a row was added to or taken from the table: update ROWS"
    for cell, cls in table:
        keys = [k for k in ROWS if cell.startswith(k)]
        assert len(keys) == 1, f"table row not in ROWS: {cell!r}"
        assert ROWS[keys[0]][0] == cls, f"{cell!r}: the table says {cls}, ROWS {ROWS[keys[0]][0]}"


def _compile(args: list[str], cwd: Path) -> list[str]:
    """What ``gpuwatch-rules compile ARGS`` prints, stderr then stdout, run in ``cwd``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        r = CliRunner().invoke(cli, ["compile", *args])
    assert "Traceback" not in r.stderr
    return r.stderr.splitlines() + r.stdout.splitlines()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Every finding line of the broken-input corpus, the minimal pack and an alert in two groups."""
    lines = [ln for p in sorted(BROKEN.glob("*.expected")) for ln in p.read_text().splitlines()]
    tmp = tmp_path_factory.mktemp("docs")
    lines += _compile([str(MINIMAL), "-o", str(tmp / "o1")], tmp)
    rule = (
        "group: {g}\nalerts:\n  - {{alert: A, expr: up == 0, severity: info, summary: s, description: d}}\n"
    )
    (tmp / "a.yml").write_text(rule.format(g="a"))
    (tmp / "b.yml").write_text(rule.format(g="b"))
    notif = str(ROOT / "tests/fixtures/rules/good/notifications.yml")
    lines += _compile(["a.yml", "b.yml", "--notifications", notif, "--runbook-url", "u", "-o", "o2"], tmp)
    return [ln for ln in lines if not ln.startswith("wrote ")]


def test_every_reported_finding_is_in_the_table_in_its_class(corpus: list[str]) -> None:
    for line in corpus:
        cls = "warning" if ": warning: " in line else "error"
        rows = [(k, c) for k, (c, needles) in ROWS.items() if any(n in line for n in needles)]
        assert rows, f"finding in no table row: {line}"
        assert all(c == cls for _, c in rows), f"{line}\n  is an {cls}, the table says {rows}"


def test_every_table_row_is_shown_by_the_corpus(corpus: list[str]) -> None:
    for key, (cls, needles) in ROWS.items():
        for n in needles:
            hits = [ln for ln in corpus if n in ln]
            assert hits, f"{key!r}: no finding in the corpus says {n!r}"
            assert all((": warning: " in ln) == (cls == "warning") for ln in hits), (key, hits)


def _literal_text(node: ast.AST) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


@pytest.mark.parametrize("module", ["check.py", "notifications.py", "load.py", "model.py", "overlay.py"])
def test_every_warning_in_the_code_is_a_warning_row(module: str) -> None:
    """Each ``.warn(...)`` of the compile stages says something a warning row of the table names."""
    path = ROOT / "rules" / module
    warn_needles = [n for c, needles in ROWS.values() if c == "warning" for n in needles]
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "warn"):
            continue
        text = " ".join(_literal_text(a) for a in node.args)
        if not text.strip():
            continue  # a wrapper passing a message through
        flat = text.replace("' ", "'").replace(" ", "")
        assert any(n.replace(" ", "") in flat for n in warn_needles), (
            f"{module}:{node.lineno}: a warning no table row names: {text!r}"
        )


def test_first_alert_file_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    """The console block of "A first alert file", run in a copy of the minimal pack."""
    sec = DOC.split("## A first alert file", 1)[1].split("\n## ", 1)[0]
    yaml_block = sec.split("```yaml\n", 1)[1].split("```", 1)[0]
    src = (MINIMAL / "alerts.yml").read_text()
    body = "\n".join(ln.split("#")[0].rstrip() for ln in yaml_block.splitlines())
    assert body.strip().replace("\n\n", "\n") in "\n".join(
        ln.split("  #")[0].rstrip() for ln in src.splitlines()
    ), "the page's first alert file is not the fixture's"
    console = sec.split("```console\n", 1)[1].split("```", 1)[0]
    pack = tmp_path / "minimal"
    shutil.copytree(MINIMAL, pack)
    runs = [ln[2:] for ln in console.splitlines() if ln.startswith("$ ")]
    assert len(runs) == 2
    shown = [ln for ln in console.splitlines() if not ln.startswith("$ ") and ln != "..."]
    out = []
    for cmd in runs:
        args = cmd.split("gpuwatch-rules ", 1)[1].replace("/tmp/out", str(tmp_path / "out")).split()
        out += _compile(args[1:], pack)
    for line in shown:
        if line.startswith("wrote "):
            line = line.removesuffix("...").replace("/tmp/out", str(tmp_path / "out"))
            pattern = re.escape(line).replace(r"38\ ms", r"\d+\ ms")
            assert any(re.match(pattern, o) for o in out), (line, out)
        else:
            assert line in out, (line, out)


def test_catalog_example_runs(tmp_path: Path) -> None:
    """The catalogs section's DCGM example: pack.yml naming a YAML catalog, as the page writes them."""
    sec = DOC.split("## Metrics from other exporters", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", sec, re.S)
    assert [b[0] for b in blocks] == ["rules/mine/pack.yml", "rules/mine/catalogs/dcgm.yml"]
    for name, text in blocks:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "rules/mine/dcgm.yml").write_text(
        "group: dcgm\nalerts:\n"
        '  - alert: DcgmGpuHot\n    expr: DCGM_FI_DEV_GPU_TEMP{modelName=~"H100.*"} > 85\n    for: 5m\n'
        "    severity: warning\n    summary: 'GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is hot'\n"
        "    description: dcgm-exporter reports the GPU above 85 C\n"
    )
    notif = str(ROOT / "tests/fixtures/rules/good/notifications.yml")
    args = ["rules/mine", "--notifications", notif, "--runbook-url", "u", "--strict", "-o", "out"]
    assert _compile(args, tmp_path)[-1].startswith("wrote ")
    (tmp_path / "rules/mine/dcgm.yml").write_text(
        (tmp_path / "rules/mine/dcgm.yml").read_text().replace("modelName", "model_name")
    )
    lines = _compile([*args[:-3], "-o", "out2"], tmp_path)
    assert any(
        "warning: 'DCGM_FI_DEV_GPU_TEMP' has no label 'model_name' in rules/mine/catalogs/dcgm.yml" in ln
        for ln in lines
    ), lines


def test_import_example_gives_what_the_page_shows(tmp_path: Path) -> None:
    """The "Importing" section's input rule, imported, is the gpuwatch file the page shows."""
    sec = DOC.split("## Importing Prometheus rule files", 1)[1].split("\n## ", 1)[0]
    src, want = re.findall(r"```yaml\n(.*?)```", sec, re.S)[:2]
    (tmp_path / "in.yml").write_text(src)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        r = CliRunner().invoke(cli, ["import", "in.yml", "-o", "DIR"])
    assert r.exit_code == 0, r.stderr
    got = (tmp_path / "DIR/node-exporter.yml").read_text()
    assert "\n".join(ln for ln in got.splitlines() if not ln.startswith("#")) + "\n" == want
    out = _compile(
        ["DIR", "--notifications", str(ROOT / "tests/fixtures/rules/good/notifications.yml"), "-o", "o"],
        tmp_path,
    )
    assert out[-1].startswith("wrote "), out


def test_receiver_version_example_runs(tmp_path: Path) -> None:
    """The "Receivers per Alertmanager version" example: a msteamsv2 webhook given as ${TEAMS_URL}
    compiles for 0.28 into webhook_url_file, the URL stored 0600 in --secrets-dir, not in the output."""
    sec = DOC.split("### Receivers per Alertmanager version", 1)[1].split("\n## ", 1)[0]
    cmd = re.search(r"```sh\n(.*?)```", sec, re.S).group(1)  # type: ignore[union-attr]
    assert "--alertmanager-version 0.28" in cmd and "msteamsv2_configs: [{webhook_url: ${TEAMS_URL}}]" in cmd
    (tmp_path / "notif.yml").write_text(
        "route: {receiver: teams}\nreceivers:\n  - name: teams\n"
        "    msteamsv2_configs: [{webhook_url: '${TEAMS_URL}'}]\n"
    )
    secret = "https://example.webhook.office.com/webhookb2/abc"
    args = ["compile", "--notifications", "notif.yml", "--alertmanager-version", "0.28"]
    args += ["--secrets-dir", "secrets", "-o", "out", "-q"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        r = CliRunner(env={"TEAMS_URL": secret}).invoke(cli, args)
    assert r.exit_code == 0, r.stderr
    am = (tmp_path / "out/alertmanager/alertmanager.yml").read_text()
    assert "webhook_url_file: " in am and secret not in am
    stored = tmp_path / "secrets/TEAMS_URL"
    assert stored.read_text().strip() == secret and stored.stat().st_mode & 0o777 == 0o600
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        r = CliRunner(env={"TEAMS_URL": secret}).invoke(cli, [*args[:4], "0.27", *args[5:]])
    assert r.exit_code == 1 and "msteamsv2" in r.stderr and "0.28" in r.stderr
