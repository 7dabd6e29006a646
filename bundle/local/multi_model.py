"""The serving image's multi-model server on this machine: Java multi-model-server (MMS) in `.venv-image`.

What the image runs when SAGEMAKER_MULTI_MODEL is set (bundle/local/container/multi_model.py starts it, with our
handler service, bundle/local/container/multi_model_handler.py), spoken to with SageMaker's multi-model container
protocol, as SageMaker's front does on an instance:

    POST   /models                  {"model_name": NAME, "url": DIRECTORY}   load (409 if loaded, 507 out of memory)
    POST   /models/{NAME}/invoke    the request body and its Content-Type / Accept
    GET    /models, DELETE /models/{NAME}, GET /ping

MMS needs Java: Debian's `default-jre-headless` (the image has openjdk 8; `make setup` installs it where it can).
MMS refuses ports above 32767, so the server gets a free port below that.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import urllib3

from bundle.artifact.tarball import unpack_artifact
from bundle.errors import BundleError
from bundle.local.lifetime import die_with_parent, stop_group
from bundle.paths import CONTAINER_CODE, IMAGE_PYTHON

# MMS parses its addresses' ports as signed shorts: 32768 and above are refused.
MAX_MMS_PORT = 32767
START_TIMEOUT = 120.0
LOAD_TIMEOUT = 120.0
INSTALL_HINT = "install Java (Debian/Ubuntu: apt-get install default-jre-headless; `make setup` does it where it can)"


def java_problem() -> str | None:
    """Why multi-model-server cannot run here, or None when it can (java on PATH, or $JAVA_HOME/bin/java)."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return f"no Java runtime: multi-model-server is a Java server; {INSTALL_HINT}"
    try:
        probe = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{java} does not run ({e}); {INSTALL_HINT}"
    if probe.returncode != 0:
        return f"`{java} -version` failed: {probe.stderr.strip()[:200]}"
    if not IMAGE_PYTHON.exists():
        return f"{IMAGE_PYTHON.parent.parent.name} is missing: run `make setup` (the serving image's libraries)"
    return None


def free_port(below: int = MAX_MMS_PORT) -> int:
    """A free loopback port under `below`: the kernel's ephemeral range is usually above MMS's limit."""
    for _ in range(200):
        with socket.socket() as probe:
            candidate = 20000 + int.from_bytes(os.urandom(2), "big") % (below - 20000)
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    raise BundleError(f"no free loopback port below {below} for multi-model-server")


def multi_model_environment(base_dir: Path, code_dir: Path, port: int, timeout: int = 60) -> dict[str, str]:
    """What the image's environment holds in multi-model mode, with /opt/ml moved under `base_dir`."""
    return {
        "SAGEMAKER_MULTI_MODEL": "true",
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(code_dir),
        "SAGEMAKER_BASE_DIR": str(base_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": str(timeout),
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }


class MultiModelServer:
    """multi-model-server with the image's handler service, on a loopback port below 32767; `start()` waits until it
    answers /ping. `load()` and `invoke()` speak SageMaker's multi-model container protocol."""

    def __init__(self, base_dir: Path, code_dir: Path, log=None, timeout: int = 60):
        problem = java_problem()
        if problem:
            raise BundleError(f"cannot start multi-model-server: {problem}")
        self.base_dir = Path(base_dir)
        self.code_dir = Path(code_dir)
        self.timeout = timeout
        self._log = log
        self.lines: deque[str] = deque(maxlen=300)
        self._process: subprocess.Popen | None = None
        self.port: int | None = None
        self._pool: urllib3.HTTPConnectionPool | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MultiModelServer":
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart keeps the port
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SAGEMAKER_"))}
        env.update(multi_model_environment(self.base_dir, self.code_dir, self.port, self.timeout))
        self._process = subprocess.Popen(
            [str(IMAGE_PYTHON), str(CONTAINER_CODE / "multi_model.py")],
            cwd=self.base_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True, preexec_fn=die_with_parent(),
        )  # fmt: skip
        threading.Thread(target=self._read_log, daemon=True).start()
        self._pool = urllib3.HTTPConnectionPool(
            "127.0.0.1", self.port, maxsize=32, block=False, retries=False, timeout=urllib3.Timeout(connect=5.0, read=self.timeout + 5)
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise BundleError("multi-model-server did not start:\n" + "\n".join(self.lines))
            try:
                if self._pool.request("GET", "/ping", timeout=2.0).status == 200:
                    return self
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.2)

    def _read_log(self) -> None:
        for line in self._process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if self._log:
                self._log(line)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, timeout: float | None = None):
        """One HTTP request to MMS; returns (status, body, headers)."""
        response = self._pool.urlopen(
            method, path, body=body, headers=headers or {}, preload_content=True, timeout=timeout or urllib3.Timeout(connect=5.0, read=self.timeout + 5)
        )
        return response.status, response.data, response.headers

    def load(self, name: str, directory: Path) -> tuple[int, dict]:
        """`POST /models`: MMS loads the model directory and starts its worker (model_fn runs there)."""
        status, data, _ = self.request(
            "POST", "/models", json.dumps({"model_name": name, "url": str(directory)}).encode(), {"Content-Type": "application/json"}, LOAD_TIMEOUT
        )
        try:
            document = json.loads(data or b"{}")
        except ValueError:
            document = {"message": data.decode("utf-8", "replace")}
        return status, document

    def invoke(self, name: str, body: bytes, headers: dict):
        """`POST /models/{name}/invoke`, the headers passed as they came (Content-Type, Accept)."""
        return self.request("POST", f"/models/{name}/invoke", body, headers)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.close()
        # The JVM and its Python workers share the launcher's session: the launcher stops its group on SIGTERM, and
        # whatever is left of the group is killed.
        stop_group(self._process, signal.SIGTERM)

    def alive(self) -> bool:
        """The launcher is running: it exits when the JVM does."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> "MultiModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def model_name_for(target: str) -> str:
    """The MMS model name of a TargetModel (any relative S3 key, up to 1024 characters): a hash, as SageMaker uses."""
    return hashlib.sha256(target.encode("utf-8")).hexdigest()[:40]


# --- the front's side: TargetModel -> a model loaded on first use, as SageMaker does ---------------------------------

# How long the first call of a model waits for it to load before SageMaker answers ModelNotReadyException (HTTP 429);
# the load goes on, and a later call finds the model ready.
MODEL_READY_TIMEOUT = 60.0


@dataclass(frozen=True)
class ModelStore:
    """Where a multi-model endpoint's archives are: `fetch(target)` gives an archive's bytes, or None when there is
    none; `where(target)` names the place (bucket and key) for the error message."""

    fetch: Callable[[str], bytes | None]
    where: Callable[[str], tuple[str, str]]

    @classmethod
    def directory(cls, root: Path) -> "ModelStore":
        """Archives in a local directory, named by their file names (`serve --multi-model DIR`)."""
        root = Path(root).resolve()

        def path(target: str) -> Path | None:
            candidate = (root / target).resolve()
            return candidate if root in candidate.parents and candidate.is_file() else None

        return cls(fetch=lambda t: path(t).read_bytes() if path(t) else None, where=lambda t: (str(root), t))

    @classmethod
    def s3(cls, client, prefix_url: str) -> "ModelStore":
        """Archives under an S3 prefix (the stack's ModelDataUrl), read with a boto3 S3 client (moto's, here)."""
        bucket, prefix = prefix_url.removeprefix("s3://").partition("/")[::2]

        def fetch(target: str) -> bytes | None:
            try:
                return client.get_object(Bucket=bucket, Key=prefix + target)["Body"].read()
            except client.exceptions.NoSuchKey:
                return None

        return cls(fetch=fetch, where=lambda t: (bucket, prefix + t))


@dataclass
class _Loading:
    done: threading.Event = field(default_factory=threading.Event)
    failure: tuple[int, bytes] | None = None  # MMS's status and body when the load failed


class MultiModelRouter:
    """TargetModel -> MMS model: fetched, unpacked to <models>/<name>/model and registered on first use; then invoked.

    `invoke` returns (status, body, content type, aws_error): aws_error is the runtime API's own error type
    (ValidationError, ModelNotReadyException) when the front answers itself, None when the container answered."""

    def __init__(self, server: MultiModelServer, store: ModelStore, models_dir: Path, ready_timeout: float = MODEL_READY_TIMEOUT):
        self.server = server
        self.store = store
        self.models_dir = Path(models_dir)
        self.ready_timeout = ready_timeout
        self._lock = threading.Lock()
        self._loads: dict[str, _Loading] = {}

    def forget(self) -> None:
        """The server was restarted with no model registered: every model loads again on its next call."""
        with self._lock:
            self._loads.clear()

    def invoke(self, target: str, body: bytes, headers: dict) -> tuple[int, bytes, str, str | None]:
        name = model_name_for(target)
        with self._lock:
            loading = self._loads.get(name)
            if loading is None:
                data = self.store.fetch(target)
                if data is None:
                    bucket, key = self.store.where(target)
                    message = (
                        f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that there is an object "
                        "located at the URL and that the role passed to CreateModel has permissions to download the model."
                    )
                    return 400, message.encode(), "text/plain", "ValidationError"
                loading = self._loads[name] = _Loading()
                threading.Thread(target=self._load, args=(name, data, loading), daemon=True).start()
        if not loading.done.wait(self.ready_timeout):
            message = f"Model {target} is still loading: retry the request (SageMaker keeps loading it for up to 360 seconds)."
            return 429, message.encode(), "text/plain", "ModelNotReadyException"
        if loading.failure is not None:
            with self._lock:
                if self._loads.get(name) is loading:
                    del self._loads[name]  # the next call tries again, as SageMaker does
            status, message = loading.failure
            return status, message, "application/json", None
        status, data, response_headers = self.server.invoke(name, body, headers)
        return status, data, response_headers.get("Content-Type", "application/json"), None

    def _load(self, name: str, data: bytes, loading: _Loading) -> None:
        directory = self.models_dir / name / "model"
        try:
            if directory.exists():
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
            archive = directory.parent / "model.tar.gz"
            archive.write_bytes(data)
            unpack_artifact(archive, directory, require_code=False)
            status, document = self.server.load(name, directory)
            if status not in (200, 409):  # 409: already loaded
                loading.failure = (status, json.dumps(document).encode())
        except (BundleError, OSError, urllib3.exceptions.HTTPError) as e:
            loading.failure = (500, json.dumps({"code": 500, "type": type(e).__name__, "message": str(e)}).encode())
        finally:
            loading.done.set()
