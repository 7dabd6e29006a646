"""What a variant's `model` names: a model recipe the bundle builds, or the user's archive in S3. One function resolves it.

The recipes are the multi-model issue's (bundle/artifact/recipes.py: random-forest, the default artifact, and the
others); their names are read from its lookup here, late (it imports scikit-learn). Nothing else reads a model name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_RECIPE = "random-forest"  # the bundle's POC model: what model_source poc-sklearn builds (recipes.DEFAULT_RECIPE)
S3_ARCHIVE = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\.tar\.gz$")


@dataclass(frozen=True)
class ModelRef:
    text: str  # as the params give it
    recipe: str | None  # a recipe the bundle builds, or None
    s3_uri: str | None  # the user's model.tar.gz, or None


def resolve_model(text: str) -> ModelRef:
    """A recipe name or an s3://bucket/key.tar.gz URI; ValueError naming the known recipes otherwise."""
    if S3_ARCHIVE.match(text):
        return ModelRef(text, None, text)
    known = recipe_names()
    if text in known:
        return ModelRef(text, text, None)
    raise ValueError(f"{text!r} is neither a known model recipe ({', '.join(known)}) nor an s3://bucket/key.tar.gz URI")


def recipe_names() -> tuple[str, ...]:
    from bundle.artifact.recipes import RECIPES

    return tuple(RECIPES)
