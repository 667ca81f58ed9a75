"""Packaging: no base dependencies, one extra per part; the exporters' import paths need only the
exporters extra (what a GPU node installs); the Ansible role's constraints pin exactly that extra
(and supervisord) at the versions the tests run with."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import textwrap
import tomllib

from conftest import ROOT
from packaging.requirements import Requirement

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}
CONSTRAINTS = ROOT / "ansible" / "roles" / "gpuwatch_exporters" / "files" / "constraints.txt"
# import name -> distribution name, for the third-party modules the code imports
DISTRIBUTION = {
    "prometheus_client": "prometheus-client",
    "pynvml": "nvidia-ml-py",
    "yaml": "PyYAML",
    "bcrypt": "bcrypt",
    "click": "click",
    "promql_parser": "promql-parser",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra(name: str) -> set[str]:
    return {_norm(r.name) for r in EXTRAS[name] if _norm(r.name) != "gpuwatch"}


def _third_party_imports(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "gpuwatch":
                    found.add(top)
    return found


def test_no_base_dependencies_and_an_extra_per_part():
    assert PROJECT["dependencies"] == []
    assert {"exporters", "rules", "jobstats", "test", "ansible", "bench"} <= set(EXTRAS)
    assert _extra("exporters") == {"prometheus-client", "nvidia-ml-py", "pyyaml", "bcrypt"}
    # the test extra brings what the code under test needs
    assert any(
        r.name == "gpuwatch" and {"exporters", "rules", "jobstats"} <= r.extras for r in EXTRAS["test"]
    )


def test_each_extra_covers_what_its_part_imports():
    for folder, extra in (("exporters", "exporters"), ("rules", "rules"), ("jobstats", "jobstats")):
        imported = {_norm(DISTRIBUTION.get(m, m)) for m in _third_party_imports(folder)}
        # rules/catalogs/from_metrics.py reads /metrics text with prometheus_client, a tool the
        # catalog maintainer runs with the test extra; the compiler itself never imports it
        if folder == "rules":
            imported.discard("prometheus-client")
        assert imported <= _extra(extra), (folder, imported - _extra(extra))


def test_exporters_run_with_only_the_exporters_extra():
    """Every exporters module imports, and both CLIs answer --help, with every third-party module
    outside the exporters extra (click, promql_parser, ...) blocked."""
    code = textwrap.dedent(
        """
        import importlib, pkgutil, runpy, sys
        ALLOWED = {"prometheus_client", "pynvml", "yaml", "_yaml", "bcrypt", "gpuwatch"}

        class Block:
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top not in ALLOWED and top not in sys.stdlib_module_names:
                    raise ImportError(f"not in gpuwatch[exporters]: {name}")

        sys.meta_path.insert(0, Block())
        import gpuwatch.exporters as pkg
        for mod in pkgutil.walk_packages(pkg.__path__, "gpuwatch.exporters."):
            if not mod.name.endswith("__main__"):
                importlib.import_module(mod.name)
        for cli in ("gpuwatch.exporters.slurm.cli", "gpuwatch.exporters.gpu.cli", "gpuwatch.exporters.common.webconfig"):
            sys.argv = [cli, "--help"]
            try:
                runpy.run_module(cli, run_name="__main__")
            except SystemExit as exc:
                assert exc.code == 0, (cli, exc.code)
        assert "click" not in sys.modules and "promql_parser" not in sys.modules
        print("ok")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("ok"), r.stderr[-3000:]


def test_role_constraints_pin_the_exporters_extra_at_the_tested_versions():
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            spec = list(req.specifier)
            assert len(spec) == 1 and spec[0].operator == "==", line
            pins[_norm(req.name)] = spec[0].version
    assert set(pins) == _extra("exporters") | {"supervisor"}
    for req in EXTRAS["exporters"]:
        version = pins[_norm(req.name)]
        assert req.specifier.contains(version), (req, version)
        assert importlib.metadata.version(req.name) == version, f"{req.name}: venv has another version"
    assert Requirement("supervisor>=4.2,<5").specifier.contains(pins["supervisor"])
    install = (ROOT / "ansible/roles/gpuwatch_exporters/tasks/install.yml").read_text()
    assert "'[exporters]'" in install and "'--constraint', gpuwatch_exporters_constraints" in install
