# gpuwatch: one Makefile for set-up, the demo, the tests and the benchmarks.
# Every target installs what it needs: a venv with the project (editable) and, when running as
# root on Debian, the distribution packages the real-program tests and the demo use.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3
DEB_PACKAGES ?= munge slurm-wlm prometheus prometheus-alertmanager iproute2 openssh-server openssh-client sudo procps python3-venv debootstrap
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help deps venv demo up down test test-fast test-py313 bench fuzz lint clean generate deploy teardown labs clean-labs

help:
	@echo "make demo   - local Slurm + exporters + Prometheus + Alertmanager on a simulated GPU backend"
	@echo "make test   - install what is missing and run every test (real Slurm, Prometheus, Alertmanager)"
	@echo "make test-fast - unit, golden and property tests only (no real Slurm/Prometheus/Ansible; < 2 min)"
	@echo "make lint   - ruff (lint + format check) and mypy, as CI and the pre-commit hooks run them"
	@echo "make test-py313 - the unit tests under Debian trixie's Python 3.13 (part of make test)"
	@echo "make labs   - build the Debian suite roots with newer Slurm/Prometheus/Alertmanager (trixie, sid)"
	@echo "make clean-labs - delete those roots (GPUWATCH_ROOTS_DIR, default /var/cache/gpuwatch/roots)"
	@echo "make bench  - run the benchmarks under bench/ and write bench/RESULTS.md"
	@echo "make fuzz   - run every hypothesis property with many more examples (bench/fuzz.py)"
	@echo "make up     - Prometheus + Alertmanager + Grafana with Docker compose (make up DEMO=1: scrape the local demo); make down stops it"
	@echo "make generate - recompile the default alert pack into compose/generated/ and grafana/, docs/metrics.md from the metric catalog"
	@echo "make deploy - RUNPOD_API_KEY=... : RunPod pods -> multi-node Slurm + exporters (ansible/site.yml)"
	@echo "make teardown - terminate exactly the pods make deploy created (ansible/teardown.yml)"

# Debian packages, installed only when missing (needs root; elsewhere prints what to install).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test,ansible,bench]'
	touch $@

venv: $(VENV)/.installed

# Bounded run: GPUWATCH_DEMO_DURATION=150 make demo; flags: make demo DEMO_ARGS="--keep --compose".
# The newest Slurm/Prometheus/Alertmanager (sid root: 26.05, 3.5, 0.33): make demo VERSIONS=newest.
VERSIONS ?=
demo: deps venv
	$(PY) -m gpuwatch.localstack.demo $(if $(VERSIONS),--versions $(VERSIONS)) $(DEMO_ARGS)

# The compose stack (compose/docker-compose.yml); needs Docker with the compose plugin.
up: venv
	$(PY) -m gpuwatch.localstack.compose up $(if $(DEMO),--demo)

down: venv
	$(PY) -m gpuwatch.localstack.compose down

test: deps venv
	@$(MAKE) --no-print-directory labs || [ "$${CI:-}" != true ] || { echo "CI=true: the version roots must build" >&2; exit 1; }
	@rc=0; $(PY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	$(MAKE) --no-print-directory test-py313 || rc=$$?; exit $$rc

# The unit tests again under Debian trixie's Python 3.13: a venv made with the python3 of the trixie
# version root (built when missing), the project installed into it from the package index.
# Outside CI a machine that cannot build roots skips this with a message; under CI=true it fails.
# Tests marked `prometheus` (tests/rules' promtool/amtool runs) stay on the host: they pin the host's
# Prometheus 2.42/Alertmanager 0.25 behaviour (tests/versions runs the pack through every version).
PY313_VENV ?= .venv-py313
PY313_TESTS ?= tests/slurm/test_parsers.py tests/gpu tests/rules tests/common -m 'not prometheus'
test-py313: venv
	$(PY) -m gpuwatch.localstack.pyroot --suite trixie --venv $(PY313_VENV) -- -q $(PY313_TESTS)

# The edit-test loop: unit, golden and property tests; nothing that needs a real Slurm, Prometheus,
# Alertmanager, promtool or Ansible, and no load or fault runs (the markers in pyproject.toml).
# No Debian packages needed.
FAST_MARKERS := not slurm and not prometheus and not e2e and not ansible and not load
test-fast: venv
	GPUWATCH_TEST_FAST=1 $(PY) -m pytest -q -m "$(FAST_MARKERS)" $(PYTEST_ARGS)

# Version roots (gpuwatch.localstack.roots): Debian trixie (Slurm 24.11, Prometheus 2.53,
# Alertmanager 0.28, Python 3.13) and sid (Slurm 26.05, Prometheus 3.5, Alertmanager 0.33),
# built once per machine with debootstrap into $$GPUWATCH_ROOTS_DIR (default
# /var/cache/gpuwatch/roots); a root already built is reused. The host's packages stay as they are.
ROOT_SUITES ?= trixie sid
labs: venv
	$(PY) -m gpuwatch.localstack.roots build $(ROOT_SUITES)

clean-labs: venv
	$(PY) -m gpuwatch.localstack.roots clean

# The compiled default alert pack (rules/pack) is committed; a test fails when it is out of date.
generate: venv
	$(VENV)/bin/gpuwatch-rules compile --strict rules/pack -o compose/generated --dashboards-dir grafana
	$(PY) -m gpuwatch.exporters.catalog docs > docs/metrics.md.tmp && mv docs/metrics.md.tmp docs/metrics.md

bench: deps venv
	$(PY) bench/run_all.py

fuzz: venv
	$(PY) bench/fuzz.py

# RunPod cluster (docs/deploy-runpod.md). Extra options: ANSIBLE_ARGS='-e ...'.
ANSIBLE_ARGS ?=
deploy: venv
	ANSIBLE_CONFIG=ansible/ansible.cfg $(VENV)/bin/ansible-playbook ansible/site.yml $(ANSIBLE_ARGS)

teardown: venv
	ANSIBLE_CONFIG=ansible/ansible.cfg $(VENV)/bin/ansible-playbook ansible/teardown.yml $(ANSIBLE_ARGS)

# Lint: ruff (rules and format) over the tree, mypy over exporters/, rules/ and jobstats/ (pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(PY313_VENV) build *.egg-info .pytest_cache .hypothesis
