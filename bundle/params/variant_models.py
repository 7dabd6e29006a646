"""What a variant's `model` names: a model recipe the bundle builds, the user's archive in S3, or a Model Registry
version (the primary's, with model_source model-package). One function resolves it.

The recipes are the multi-model issue's (bundle/artifact/recipes.py: random-forest, the default artifact, and the
others); their names are read from its lookup here, late (it imports scikit-learn). Nothing else reads a model name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_RECIPE = "random-forest"  # the bundle's POC model: what model_source poc-sklearn builds (recipes.DEFAULT_RECIPE)
MODEL_PACKAGE_PREFIX = "model-package:"  # a Model Registry version, as the primary's model names it (ModelPackageRef.text)
S3_ARCHIVE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\.tar\.gz$")


@dataclass(frozen=True)
class ModelRef:
    text: str  # as the params give it
    recipe: str | None  # a recipe the bundle builds, or None
    s3_uri: str | None  # the user's model.tar.gz, or None
    package: str | None = None  # a Model Registry reference (group/<name> or a version's ARN), or None


def resolve_model(text: str) -> ModelRef:
    """A recipe name, an s3://bucket/key.tar.gz URI or a model package reference; ValueError naming the known recipes
    otherwise."""
    if text.startswith(MODEL_PACKAGE_PREFIX):
        return ModelRef(text, None, None, text.removeprefix(MODEL_PACKAGE_PREFIX))
    if S3_ARCHIVE.match(text):
        return ModelRef(text, None, text)
    known = recipe_names()
    if text in known:
        return ModelRef(text, text, None)
    raise ValueError(f"{text!r} is neither a known model recipe ({', '.join(known)}) nor an s3://bucket/key.tar.gz URI")


def recipe_names() -> tuple[str, ...]:
    from bundle.artifact.recipes import RECIPES

    return tuple(RECIPES)
