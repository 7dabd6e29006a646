"""The proof-of-concept models by name: which classifier, with which hyperparameters, trained by which source.

    random-forest         the default (model/train.py): what every deployment serves unless told otherwise
    logistic-regression   model/classifiers.py: a linear model, a few hundred bytes
    gradient-boosting     model/classifiers.py: boosted shallow trees

`bundle.artifact.build.recipe_artifact(name)` returns a recipe's packaged model.tar.gz: trained on scikit-learn's
bundled Iris data with fixed seeds, version-gated against the serving image, content-addressed by its inputs and
cached, exactly as the default artifact always was (bundle/artifact/build.py does the packaging for all of
them; this module only describes them and imports nothing of it). Every recipe ships the same code/inference.py, which serves any classifier with `predict_proba`.

The default's cache key and manifest are computed as they were before recipes existed, so its bytes do not
change; the others add their name (and the estimator's class) to the key and to the manifest.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bundle.errors import BundleError
from bundle.paths import MODEL_DIR
from model import classifiers
from model import train as training

DEFAULT_RECIPE = "random-forest"
TRAIN_SOURCE = MODEL_DIR / "train.py"
CLASSIFIERS_SOURCE = MODEL_DIR / "classifiers.py"
INFERENCE_SOURCE = MODEL_DIR / "inference.py"


@dataclass(frozen=True)
class Recipe:
    name: str
    estimator: str  # the scikit-learn class
    summary: str
    hyperparameters: object  # a frozen dataclass: part of the cache key and of the manifest
    train: Callable[[], training.TrainedModel]
    sources: tuple[Path, ...]  # every file whose bytes can change the artifact, hashed into the key

    @property
    def default(self) -> bool:
        return self.name == DEFAULT_RECIPE


def _recipe(name: str, summary: str) -> Recipe:
    estimator_class, hyperparameters = classifiers.ESTIMATORS[name]
    return Recipe(
        name=name,
        estimator=estimator_class.__name__,
        summary=summary,
        hyperparameters=hyperparameters(),
        train=lambda: classifiers.train(name),
        sources=(TRAIN_SOURCE, CLASSIFIERS_SOURCE, INFERENCE_SOURCE),
    )


RECIPES: dict[str, Recipe] = {
    DEFAULT_RECIPE: Recipe(
        name=DEFAULT_RECIPE,
        estimator="RandomForestClassifier",
        summary="25 full-depth trees (the default model)",
        hyperparameters=training.Hyperparameters(),
        train=lambda: training.train(training.Hyperparameters()),
        sources=(TRAIN_SOURCE, INFERENCE_SOURCE),
    ),
    "logistic-regression": _recipe("logistic-regression", "multinomial logistic regression (lbfgs)"),
    "gradient-boosting": _recipe("gradient-boosting", "50 boosting stages of depth-2 trees"),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called `name`, or a message naming the known ones (and the nearest)."""
    try:
        return RECIPES[name]
    except (KeyError, TypeError):
        nearest = difflib.get_close_matches(str(name), RECIPES, n=1)
        hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
        raise BundleError(f"unknown model recipe {name!r}: choose one of {', '.join(RECIPES)}{hint}") from None


def target_model_name(recipe: str, sha256: str) -> str:
    """The content-addressed name a recipe's multi-model archive has under the endpoint's prefix (its TargetModel)."""
    return f"{recipe}-{sha256[:12]}.tar.gz"
