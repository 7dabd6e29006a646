# Everything the project needs is installed by these targets: nothing by hand.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# This machine's pip config names local index folders that may not exist; its warnings are noise.
# Old sdists in the image's lock (sagemaker-containers, psutil, ...) build with setup.py: pip's deprecation notes too.
QUIET_PIP := 2>&1 | { grep -v -e "^WARNING: Location '.*' is ignored" -e "^  DEPRECATION: .* legacy 'setup.py install'" || true; }
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

# The image's Dockerfile (docker/1.4-2/final/Dockerfile.cpu) changes two installed files; we make the one that
# matters here. sagemaker_containers/_mapping.py uses `collections.Mapping`, gone since Python 3.10: without the
# fix the package does not import. The other change replaces sagemaker_inference/decoder.py with a copy whose
# npy decoding refuses pickles; it only touches sagemaker-inference's *default* decoder, which our handlers never
# call (model/inference.py decodes every format itself, npy with allow_pickle=False), so it is not reproduced.
IMAGE_MAPPING = $(IMAGE_VENV)/lib/python*/site-packages/sagemaker_containers/_mapping.py

$(IMAGE_VENV)/.installed: requirements-image.txt
	@echo "Setting up $(IMAGE_VENV) (the serving image's libraries) with $(IMAGE_PYTHON); the first run takes about a minute"
	$(IMAGE_PYTHON) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-image.txt $(QUIET_PIP)
	sed -i -e 's/^import collections$$/import collections.abc/' -e 's/collections\.Mapping\b/collections.abc.Mapping/' $(IMAGE_MAPPING)
	$(IMAGE_VENV)/bin/python -c 'import sagemaker_containers.beta.framework, sagemaker_inference, mms'
	touch $@

demo: setup
	$(PY) -m bundle demo

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m bundle bench

clean:
	rm -rf $(VENV) $(IMAGE_VENV) .cache build operator_guide.md
