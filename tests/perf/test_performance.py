"""Regression guard: serving overhead as a ratio measured in one run, never as absolute times.

The image's real worker (gunicorn + gevent + sagemaker-containers, in .venv-image) answers a 1000-row
batch over HTTP; the bare estimator, loaded in this process, predicts the same rows; requests and bare
calls alternate, so a noisy machine slows both alike. The ratio of their medians is the serving overhead.

Why it holds on a busy machine: each attempt interleaves the two sides (noise hits both), compares
medians (a burst moves few samples), and the guard takes the best of several attempts (a burst that
spans one attempt does not span all). A real regression is slower in every attempt.

RATIO_BOUND: on the real worker, on a 2-core machine, one run measured 2.6x-3.8x for the bundle's handlers and
8.1x-9.6x for the same worker serving handlers that leave n_jobs at 2 (a thread pool started in every predict),
three attempts each (`python -m bundle bench` reports the first; the README's Performance section). 6.0 sits
between the two with room on both sides; the breakage is measured here too, so the guard proves it can fail.
"""
from __future__ import annotations

import json
import tarfile

import pytest

from bundle.artifact.tarball import deterministic_tarball
from bundle.perf.bench import BATCH_ROWS, Overhead, measure_overhead
from bundle.perf.timing import KeepAliveClient, instances_body, iris_rows
from bundle.local.endpoint import LocalEndpoint

RATIO_BOUND = 6.0
ATTEMPTS = 5  # a burst of noise on a shared CI machine gets more chances; a real regression fails all of them


def best_of(url: str, estimator, attempts: int = ATTEMPTS, requests: int = 40) -> list[Overhead]:
    rows = iris_rows(BATCH_ROWS)
    measured = []
    for _ in range(attempts):
        measured.append(measure_overhead(url, estimator, rows, requests))
        if measured[-1].ratio <= RATIO_BOUND:
            break
    return measured


def describe(measured: list[Overhead]) -> str:
    return "; ".join(f"{m.ratio:.2f}x ({m.served.median_ms:.2f} ms over HTTP, {m.bare.median_ms:.2f} ms bare)" for m in measured)


def test_serving_overhead_for_1000_row_batches_stays_under_the_bound(endpoint, loaded):
    measured = best_of(endpoint.worker_url, loaded.model.estimator)
    assert min(m.ratio for m in measured) <= RATIO_BOUND, f"serving overhead above {RATIO_BOUND}x: {describe(measured)}"


@pytest.fixture(scope="module")
def thread_pool_artifact(artifact, tmp_path_factory):
    """The bundle's artifact with one regression: model_fn leaves the forest's n_jobs at 2 (a thread pool per predict)."""
    with tarfile.open(artifact.path, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    source = files["code/inference.py"].decode()
    assert "estimator.n_jobs = 1" in source
    files["code/inference.py"] = source.replace("estimator.n_jobs = 1", "estimator.n_jobs = 2").encode()
    path = tmp_path_factory.mktemp("regressed") / "model.tar.gz"
    path.write_bytes(deterministic_tarball(files))
    return path


def test_the_guard_catches_a_thread_pool_started_inside_every_predict(thread_pool_artifact, loaded):
    with LocalEndpoint(thread_pool_artifact, port=0) as regressed:
        measured = best_of(regressed.worker_url, loaded.model.estimator, attempts=1, requests=10)
    assert measured[0].ratio > RATIO_BOUND, describe(measured)


@pytest.mark.parametrize("rows", [1, BATCH_ROWS])
def test_served_answers_equal_the_bare_model_on_the_same_rows(endpoint, loaded, rows):
    """The ratio compares like with like: the worker's probabilities are the bare estimator's."""
    batch = iris_rows(rows)
    client = KeepAliveClient(endpoint.worker_url)
    try:
        served = json.loads(client.post(instances_body(batch)))
    finally:
        client.close()
    assert served["probabilities"] == loaded.model.estimator.predict_proba(batch).tolist()
