"""`python -m bundle.model_size`: the forest's size against its accuracy and its prediction time.

For each (n_estimators, max_depth) it trains with model/train.py's own `train()` (same seed, same
5-fold stratified cross-validation as the artifact's metrics), then times `predict_proba` on a ready
array of 1 row and of 1000 rows (medians), and the compressed model.joblib size. The point: a forest's
prediction time is mostly a fixed cost per tree (sklearn dispatches every tree from Python), so
fewer trees are faster at every batch size; the table shows what that costs in accuracy.

Iris has 150 rows: 5-fold CV accuracy moves in steps of 1/150 (0.0067), one flower. Differences of
a step or two are noise, not a better model.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bundle.bench import BATCH_ROWS, iris_rows, repeat
from model import train as training

TREE_COUNTS = (5, 10, 20, 30, 50, 100)
DEPTHS = (None, 3, 4, 5)
TIMED_RUNS = 41


@dataclass(frozen=True)
class SizePoint:
    n_estimators: int
    max_depth: int | None
    cv_accuracy_mean: float
    cv_accuracy_std: float
    predict_1_row_ms: float  # medians
    predict_batch_ms: float
    model_bytes: int


def measure(params: training.Hyperparameters, runs: int = TIMED_RUNS) -> SizePoint:
    trained = training.train(params)
    estimator, rows = trained.estimator, iris_rows(BATCH_ROWS)
    one = rows[:1]
    estimator.predict_proba(rows)  # first call pays one-off imports and caches
    with tempfile.TemporaryDirectory() as scratch:
        size = Path(training.save(trained, scratch)).stat().st_size
    return SizePoint(
        n_estimators=params.n_estimators,
        max_depth=params.max_depth,
        cv_accuracy_mean=trained.cv_accuracy_mean,
        cv_accuracy_std=trained.cv_accuracy_std,
        predict_1_row_ms=repeat(lambda: estimator.predict_proba(one), runs).median_ms,
        predict_batch_ms=repeat(lambda: estimator.predict_proba(rows), runs).median_ms,
        model_bytes=size,
    )


def sweep(tree_counts=TREE_COUNTS, depths=DEPTHS, base: training.Hyperparameters = training.Hyperparameters(), runs: int = TIMED_RUNS):
    return [measure(replace(base, n_estimators=n, max_depth=d), runs) for n in tree_counts for d in depths]


def table(points: list[SizePoint], reference_accuracy: float, chosen: training.Hyperparameters) -> str:
    header = "| n_estimators | max_depth | CV accuracy (mean ± std) | >= reference | predict_proba 1 row | predict_proba 1000 rows | model.joblib |"
    lines = [header, "|---:|---:|---|:---:|---:|---:|---:|"]
    for p in points:
        mark = " (default)" if (p.n_estimators, p.max_depth) == (chosen.n_estimators, chosen.max_depth) else ""
        lines.append(
            f"| {p.n_estimators}{mark} | {p.max_depth if p.max_depth is not None else 'None'} "
            f"| {p.cv_accuracy_mean:.4f} ± {p.cv_accuracy_std:.4f} | {'yes' if p.cv_accuracy_mean >= reference_accuracy else 'no'} "
            f"| {p.predict_1_row_ms:.3f} ms | {p.predict_batch_ms:.3f} ms | {p.model_bytes:,} B |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bundle.model_size", description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the points to this JSON file")
    parser.add_argument(
        "--reference-accuracy", type=float, default=None,
        help="the accuracy to keep (default: the 100-tree, unlimited-depth forest's, measured in this run)",
    )
    args = parser.parse_args(argv)
    points = sweep()
    reference = args.reference_accuracy
    if reference is None:
        reference = next(p.cv_accuracy_mean for p in points if (p.n_estimators, p.max_depth) == (100, None))
    print(table(points, reference, training.Hyperparameters()))
    print(f"\nreference CV accuracy: {reference:.6f}")
    if args.json:
        args.json.write_text(json.dumps({"reference_accuracy": reference, "points": [asdict(p) for p in points]}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
