"""The serving image's single-model worker as a process: gunicorn with gevent workers serving sagemaker-containers'
Worker/Transformer over the shipped `code/inference.py`, in `.venv-image` (the image's pinned libraries), on an
ephemeral loopback port. It speaks the container protocol: GET /ping, POST /invocations.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from pathlib import Path

import urllib3

from bundle.errors import BundleError
from bundle.local.lifetime import die_with_parent, stop_group
from bundle.names import MODEL_ENVIRONMENT
from bundle.paths import CONTAINER_CODE, IMAGE_PYTHON

# The image's default (SAGEMAKER_MODEL_SERVER_TIMEOUT): gunicorn's worker timeout and nginx's read timeout.
MODEL_SERVER_TIMEOUT = 60
WORKER_START_TIMEOUT = 90.0


def container_environment(base_dir: Path, workers: int, timeout: int, model_environment: dict[str, str] = MODEL_ENVIRONMENT) -> dict[str, str]:
    """The stack's container environment (the model's, or the preprocessing stage's), with the image's directories moved
    under `base_dir`."""
    model_dir = base_dir / "model"
    environment = {key: value.replace("/opt/ml/model", str(model_dir)) for key, value in model_environment.items()}
    environment.update(
        SAGEMAKER_BASE_DIR=str(base_dir),  # sagemaker-containers' /opt/ml
        SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
        SAGEMAKER_MODEL_SERVER_TIMEOUT=str(timeout),
        SAGEMAKER_USE_NGINX="false",
    )
    return environment


class ImageWorker:
    """gunicorn + gevent + sagemaker-containers' Worker in `.venv-image`, on an ephemeral loopback port."""

    def __init__(
        self, model_dir: Path, workers: int = 1, timeout: int = MODEL_SERVER_TIMEOUT, log=None, environment: dict[str, str] | None = None,
        model_environment: dict[str, str] = MODEL_ENVIRONMENT,  # the container's own (the stack's Model's), e.g. the preprocessing stage's
    ):
        if not IMAGE_PYTHON.exists():
            raise BundleError(f"{IMAGE_PYTHON.parent.parent.name} is missing: run `make setup` (the serving image's libraries)")
        self.model_dir = model_dir
        self.workers = workers
        self.timeout = timeout
        self._log = log  # a callable for each log line, or None to keep only the tail
        self.environment = dict(environment or {})  # added to the container's environment (e.g. a probe on PYTHONPATH)
        self.model_environment = dict(model_environment)
        self.lines: deque[str] = deque(maxlen=200)
        self._process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            str(IMAGE_PYTHON), "-m", "gunicorn",
            "-k", "gevent",
            "-w", str(self.workers),
            "--worker-connections", str(1000 * self.workers),
            "--timeout", str(self.timeout),
            "-b", f"127.0.0.1:{self.port or 0}",  # a restart keeps the port
            "--pythonpath", str(CONTAINER_CODE),
            "--log-level", "info",
            "single_model:app",
        ]  # fmt: skip

    def start(self) -> "ImageWorker":
        base_dir = self.model_dir.parent
        # sagemaker-containers creates $SAGEMAKER_BASE_DIR/code when it is imported, racing between gunicorn workers
        # (FileExistsError kills one). In the image the entry point imports it once before gunicorn forks: same here.
        (base_dir / "code").mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(container_environment(base_dir, self.workers, self.timeout, self.model_environment))
        env.update(self.environment)
        self._process = subprocess.Popen(
            self.command(), cwd=base_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
        listening = threading.Event()
        threading.Thread(target=self._read_log, args=(listening,), daemon=True).start()
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not listening.wait(0.05):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BundleError("the image's worker did not start:\n" + "\n".join(self.lines))
        self._wait_until_ready(deadline)
        return self

    def _read_log(self, listening: threading.Event) -> None:
        for line in self._process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                listening.set()
            if self._log:
                self._log(line)

    def _wait_until_ready(self, deadline: float) -> None:
        """The first /ping loads the model in the worker that answers it; wait until every worker has."""
        pool = urllib3.HTTPConnectionPool("127.0.0.1", self.port, retries=False, timeout=5.0)
        # Each gevent worker builds the app (model_fn) on its first request: ping once per worker and more.
        ready = 0
        while ready < 2 * self.workers:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BundleError("the image's worker did not become ready:\n" + "\n".join(self.lines))
            try:
                ready += pool.request("GET", "/ping").status == 200
            except urllib3.exceptions.HTTPError:
                time.sleep(0.05)
        pool.close()

    def worker_pids(self) -> list[int]:
        """The gunicorn workers' process ids (the master only supervises them)."""
        import psutil

        return [child.pid for child in psutil.Process(self._process.pid).children()]

    def alive(self) -> bool:
        """The gunicorn master is running (it replaces a worker that dies; nothing replaces it)."""
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """SIGTERM is gunicorn's graceful stop; then whatever is left of its process group is killed."""
        stop_group(self._process, signal.SIGTERM)
