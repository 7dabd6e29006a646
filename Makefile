# Everything the project needs is installed by these targets: nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# This machine's pip config names local index folders that may not exist; its warnings are noise.
QUIET_PIP := 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The artifact is proven in a second environment with only the serving image's libraries,
# on the image's Python (3.10) where this machine has it.
IMAGE_PYTHON ?= $(firstword $(shell for p in python3.10 $(wildcard $(HOME)/.pyenv/versions/3.10*/bin/python3.10); do \
	$$p -c 'import venv' >/dev/null 2>&1 && echo $$p; done) $(PYTHON))
IMAGE_VENV := .venv-image

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed $(IMAGE_VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "python3 needs venv: apt-get install python3-venv"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt $(QUIET_PIP)
	touch $@

$(IMAGE_VENV)/.installed: requirements-image.txt
	$(IMAGE_PYTHON) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-image.txt $(QUIET_PIP)
	touch $@

demo: setup
	$(PY) -m bundle demo

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bundle bench

clean:
	rm -rf $(VENV) $(IMAGE_VENV) .cache build operator_guide.md
