"""Maps the repository's folders onto the one import namespace ``gpuwatch``.

exporters/ -> gpuwatch.exporters, rules/ -> gpuwatch.rules,
compose/localstack/ -> gpuwatch.localstack (the local process stack used by the demo and tests),
jobstats/ -> gpuwatch.jobstats (gpuwatch-jobstats),
tests/support/ -> gpuwatch.testing (helpers shared by the tests and bench/; its heavier
dependencies come with the ``test`` extra and are imported only where used).
Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = {
    "gpuwatch.exporters": "exporters",
    "gpuwatch.rules": "rules",
    "gpuwatch.localstack": "compose/localstack",
    "gpuwatch.jobstats": "jobstats",
    "gpuwatch.testing": "tests/support",
}

packages = []
for name, folder in ROOTS.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=ROOTS,
    package_data={"": ["*.yml", "*.yaml", "*.json", "*.html", "*.md", "*.txt", "*.j2"]},
)
