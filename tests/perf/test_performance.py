"""Regression guard: the serving overhead as a ratio of CPU times measured in one run, never absolute times.

The image's real worker (gunicorn + gevent + sagemaker-containers, in .venv-image) answers 1000-row batches over
HTTP; the bare estimator, loaded in this process, predicts the same rows. The guard compares the CPU time the
worker processes spend per request with the CPU time of the bare predict_proba.

Why CPU time: on a shared machine, wall times stretch with the load (a first version of this guard compared wall
medians and read 6.9x at a load average of 6 on 2 cores, against 2.6-3.8x on a quiet one); CPU time counts the
work, not the wait for a core. Measured over 100 requests (the kernel counts CPU in 10 ms ticks), best of three
attempts against a burst.

RATIO_BOUND: one run on a 2-core machine at load average ~5 measured 2.8x-3.5x for the bundle's handlers and
7.6x for the same worker serving handlers that leave n_jobs at 2 (a thread pool started in every predict), three
attempts each. 5.5 sits between them with room on both sides; the breakage is measured here too, so the guard
proves it can fail.
"""
from __future__ import annotations

import json
import tarfile

import pytest

from bundle.artifact.tarball import deterministic_tarball
from bundle.local.endpoint import LocalEndpoint
from bundle.perf.bench import BATCH_ROWS, CpuOverhead, measure_cpu_overhead
from bundle.perf.timing import KeepAliveClient, instances_body, iris_rows

RATIO_BOUND = 5.5
ATTEMPTS = 3
REQUESTS = 100


def best_of(endpoint, estimator, attempts: int = ATTEMPTS) -> list[CpuOverhead]:
    rows = iris_rows(BATCH_ROWS)
    measured = []
    for _ in range(attempts):
        measured.append(measure_cpu_overhead(endpoint.worker_url, endpoint.worker.worker_pids(), estimator, rows, REQUESTS))
        if measured[-1].ratio <= RATIO_BOUND:
            break
    return measured


def describe(measured: list[CpuOverhead]) -> str:
    return "; ".join(f"{m.ratio:.2f}x ({m.served_cpu_ms:.2f} ms CPU per request, {m.bare_cpu_ms:.2f} ms bare)" for m in measured)


def test_serving_overhead_for_1000_row_batches_stays_under_the_bound(endpoint, loaded):
    measured = best_of(endpoint, loaded.model.estimator)
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
        measured = best_of(regressed, loaded.model.estimator, attempts=1)
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
