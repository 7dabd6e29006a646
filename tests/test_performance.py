"""Regression guard: serving overhead as a ratio measured in one run, never as absolute times.

The local endpoint answers a 1000-row batch over HTTP; the bare estimator (loaded separately, so
nothing done to the served one touches it) predicts the same rows; requests and bare calls
alternate, so a noisy machine slows both alike. The ratio of their medians is the serving overhead.

RATIO_BOUND: `python -m bundle bench` measured 2.5x-2.6x with the 25-tree forest on a 2-core machine,
and this in-process check 2.7x (PERF_NOTES.md). The overhead is mostly JSON decoding and encoding,
about 2 ms per 1000 rows, so a smaller model raises the ratio and a larger one lowers it: re-derive
the bound from a bench run when the model's size changes.
"""
from __future__ import annotations

import json

import pytest

from bundle.bench import BATCH_ROWS, KeepAliveClient, Overhead, instances_body, iris_rows, measure_overhead

RATIO_BOUND = 4.0
ATTEMPTS = 3  # a burst of noise on a shared CI machine gets two more chances; a real regression fails all three


def best_of(endpoint, estimator, attempts: int = ATTEMPTS, requests: int = 60) -> list[Overhead]:
    rows = iris_rows(BATCH_ROWS)
    measured = []
    for _ in range(attempts):
        measured.append(measure_overhead(endpoint.url, estimator, rows, requests))
        if measured[-1].ratio <= RATIO_BOUND:
            break
    return measured


def describe(measured: list[Overhead]) -> str:
    return "; ".join(f"{m.ratio:.2f}x ({m.served.median_ms:.2f} ms over HTTP, {m.bare.median_ms:.2f} ms bare)" for m in measured)


def test_serving_overhead_for_1000_row_batches_stays_under_the_bound(endpoint, loaded):
    assert loaded.model is not endpoint.loaded.model, "the bare estimator must be a separate load"
    measured = best_of(endpoint, loaded.model.estimator)
    assert min(m.ratio for m in measured) <= RATIO_BOUND, f"serving overhead above {RATIO_BOUND}x: {describe(measured)}"


def test_the_guard_catches_a_thread_pool_started_inside_every_predict(endpoint, loaded, monkeypatch):
    """The regression n_jobs != 1 causes (joblib starts threads in each predict_proba): the guard must fail on it."""
    monkeypatch.setattr(endpoint.loaded.model.estimator, "n_jobs", 2)
    measured = best_of(endpoint, loaded.model.estimator, attempts=1, requests=10)
    assert measured[0].ratio > RATIO_BOUND, describe(measured)


@pytest.mark.parametrize("rows", [1, BATCH_ROWS])
def test_served_answers_equal_the_bare_model_on_the_same_rows(endpoint, loaded, rows):
    """The ratio compares like with like: the endpoint's probabilities are the bare estimator's."""
    batch = iris_rows(rows)
    client = KeepAliveClient(endpoint.url)
    try:
        served = json.loads(client.post(instances_body(batch)))
    finally:
        client.close()
    assert served["probabilities"] == loaded.model.estimator.predict_proba(batch).tolist()
