"""The model-size trade-off: the chosen default keeps the accuracy and probability quality of 100 trees."""
from __future__ import annotations

from dataclasses import replace

from bundle.perf.model_size import cv_log_loss, sweep, table
from model import train as training


def test_the_default_forest_is_at_least_as_good_as_100_trees_on_the_same_folds():
    """What the comment on Hyperparameters claims, rechecked: CV accuracy no lower, CV log loss no higher."""
    chosen = training.Hyperparameters()
    reference = replace(chosen, n_estimators=100, max_depth=None)
    assert chosen.n_estimators < reference.n_estimators
    assert training.train(chosen).cv_accuracy_mean >= training.train(reference).cv_accuracy_mean
    assert cv_log_loss(chosen) <= cv_log_loss(reference)


def test_a_size_point_serves_what_it_measures_and_the_table_marks_the_reference():
    params = replace(training.Hyperparameters(), n_estimators=10)
    [point] = sweep(tree_counts=(10,), depths=(None,), runs=3)
    assert (point.n_estimators, point.max_depth) == (10, None)
    assert point.cv_accuracy_mean == training.train(params).cv_accuracy_mean
    assert point.response_batch_bytes > 0 and point.model_bytes > 0
    assert point.handler_batch_ms > 0 and point.predict_batch_ms > 0
    rendered = table([point], reference_accuracy=point.cv_accuracy_mean + 0.01, chosen=params)
    row = rendered.splitlines()[-1]
    assert row.startswith("| 10 (default) | None |") and "| no |" in row
