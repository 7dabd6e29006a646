"""The model's quality references, computed from its training data when the artifact is built: Model Monitor's
data-quality baseline (statistics.json and constraints.json, in Model Monitor's own formats), the training features the
drift check compares captured data with, and the default accuracy threshold of the PredictionAccuracy alarm.

Formats (SageMaker developer guide, "Schema for Statistics (statistics.json file)" and "Schema for Constraints
(constraints.json file)"): per feature, `numerical_statistics` {common {num_present, num_missing}, mean, sum, std_dev,
min, max, distribution.kll {buckets, sketch}} and, in the constraints, `completeness` and `num_constraints.is_non_negative`,
with `monitoring_config`. The KLL sketch's `data` holds every value at level 0: a KLL sketch with k = 2048 keeps up to
2048 items uncompacted, and the training set has 150, so the sketch is the sorted values themselves. Model Monitor's own
container materialises 10 buckets; so does this. What Model Monitor's analyzer makes of these files cannot be run here
(its image is not installable from PyPI): the formats follow AWS's documentation and a test checks their fields.

Deterministic: the same training data gives byte-identical files, stored under their own sha256 (content-addressed).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bundle.files import write_atomically
from bundle.paths import CACHE_DIR
from model.train import feature_name

KLL_PARAMETERS = {"c": 0.64, "k": 2048.0}  # Model Monitor's default sketch parameters
BUCKETS = 10
# The drift of a feature's distribution Model Monitor's baseline_drift_check flags (its documented default).
COMPARISON_THRESHOLD = 0.1
# The alarm's default threshold: cross-validated accuracy minus this many standard deviations across the folds.
THRESHOLD_STANDARD_DEVIATIONS = 2


@dataclass(frozen=True)
class TrainingData:
    """The features the model was trained on, by name, in the order clients send them."""

    names: tuple[str, ...]
    rows: np.ndarray  # (n, features), float64

    def column(self, name: str) -> np.ndarray:
        return self.rows[:, self.names.index(name)]


def training_data() -> TrainingData:
    """Iris as model/train.py trains every recipe on it (scikit-learn's bundled copy: no download)."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    return TrainingData(tuple(feature_name(n) for n in iris.feature_names), iris.data.astype(np.float64))


def default_accuracy_threshold(metrics: dict) -> float:
    """The artifact's cross-validated accuracy minus THRESHOLD_STANDARD_DEVIATIONS fold deviations, rounded down to
    two decimals (an alarm a notch under what the model scored on held-out folds)."""
    value = metrics["cv_accuracy_mean"] - THRESHOLD_STANDARD_DEVIATIONS * metrics["cv_accuracy_std"]
    return math.floor(round(value, 6) * 100) / 100


def _number(value: float) -> float | int:
    return round(float(value), 10)


def feature_statistics(name: str, values: np.ndarray) -> dict:
    counts, edges = np.histogram(values, bins=BUCKETS)
    return {
        "name": name,
        "inferred_type": "Fractional",
        "numerical_statistics": {
            "common": {"num_present": int(values.size), "num_missing": 0},
            "mean": _number(np.mean(values)),
            "sum": _number(np.sum(values)),
            "std_dev": _number(np.std(values)),
            "min": _number(np.min(values)),
            "max": _number(np.max(values)),
            "distribution": {
                "kll": {
                    "buckets": [
                        {"lower_bound": _number(lo), "upper_bound": _number(hi), "count": float(c)}
                        for lo, hi, c in zip(edges[:-1], edges[1:], counts)
                    ],
                    "sketch": {"parameters": dict(KLL_PARAMETERS), "data": [[_number(v) for v in np.sort(values)]]},
                }
            },
        },
    }


def statistics(data: TrainingData) -> dict:
    return {
        "version": 0.0,
        "dataset": {"item_count": int(data.rows.shape[0])},
        "features": [feature_statistics(name, data.column(name)) for name in data.names],
    }


def constraints(data: TrainingData) -> dict:
    return {
        "version": 0.0,
        "features": [
            {
                "name": name,
                "inferred_type": "Fractional",
                "completeness": 1.0,
                "num_constraints": {"is_non_negative": bool(np.all(data.column(name) >= 0))},
            }
            for name in data.names
        ],
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": 1.0,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {"perform_comparison": "Enabled", "comparison_threshold": COMPARISON_THRESHOLD, "comparison_method": "Robust"},
        },
    }


@dataclass(frozen=True)
class Baseline:
    """The two files, written under their content's digest, and that digest (the S3 keys carry its first 12 digits)."""

    statistics: Path
    constraints: Path
    sha256: str

    @property
    def key_prefix(self) -> str:
        from bundle.names import MONITORING_BASELINE_PREFIX

        return f"{MONITORING_BASELINE_PREFIX}/{self.sha256[:12]}"


def _encoded(document: dict) -> bytes:
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def build_baseline(data: TrainingData | None = None, cache_dir: Path | None = None) -> Baseline:
    data = data or training_data()
    files = {"statistics.json": _encoded(statistics(data)), "constraints.json": _encoded(constraints(data))}
    digest = hashlib.sha256(b"".join(name.encode() + b"\0" + body for name, body in sorted(files.items()))).hexdigest()
    directory = (cache_dir or CACHE_DIR / "baseline") / digest
    for name, body in files.items():
        path = directory / name
        if not path.exists() or path.read_bytes() != body:
            directory.mkdir(parents=True, exist_ok=True)
            write_atomically(path, body)
    return Baseline(directory / "statistics.json", directory / "constraints.json", digest)
