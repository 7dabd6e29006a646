"""Regression guard for the serving overhead, proven by behaviour rather than by a timing bound.

The bundle's model_fn sets the forest's n_jobs to 1: with n_jobs above 1, every predict_proba starts a thread pool
(joblib's threading backend) and pays for it on each request (`python -m bundle profile --n-jobs` and
`python -m bundle bench` show the cost in time; PERF_NOTES.md has the numbers). A CPU-time ratio with a fixed bound
cannot be both sensitive and reliable on a shared machine, so the guard counts instead: the image's real worker
(gunicorn + gevent + sagemaker-containers, in .venv-image) runs with a probe (tests/perf/thread_probe) that records
every thread the process starts, and the test reads how many it started while answering 1000-row batches. The bundle's
handlers start none; the same worker serving handlers that leave n_jobs at 2 starts threads in every predict, which
the guard catches.
"""
from __future__ import annotations

import json
import tarfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from bundle.artifact.tarball import deterministic_tarball, unpack_artifact
from bundle.local.worker import ImageWorker
from bundle.perf.bench import BATCH_ROWS
from bundle.perf.timing import KeepAliveClient, instances_body, iris_rows

PROBE = Path(__file__).resolve().parent / "thread_probe"
PREDICTS = 5


@contextmanager
def probed_worker(artifact_path: Path, scratch: Path):
    """The image's worker serving the artifact, every thread it starts written to a file: (worker, probe file)."""
    unpack_artifact(artifact_path, scratch / "model")
    started = scratch / "threads.txt"
    started.touch()
    worker = ImageWorker(scratch / "model", environment={"PYTHONPATH": str(PROBE), "THREAD_PROBE_FILE": str(started)}).start()
    try:
        yield worker, started
    finally:
        worker.stop()


def threads_started_by_each_predict(artifact_path: Path, scratch: Path) -> list[list[str]]:
    """The threads the worker started while answering each of PREDICTS 1000-row requests, one list per request.

    The probe writes its line before the thread runs, inside the request, so the file is complete when the answer
    arrives: no waiting."""
    body = instances_body(iris_rows(BATCH_ROWS))
    with probed_worker(artifact_path, scratch) as (worker, started):
        client = KeepAliveClient(worker.url)
        try:
            client.post(body)  # the first request may set up what every later one reuses
            per_request = []
            for _ in range(PREDICTS):
                before = len(started.read_text().splitlines())
                assert json.loads(client.post(body))["probabilities"]
                per_request.append(started.read_text().splitlines()[before:])
        finally:
            client.close()
    return per_request


def test_a_predict_in_the_image_worker_starts_no_thread(artifact, tmp_path):
    assert threads_started_by_each_predict(artifact.path, tmp_path) == [[]] * PREDICTS


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


def test_the_guard_catches_a_thread_pool_started_inside_every_predict(thread_pool_artifact, tmp_path):
    per_request = threads_started_by_each_predict(thread_pool_artifact, tmp_path)
    assert all(len(started) >= 2 for started in per_request), per_request  # the pool's two workers, every time


@pytest.mark.parametrize("rows", [1, BATCH_ROWS])
def test_served_answers_equal_the_bare_model_on_the_same_rows(endpoint, loaded, rows):
    """The worker's probabilities are the bare estimator's on the same rows (what the benchmark's ratio compares)."""
    batch = iris_rows(rows)
    client = KeepAliveClient(endpoint.worker_url)
    try:
        served = json.loads(client.post(instances_body(batch)))
    finally:
        client.close()
    assert served["probabilities"] == loaded.model.estimator.predict_proba(batch).tolist()
