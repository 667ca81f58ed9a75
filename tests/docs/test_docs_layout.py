"""README.md is a short entrance that links every docs/ page; links between the pages resolve.

The per-component facts (every metric, flag, collector, compose variable documented) are checked
beside each component: tests/slurm/test_exporter.py, tests/gpu/test_docs.py, tests/stack/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

PAGES = [
    "slurm-exporter",
    "gpu-exporter",
    "metrics",
    "rules",
    "stack-and-demo",
    "deploy-runpod",
    "security",
    "benchmarks",
    "jobstats",
]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors and explicit ``<a id>`` anchors of a Markdown file (outside code fences)."""
    found, fence = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6} (.+)$", line)):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            found.add(slug)
        if not fence:  # explicit anchors, e.g. on a list item: <a id="name"></a>
            found.update(re.findall(r'<a id="([^"]+)"></a>', line))
    return found


def test_readme_is_short_and_links_every_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "](ARCHITECTURE.md)" in text
    for page in PAGES:
        assert f"](docs/{page}.md)" in text, page
        assert (ROOT / "docs" / f"{page}.md").is_file(), page
    # the two commands come first
    assert text.index("make demo") < text.index("## The picture") and "make test" in text[:1500]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(doc: Path):
    broken = []
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (doc.parent / file).resolve() if file else doc
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(target)
    assert not broken, f"{doc.relative_to(ROOT)}: broken links {broken}"


def test_measured_numbers_only_in_bench_results():
    """The docs link to bench/RESULTS.md rather than quote benchmark tables."""
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"\b\d+(\.\d+)? ?req/s\b|\bp(50|99) \d", text), doc.name
