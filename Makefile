# Everything the project needs is installed by these targets: nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# This machine's pip config names local index folders that may not exist; its warnings are noise.
# Old sdists in the image's lock (sagemaker-containers, psutil, ...) build with setup.py: pip's deprecation notes too.
QUIET_PIP := 2>&1 | { grep -v -e "^WARNING: Location '.*' is ignored" -e "^  DEPRECATION: .* legacy 'setup.py install'" || true; }
# The Python for .venv: the first of python3.10 (the serving image's), python3.11, python3.12 (on PATH, then
# pyenv's), then python3 if it is one of those, that has venv and ensurepip. `make setup PYTHON=...` overrides.
SUPPORTED_PYTHON := import sys, venv, ensurepip; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))
PYTHON_CANDIDATES := python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10) \
	python3.11 $(wildcard $(HOME)/.pyenv/versions/3.11*/bin/python3.11) \
	python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1 && echo $(p))))
endif
VENV := .venv
PY := $(VENV)/bin/python
# The artifact is proven in a second environment with only the serving image's libraries,
# on the image's Python (3.10) where this machine has it.
IMAGE_PYTHON ?= $(firstword $(shell for p in python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10); do \
	$$p -c 'import venv' >/dev/null 2>&1 && echo $$p; done) $(PYTHON))
IMAGE_VENV := .venv-image
# The clients users already have (the SageMaker Python SDK 2.x and its boto3), pinned, for tests/clients.
CLIENTS_VENV := .venv-clients

.PHONY: setup demo test bench soak clean which-python java

setup: $(VENV)/.installed $(IMAGE_VENV)/.installed $(CLIENTS_VENV)/.installed java

# The image's multi-model mode is Java multi-model-server: Debian's default-jre-headless where no java is found (as
# root, or through sudo without a password). Where it cannot be installed, setup goes on and the multi-model-server
# tests are skipped, saying why (bundle/local/multi_model.py: java_problem).
JAVA_PACKAGE := default-jre-headless
java:
	@if command -v java >/dev/null 2>&1 || { [ -n "$$JAVA_HOME" ] && [ -x "$$JAVA_HOME/bin/java" ]; }; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "No Java found and no apt-get to install $(JAVA_PACKAGE): install a Java runtime to run the multi-model-server tests (skipped until then)"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo"; else \
		echo "No Java found; installing $(JAVA_PACKAGE) needs root: run sudo apt-get install $(JAVA_PACKAGE) (the multi-model-server tests are skipped until then)"; exit 0; fi; \
	echo "Installing Java ($(JAVA_PACKAGE)) for multi-model-server, the serving image's multi-model server"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get install -y -qq --no-install-recommends $(JAVA_PACKAGE) >/dev/null 2>&1 || \
		{ $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $(JAVA_PACKAGE); } || \
		echo "Installing $(JAVA_PACKAGE) failed: the multi-model-server tests are skipped until a Java runtime is installed"

# Says which Python .venv is built with, or what to install when there is none.
which-python:
	@if [ -z "$(PYTHON)" ] || ! $(PYTHON) -c '$(SUPPORTED_PYTHON)' >/dev/null 2>&1; then \
		echo "No Python 3.10, 3.11 or 3.12 with venv found$(if $(PYTHON), ($(PYTHON) is not one of them or lacks venv),)."; \
		echo "The bundle needs one (the serving image runs 3.10; the pinned libraries do not support 3.13, Debian 13's python3)."; \
		echo "Install one, e.g.: apt-get install python3.11 python3.11-venv (Debian 12, Ubuntu 22.04/24.04 ship 3.10-3.12),"; \
		echo "or pyenv install 3.10, or uv python install 3.10; then run make setup again (or make setup PYTHON=/path/to/python3.10)."; \
		exit 1; \
	fi
	@echo "Using $(PYTHON) (Python $$($(PYTHON) -c 'import platform; print(platform.python_version())')) for $(VENV)"

$(VENV)/.installed: requirements.txt | which-python
	$(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned libraries (pulumi, pulumi-aws, scikit-learn, moto, ...) into $(VENV): a few minutes on a first run"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt $(QUIET_PIP)
	touch $@

# The image's Dockerfile (docker/1.4-2/final/Dockerfile.cpu) changes two installed files; we make the one that
# matters here. sagemaker_containers/_mapping.py uses `collections.Mapping`, gone since Python 3.10: without the
# fix the package does not import. The other change replaces sagemaker_inference/decoder.py with a copy whose
# npy decoding refuses pickles; it only touches sagemaker-inference's *default* decoder, which our handlers never
# call (model/inference.py decodes every format itself, npy with allow_pickle=False), so it is not reproduced.
IMAGE_MAPPING = $(IMAGE_VENV)/lib/python*/site-packages/sagemaker_containers/_mapping.py

$(IMAGE_VENV)/.installed: requirements-image.txt
	$(IMAGE_PYTHON) -m venv $(IMAGE_VENV)
	@echo "Installing the serving image's libraries into $(IMAGE_VENV) with $(IMAGE_PYTHON): a few minutes on a first run"
	$(IMAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-image.txt $(QUIET_PIP)
	sed -i -e 's/^import collections$$/import collections.abc/' -e 's/collections\.Mapping\b/collections.abc.Mapping/' $(IMAGE_MAPPING)
	$(IMAGE_VENV)/bin/python -c 'import sagemaker_containers.beta.framework, sagemaker_inference, mms'
	touch $@

$(CLIENTS_VENV)/.installed: requirements-clients.txt
	$(IMAGE_PYTHON) -m venv $(CLIENTS_VENV)
	@echo "Installing the pinned clients (sagemaker SDK 2.x, boto3) into $(CLIENTS_VENV) for the client compatibility tests"
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-clients.txt $(QUIET_PIP)
	touch $@

demo: setup
	$(PY) -m bundle demo

# In parallel (pytest-xdist): each worker process builds its own session fixtures (the artifact from the shared cache,
# the image's worker); a module's tests stay on one worker (loadscope), so its servers (the multi-model server, moto,
# the emulated deployments) start once. The 15 slowest tests are printed at the end.
TEST_WORKERS ?= auto
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope --durations=15

bench: setup
	$(PY) -m bundle bench

# The suite five times in a row, then twice beside a CPU hog; each run's result in build/soak/report.json.
soak: setup
	$(PY) -m bundle.perf.soak --runs 5 --hog-runs 2

clean:
	rm -rf $(VENV) $(IMAGE_VENV) $(CLIENTS_VENV) .cache build operator_guide.md
