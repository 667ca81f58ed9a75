"""No import cycles among gpuwatch's modules (every package setup.py installs).

The graph is built from the source (AST), not by importing: every ``import``/``from ... import``,
module level, inside a function or under ``if TYPE_CHECKING:`` (a lazy or type-only import only
hides a cycle: the two modules still depend on each other). ``from pkg import name`` points at the
module ``pkg.name`` when there is one, else at ``pkg``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "gpuwatch.exporters": ROOT / "exporters",
    "gpuwatch.rules": ROOT / "rules",
    "gpuwatch.localstack": ROOT / "compose" / "localstack",
    "gpuwatch.jobstats": ROOT / "jobstats",
    "gpuwatch.testing": ROOT / "tests" / "support",
}


def modules() -> dict[str, Path]:
    out = {}
    for prefix, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([prefix, *parts])] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        out |= {t for t in targets if t in known and t != name}
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_graph_sees_imports():
    known = modules()
    graph = {n: imports(n, p, known) for n, p in known.items()}
    assert "gpuwatch.exporters.common.metric" in graph["gpuwatch.exporters.catalog"]
    assert "gpuwatch.exporters.gpu.metrics" in graph["gpuwatch.exporters.catalog"]
    assert "gpuwatch.exporters.common.exposition" in graph["gpuwatch.exporters.slurm.exporter"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_packages_are_those_setup_installs():
    """A package setup.py maps that this test does not walk would escape the cycle check."""
    setup = (ROOT / "setup.py").read_text()
    mapped = dict(re.findall(r'"(gpuwatch\.\w+)": "([\w/]+)"', setup))
    assert mapped == {name: str(folder.relative_to(ROOT)) for name, folder in PACKAGES.items()}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package):
    known = modules()
    graph = {n: imports(n, p, known) for n, p in known.items()}
    cycle = find_cycle(
        {n: {m for m in e if m.startswith(package)} for n, e in graph.items() if n.startswith(package)}
    )
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycle_across_packages():
    """Across packages too (e.g. localstack -> exporters -> ... -> localstack)."""
    known = modules()
    cycle = find_cycle({n: imports(n, p, known) for n, p in known.items()})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
