"""The repository's paths, in one place. Standard library only."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "params.schema.json"
SCHEMAS_DIR = REPO_ROOT / "schemas"
GUIDE_TEMPLATE = REPO_ROOT / "operator_guide.md.mustache"
MANIFEST_PATH = REPO_ROOT / "bundle.yaml"
PYPROJECT_PATH = REPO_ROOT / "pyproject.toml"
MODEL_DIR = REPO_ROOT / "model"  # what ships inside model.tar.gz, and the training recipe
CACHE_DIR = REPO_ROOT / ".cache"
BUILD_DIR = REPO_ROOT / "build"
IMAGE_VENV = REPO_ROOT / ".venv-image"  # the serving image's libraries (requirements-image.txt)
IMAGE_PYTHON = IMAGE_VENV / "bin" / "python"
# The serving image's glue, run inside .venv-image as top-level modules (nothing from `bundle` is importable there).
CONTAINER_CODE = REPO_ROOT / "bundle" / "local" / "container"
