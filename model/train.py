"""Train the proof-of-concept model: a RandomForest on scikit-learn's bundled Iris data.

Deterministic: the seed and every hyperparameter are named values below, and the data
set ships inside scikit-learn (no download). Run alone:

    python model/train.py --out DIR      # writes DIR/model.joblib, prints the metrics

This file imports nothing from `bundle/`; the bundle calls `train()` and `save()`.
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, field

import joblib
import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

SEED = 42
CV_FOLDS = 5
# joblib compression level: small artifact, and byte-identical output for identical models.
JOBLIB_COMPRESS = 3
MODEL_FILENAME = "model.joblib"


@dataclass(frozen=True)
class Hyperparameters:
    # 25 full-depth trees: the fewest whose CV accuracy and CV log loss are at least as good as 100 trees'
    # (`python -m bundle model-size`). sklearn dispatches each tree from Python, so a quarter of the trees
    # is about a third of the prediction time; full depth keeps probabilities short multiples of 1/25.
    n_estimators: int = 25
    max_depth: int | None = None
    min_samples_leaf: int = 1
    random_state: int = SEED
    # Single-threaded predict: a thread pool per request costs more than it saves on small batches.
    n_jobs: int = 1


@dataclass(frozen=True)
class TrainedModel:
    estimator: RandomForestClassifier
    cv_accuracy_mean: float
    cv_accuracy_std: float
    cv_folds: int
    feature_names: list[str] = field(default_factory=list)
    class_names: list[str] = field(default_factory=list)

    def metrics(self) -> dict:
        return {
            "cv_accuracy_mean": self.cv_accuracy_mean,
            "cv_accuracy_std": self.cv_accuracy_std,
            "cv_folds": self.cv_folds,
        }


def feature_name(raw: str) -> str:
    """'sepal length (cm)' -> 'sepal_length': the names clients use in JSON records."""
    return raw.replace(" (cm)", "").replace(" ", "_")


def train(params: Hyperparameters = Hyperparameters()) -> TrainedModel:
    return fit_on_iris(lambda: RandomForestClassifier(**asdict(params)), params.random_state)


def fit_on_iris(make_estimator, seed: int) -> TrainedModel:
    """Cross-validate a fresh estimator on Iris (stratified, shuffled with `seed`), then fit one on all of it."""
    iris = load_iris()
    x, y = iris.data.astype(np.float64), iris.target
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    scores = cross_val_score(make_estimator(), x, y, cv=folds)
    estimator = make_estimator().fit(x, y)
    return TrainedModel(
        estimator=estimator,
        cv_accuracy_mean=round(float(scores.mean()), 6),
        cv_accuracy_std=round(float(scores.std()), 6),
        cv_folds=CV_FOLDS,
        feature_names=[feature_name(n) for n in iris.feature_names],
        class_names=[str(n) for n in iris.target_names],
    )


def save(model: TrainedModel, directory: str) -> str:
    path = os.path.join(directory, MODEL_FILENAME)
    joblib.dump(model.estimator, path, compress=JOBLIB_COMPRESS)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=".", help="directory for model.joblib")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model = train()
    path = save(model, args.out)
    print(json.dumps({"path": path, **model.metrics()}))


if __name__ == "__main__":
    main()
