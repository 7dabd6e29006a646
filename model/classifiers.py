"""The other proof-of-concept classifiers: logistic regression and gradient boosting on the same Iris data.

train.py's RandomForest is the default model; these are the alternatives a deployment can pick by recipe
name (`python -m bundle artifact --recipe NAME`), e.g. to host several models on one multi-model endpoint.
Same data, same folds, same seed and the same joblib format as train.py (whose helpers they use), so every
one of them is deterministic and served by the same code/inference.py. Run alone:

    python -m model.classifiers --recipe logistic-regression --out DIR

This file imports nothing from `bundle/`; the bundle calls `train()` and train.py's `save()`.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass

from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from model.train import SEED, TrainedModel, fit_on_iris, save


@dataclass(frozen=True)
class LogisticRegressionHyperparameters:
    # lbfgs is deterministic; Iris's unscaled features converge well within 1000 iterations.
    C: float = 1.0
    max_iter: int = 1000
    # Single-threaded predict, as the RandomForest: no thread pool per request.
    n_jobs: int = 1


@dataclass(frozen=True)
class GradientBoostingHyperparameters:
    # 50 shallow stages: about as accurate as the forest on Iris, a small file, predict in microseconds.
    n_estimators: int = 50
    learning_rate: float = 0.1
    max_depth: int = 2
    subsample: float = 1.0
    random_state: int = SEED


ESTIMATORS = {
    "logistic-regression": (LogisticRegression, LogisticRegressionHyperparameters),
    "gradient-boosting": (GradientBoostingClassifier, GradientBoostingHyperparameters),
}


def train(recipe: str, params=None) -> TrainedModel:
    """Cross-validate then fit the recipe's estimator on all of Iris, exactly as train.py does for the forest."""
    estimator_class, default_params = ESTIMATORS[recipe]
    params = params if params is not None else default_params()
    return fit_on_iris(lambda: estimator_class(**asdict(params)), SEED)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True, choices=sorted(ESTIMATORS))
    parser.add_argument("--out", default=".", help="directory for model.joblib")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = train(args.recipe)
    path = save(model, args.out)
    print(json.dumps({"path": path, "recipe": args.recipe, **model.metrics()}))


if __name__ == "__main__":
    main()
