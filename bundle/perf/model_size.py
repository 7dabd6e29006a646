"""`python -m bundle model-size`: the forest's size against its accuracy and its serving cost.

For each (n_estimators, max_depth) it trains with model/train.py's own `train()` (same seed, same
5-fold stratified cross-validation as the artifact's metrics) and adds, on the same folds, the
cross-validated log loss: the endpoint returns probabilities, and accuracy alone does not show when a
small forest's probabilities get coarse. Then, as the endpoint would serve it (model/inference.py's
model_fn and transform_fn), it times 1 row and 1000 rows, and records the JSON response size and
the compressed model.joblib size. All times are medians.

Why size matters: sklearn dispatches every tree of a forest from Python (about 20 µs each on this
machine), so prediction time grows with the tree count at every batch size. Depth barely changes
time, but depth-limited trees leave impure leaves, whose probabilities (e.g. 0.9803921568627451)
make the JSON response about 2.5 times larger and slower to encode than a full-depth forest's
multiples of 1/n_estimators (e.g. 0.96).

Iris has 150 rows: CV accuracy moves in steps of 1/150 (0.0067), one flower. Differences of a step
or two are noise, not a better model.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score

from bundle.perf.bench import BATCH_ROWS
from bundle.perf.timing import JSON, instances_body, interleaved, iris_rows
from model import inference as handlers
from model import train as training

TREE_COUNTS = (10, 20, 25, 30, 50, 100)
DEPTHS = (None, 3, 5)
TIMED_RUNS = 41


@dataclass(frozen=True)
class SizePoint:
    n_estimators: int
    max_depth: int | None
    cv_accuracy_mean: float
    cv_accuracy_std: float
    cv_log_loss_mean: float
    predict_1_row_ms: float  # bare predict_proba, medians
    predict_batch_ms: float
    handler_1_row_ms: float  # transform_fn: decode, predict, encode
    handler_batch_ms: float
    response_batch_bytes: int
    model_bytes: int


def cv_log_loss(params: training.Hyperparameters) -> float:
    """On the folds train() scores accuracy on, so the two columns describe the same splits."""
    x, y = load_iris(return_X_y=True)
    folds = StratifiedKFold(n_splits=training.CV_FOLDS, shuffle=True, random_state=params.random_state)
    scores = cross_val_score(RandomForestClassifier(**asdict(params)), x, y, cv=folds, scoring="neg_log_loss")
    return round(float(-scores.mean()), 6)


@dataclass(frozen=True)
class Candidate:
    """A trained forest, served by the shipped handlers, before its timing."""

    params: training.Hyperparameters
    trained: training.TrainedModel
    served: handlers.ServedModel
    model_bytes: int


def prepare(params: training.Hyperparameters) -> Candidate:
    trained = training.train(params)
    with tempfile.TemporaryDirectory() as scratch:
        size = Path(training.save(trained, scratch)).stat().st_size
        manifest = {"feature_names": trained.feature_names, "class_names": trained.class_names}
        (Path(scratch) / handlers.MANIFEST_FILENAME).write_text(json.dumps(manifest))
        served = handlers.model_fn(scratch)
    return Candidate(params, trained, served, size)


def timed_calls(candidate: Candidate, rows) -> dict:
    estimator, served = candidate.served.estimator, candidate.served
    body, one_body = instances_body(rows), instances_body(rows[:1])
    return {
        "predict_1": lambda: estimator.predict_proba(rows[:1]),
        "predict_batch": lambda: estimator.predict_proba(rows),
        "handler_1": lambda: handlers.transform_fn(served, one_body, JSON, JSON),
        "handler_batch": lambda: handlers.transform_fn(served, body, JSON, JSON),
    }


def sweep(tree_counts=TREE_COUNTS, depths=DEPTHS, base: training.Hyperparameters = training.Hyperparameters(), runs: int = TIMED_RUNS):
    """Train every configuration first, then time them all in turn, so machine noise spreads over all alike."""
    candidates = [prepare(replace(base, n_estimators=n, max_depth=d)) for n in tree_counts for d in depths]
    rows = iris_rows(BATCH_ROWS)
    actions = {f"{i} {name}": call for i, c in enumerate(candidates) for name, call in timed_calls(c, rows).items()}
    interleaved(actions, 3)  # warm-up: first calls pay one-off imports and allocations
    timed = interleaved(actions, runs)
    points = []
    for i, c in enumerate(candidates):
        median = {name: timed[f"{i} {name}"].median_ms for name in ("predict_1", "predict_batch", "handler_1", "handler_batch")}
        response = handlers.transform_fn(c.served, instances_body(rows), JSON, JSON).get_data()
        points.append(
            SizePoint(
                n_estimators=c.params.n_estimators,
                max_depth=c.params.max_depth,
                cv_accuracy_mean=c.trained.cv_accuracy_mean,
                cv_accuracy_std=c.trained.cv_accuracy_std,
                cv_log_loss_mean=cv_log_loss(c.params),
                predict_1_row_ms=median["predict_1"],
                predict_batch_ms=median["predict_batch"],
                handler_1_row_ms=median["handler_1"],
                handler_batch_ms=median["handler_batch"],
                response_batch_bytes=len(response),
                model_bytes=c.model_bytes,
            )
        )
    return points


def table(points: list[SizePoint], reference_accuracy: float, chosen: training.Hyperparameters) -> str:
    lines = [
        "| n_estimators | max_depth | CV accuracy | >= reference | CV log loss | predict_proba 1 row | predict_proba 1000 rows "
        "| handler 1 row | handler 1000 rows | response (1000 rows) | model.joblib |",
        "|---:|---:|---|:---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        mark = " (default)" if (p.n_estimators, p.max_depth) == (chosen.n_estimators, chosen.max_depth) else ""
        lines.append(
            f"| {p.n_estimators}{mark} | {p.max_depth if p.max_depth is not None else 'None'} "
            f"| {p.cv_accuracy_mean:.4f} ± {p.cv_accuracy_std:.4f} | {'yes' if p.cv_accuracy_mean >= reference_accuracy else 'no'} "
            f"| {p.cv_log_loss_mean:.4f} | {p.predict_1_row_ms:.3f} ms | {p.predict_batch_ms:.3f} ms "
            f"| {p.handler_1_row_ms:.3f} ms | {p.handler_batch_ms:.3f} ms | {p.response_batch_bytes:,} B | {p.model_bytes:,} B |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the points to this JSON file")
    parser.add_argument(
        "--reference-accuracy",
        type=float,
        help="the CV accuracy to keep (default: the 100-tree, unlimited-depth forest's, measured in this run)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bundle model-size", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    points = sweep()
    reference = args.reference_accuracy
    if reference is None:
        reference = next(p.cv_accuracy_mean for p in points if (p.n_estimators, p.max_depth) == (100, None))
    print(table(points, reference, training.Hyperparameters()))
    print(f"\nreference CV accuracy: {reference:.6f}")
    if args.json:
        args.json.write_text(json.dumps({"reference_accuracy": reference, "points": [asdict(p) for p in points]}, indent=2) + "\n")
    return 0

