"""Maps the repository's folders onto the one import namespace ``gpuwatch``.

exporters/ -> gpuwatch.exporters, rules/ -> gpuwatch.rules,
compose/localstack/ -> gpuwatch.localstack (the local process stack used by the demo and tests),
jobstats/ -> gpuwatch.jobstats (gpuwatch-jobstats).
Everything else lives in pyproject.toml.
"""

from setuptools import find_packages, setup

ROOTS = {
    "gpuwatch.exporters": "exporters",
    "gpuwatch.rules": "rules",
    "gpuwatch.localstack": "compose/localstack",
    "gpuwatch.jobstats": "jobstats",
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
