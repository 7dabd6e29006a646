"""The local endpoint: the artifact served by the serving image's own worker, behind a runtime-API front.

Two processes, as on SageMaker (where AWS's front talks to the container):

  the image's worker   `.venv-image` (the image's pinned libraries, Python 3.10): gunicorn with gevent
                       workers serving sagemaker-containers' Worker/Transformer over the shipped
                       `code/inference.py` (see bundle/container/single_model.py). It speaks the
                       container protocol: GET /ping, POST /invocations.
  the front            this process: the REST front's contract when asked (bundle/local/rest.py), and the SageMaker runtime API's path, POST /endpoints/{name}/invocations
                       (what boto3 `sagemaker-runtime` sends), forwarded to the worker. A model 4xx/5xx
                       becomes HTTP 424 `ModelError` with OriginalStatusCode and OriginalMessage, as
                       InvokeEndpoint reports it; a good answer carries x-Amzn-Invoked-Production-Variant.
                       The container protocol is passed through unchanged (GET /ping, POST /invocations).

A multi-model endpoint (`multi_model=`) runs the image's other server instead of the worker: Java multi-model-server
(bundle/local/multi_model.py). The front then honours TargetModel (header X-Amzn-SageMaker-Target-Model) as
SageMaker does: the model's archive is fetched from the endpoint's prefix on its first call, unpacked and registered
(POST /models), and every call goes to POST /models/{name}/invoke; a call without TargetModel, or naming an archive
that is not there, is a ValidationError, and a model still loading after 60 s a ModelNotReadyException (429).
A TargetModel sent to a single-model endpoint is refused as AWS refuses it.

The front is a small stdlib HTTP server on purpose: it stands in for AWS's managed front, which no
package provides, and it holds no model code; what the image does is proven by the worker behind it.
The image also runs nginx between its port and gunicorn; it only routes /ping and /invocations and sets a
read timeout, which the front does here (the README's "What is proven here" lists this difference).

The in-process helpers at the end (`load_artifact`, `invoke`) call the shipped hooks directly, without
the worker: for unit tests of the handler code and for profiling, never as proof of what the image does.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import urllib3

from bundle.paths import CONTAINER_CODE, IMAGE_PYTHON
from bundle.artifact.tarball import unpack_artifact
from bundle.errors import BundleError
from bundle.local.reply import Reply
from bundle.local.reply import aws_error as _aws_error
from bundle.local.reply import json_reply as _json
from bundle.names import MODEL_ENVIRONMENT
from bundle.local.variants import INVOKED_VARIANT_HEADER, Recorder, Route, Router, timed, unknown_variant_message
from bundle.api.contract import REST_PATH
from bundle.local import rest

RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
ASYNC_PATH = re.compile(r"^/endpoints/([^/]+)/async-invocations$")  # InvokeEndpointAsync (bundle/local/async_front.py)
TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
TARGET_MODEL_MAX = 1024  # InvokeEndpoint's TargetModel: 1 to 1024 characters
# Beyond this the front stops reading (the handlers themselves answer 413 above 6 MB).
HARD_BODY_LIMIT = 64 * 1024 * 1024
# The image's default (SAGEMAKER_MODEL_SERVER_TIMEOUT): gunicorn's worker timeout and nginx's read timeout.
MODEL_SERVER_TIMEOUT = 60
# An idle or slow client connection is closed after this many seconds without a byte.
CLIENT_IDLE_TIMEOUT = 30.0
MAX_CONNECTIONS = 256
WORKER_START_TIMEOUT = 90.0
# What AWS answers when the container does not answer in time (InvokeEndpoint's ModelError message).
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container {variant}. Review the latency metrics "
    "for each container in Amazon CloudWatch, resolve the issue, and try again."
)


def container_environment(base_dir: Path, workers: int, timeout: int) -> dict[str, str]:
    """The stack's Model environment, with the image's directories moved under `base_dir`."""
    model_dir = base_dir / "model"
    environment = {key: value.replace("/opt/ml/model", str(model_dir)) for key, value in MODEL_ENVIRONMENT.items()}
    environment.update(
        SAGEMAKER_BASE_DIR=str(base_dir),  # sagemaker-containers' /opt/ml
        SAGEMAKER_MODEL_SERVER_WORKERS=str(workers),
        SAGEMAKER_MODEL_SERVER_TIMEOUT=str(timeout),
        SAGEMAKER_USE_NGINX="false",
    )
    return environment


class ImageWorker:
    """gunicorn + gevent + sagemaker-containers' Worker in `.venv-image`, on an ephemeral loopback port."""

    def __init__(self, model_dir: Path, workers: int = 1, timeout: int = MODEL_SERVER_TIMEOUT, log=None):
        if not IMAGE_PYTHON.exists():
            raise BundleError(f"{IMAGE_PYTHON.parent.parent.name} is missing: run `make setup` (the serving image's libraries)")
        self.model_dir = model_dir
        self.workers = workers
        self.timeout = timeout
        self._log = log  # a callable for each log line, or None to keep only the tail
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
            "-b", "127.0.0.1:0",
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
        env.update(container_environment(base_dir, self.workers, self.timeout))
        self._process = subprocess.Popen(
            self.command(), cwd=base_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
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

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 and load tests reuse connections
    disable_nagle_algorithm = True
    timeout = CLIENT_IDLE_TIMEOUT  # idle and slow connections are closed
    server: "_FrontServer"

    def log_message(self, format, *args):  # quiet unless asked: a log line per request costs latency
        if self.server.access_log:
            super().log_message(format, *args)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/ping":
            self._send(self.server.forward("GET", "/ping", b"", {}))
        elif path == "/invocations" or RUNTIME_PATH.match(path):
            self._send(_aws_error(405, "MethodNotAllowed", f"method GET is not allowed on {self.path}; use POST"))
        else:
            self._send(_aws_error(404, "UnknownOperationException", f"no route GET {self.path}"))

    def do_POST(self):
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "contenttype")}
        if path == "/invocations":  # the container protocol, passed through
            self._send(self.server.forward("POST", "/invocations", body, headers))
            return
        queued = ASYNC_PATH.match(path)
        if queued:
            self._send(self.server.async_reply(queued.group(1), dict(self.headers.items())))
            return
        if path == REST_PATH and self.server.rest is not None:  # the REST front's contract (bundle/local/rest.py)
            self._send(self.server.rest_reply(self.headers, body))
            return
        match = RUNTIME_PATH.match(path)
        if not match:
            self._send(_aws_error(404, "UnknownOperationException", f"no route POST {self.path}"))
            return
        self._send(
            self.server.runtime_reply(
                match.group(1), body, headers, self.headers.get("X-Amzn-SageMaker-Target-Variant"), self.headers.get(TARGET_MODEL_HEADER)
            )
        )

    def _method_not_allowed(self):
        self._read_body()
        self._send(_aws_error(405, "MethodNotAllowed", f"method {self.command} is not allowed on {self.path}"))

    do_PUT = do_DELETE = do_PATCH = _method_not_allowed

    def do_HEAD(self):
        self.close_connection = True
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering 4xx for a length the front cannot trust."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(_aws_error(411, "LengthRequired", "chunked request bodies are not accepted; send Content-Length"))
            return None
        declared = self.headers.get("Content-Length", "0").strip() or "0"
        if not declared.isdigit():  # negative, non-numeric, or several values
            self.close_connection = True
            self._send(_aws_error(400, "ValidationError", f"Content-Length {declared!r} is not a non-negative integer"))
            return None
        length = int(declared)
        if length > HARD_BODY_LIMIT:
            self.close_connection = True
            self._send(_aws_error(413, "PayloadTooLarge", f"body is {length} bytes; this front reads at most {HARD_BODY_LIMIT}"))
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        head += [f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        head += [f"{k}: {v}" for k, v in reply.headers]
        if self.close_connection:
            head.append("Connection: close")
        # One write for head and body: two small writes meet Nagle and delayed ACKs.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        self.log_request(reply.status, len(reply.body))


class _FrontServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address, worker_url: str, endpoint_name: str | None, variant_name: str, timeout: int, access_log: bool,
        router: Router | None = None, recorder: Recorder | None = None,
        rest_settings: "rest.RestSettings | None" = None, max_concurrency: int | None = None, models=None,
        max_connections: int = MAX_CONNECTIONS,
    ):  # fmt: skip
        super().__init__(address, _FrontHandler)
        self.timeout_seconds = timeout
        self.rest = rest_settings
        self.models = models  # a multi-model endpoint's MultiModelRouter (TargetModel), or None
        # Like a serverless endpoint's MaxConcurrency: invocations beyond it are throttled (429), not queued.
        self.invocation_slots = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self.pool = self._pool(worker_url)
        # A/B and shadow (bundle/local/variants.py): one worker per distinct artifact, a pool per worker.
        self.router = router or Router([Route(variant_name, 1.0, worker_url)])
        routes = [*self.router.production.values(), *([self.router.shadow] if self.router.shadow else [])]
        self.pools = {worker_url: self.pool, **{r.worker_url: self._pool(r.worker_url) for r in routes if r.worker_url != worker_url}}
        self.recorder = recorder
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.access_log = access_log
        self._slots = threading.BoundedSemaphore(max_connections)
        self._shadow_copies: set[threading.Thread] = set()  # copies to the shadow not yet answered
        self._shadow_lock = threading.Lock()
        self.async_invocations = None  # an AsyncInvocations when the endpoint is asynchronous

    def _pool(self, url: str) -> urllib3.HTTPConnectionPool:
        host, port = url.rsplit("/", 1)[-1].rsplit(":", 1)
        return urllib3.HTTPConnectionPool(
            host, int(port), maxsize=MAX_CONNECTIONS, block=False, retries=False,
            timeout=urllib3.Timeout(connect=5.0, read=self.timeout_seconds + 5),
        )  # fmt: skip

    def _shadow_call(self, body: bytes, headers: dict) -> None:
        shadow = self.router.shadow
        reply, seconds = timed(lambda: self.forward("POST", "/invocations", body, headers, shadow))
        if self.recorder is not None:
            self.recorder.record(shadow.name, body, headers.get("Content-Type", ""), reply.status, reply.body, reply.content_type, seconds)

    def _copy_to_shadow(self, body: bytes, headers: dict) -> None:
        def run():
            try:
                self._shadow_call(body, headers)
            finally:
                with self._shadow_lock:
                    self._shadow_copies.discard(thread)

        thread = threading.Thread(target=run, daemon=True)
        with self._shadow_lock:
            self._shadow_copies.add(thread)
        thread.start()

    def settle(self, timeout: float) -> bool:
        """Wait until every copy sent to the shadow so far has been answered (and recorded); False if `timeout` passed."""
        deadline = time.monotonic() + timeout
        with self._shadow_lock:
            pending = list(self._shadow_copies)
        for thread in pending:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in pending)

    def process_request(self, request, client_address):
        """Cap concurrent connections: one over the cap is answered 503 and closed, not queued forever."""
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            finally:
                self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def forward(self, method: str, path: str, body: bytes, headers: dict, route: Route | None = None) -> Reply:
        pool = self.pools[route.worker_url] if route else self.pool
        try:
            response = pool.urlopen(method, path, body=body or None, headers=headers, preload_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            return _json(504, {"error": "Timeout", "message": TIMEOUT_MESSAGE.format(variant=route.name if route else self.variant_name)})
        except urllib3.exceptions.HTTPError as e:
            return _json(502, {"error": "WorkerUnavailable", "message": f"the model server did not answer: {e}"})
        return Reply(response.status, response.data, response.headers.get("Content-Type", "application/json"))

    def async_reply(self, name: str, headers: dict) -> Reply:
        if self.endpoint_name and name != self.endpoint_name:
            return _aws_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        if self.async_invocations is None:
            return _aws_error(400, "ValidationError", f"Endpoint {name} is not an asynchronous endpoint: use InvokeEndpoint")
        return self.async_invocations.submit(headers)

    def rest_reply(self, headers, body: bytes) -> Reply:
        def runtime(passed: dict) -> Reply:
            forwarded = {k: v for k, v in passed.items() if k.lower() in ("content-type", "accept")}
            return self.runtime_reply(
                self.endpoint_name or "local", body, forwarded, passed.get("X-Amzn-SageMaker-Target-Variant"), passed.get(TARGET_MODEL_HEADER)
            )

        status, answer, content_type, extra = rest.answer(self.rest, headers, runtime)
        return Reply(status, answer, content_type, extra)

    def runtime_reply(self, name: str, body: bytes, headers: dict, target_variant: str | None = None, target: str | None = None) -> Reply:
        if self.endpoint_name and name != self.endpoint_name:
            return _aws_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")
        if self.async_invocations is not None:
            return _aws_error(400, "ValidationError", f"Endpoint {name} is an asynchronous endpoint: use InvokeEndpointAsync")
        try:
            route = self.router.choose(target_variant)
        except KeyError:
            return _aws_error(400, "ValidationError", unknown_variant_message(target_variant, name))
        if self.invocation_slots is not None and not self.invocation_slots.acquire(blocking=False):
            return _aws_error(429, "ThrottlingException", "Rate exceeded: the endpoint's concurrency limit is reached.")
        try:
            if self.models is None:
                if target is not None:
                    return _aws_error(400, "ValidationError", f"Endpoint {name} is not a multi-model endpoint and does not support target model header.")
                if self.router.copies_to_shadow():  # a copy to the shadow; its answer reaches no caller
                    self._copy_to_shadow(body, headers)
                reply, seconds = timed(lambda: self.forward("POST", "/invocations", body, headers, route))
            else:
                if not target:
                    return _aws_error(400, "ValidationError", f"Request {uuid.uuid4()} is missing a target model header.")
                if len(target) > TARGET_MODEL_MAX:
                    return _aws_error(400, "ValidationError", f"TargetModel has {len(target)} characters; at most {TARGET_MODEL_MAX} are allowed.")
                started = time.perf_counter()
                try:
                    status, data, content_type, aws_error = self.models.invoke(target, body, headers)
                except urllib3.exceptions.ReadTimeoutError:
                    status, data, content_type, aws_error = 504, b"", "application/json", None
                except urllib3.exceptions.HTTPError as e:
                    status, data, content_type, aws_error = 502, json.dumps({"error": "ServerUnavailable", "message": str(e)}).encode(), "application/json", None
                seconds = time.perf_counter() - started
                if aws_error:
                    return _aws_error(status, aws_error, data.decode("utf-8", "replace"))
                reply = Reply(status, data, content_type)
        finally:
            if self.invocation_slots is not None:
                self.invocation_slots.release()
        if self.recorder is not None:
            self.recorder.record(route.name, body, headers.get("Content-Type", ""), reply.status, reply.body, reply.content_type, seconds)
        if reply.status == 502 and b"WorkerUnavailable" in reply.body:  # no container answered at all: SageMaker's own 5xx
            return _aws_error(503, "ServiceUnavailable", "the model container is not reachable")
        if reply.status < 400:
            return Reply(reply.status, reply.body, reply.content_type, ((INVOKED_VARIANT_HEADER, route.name),))
        if reply.status == 504:  # the worker did not answer in time: AWS reports it as a server error (0)
            status, message = 0, TIMEOUT_MESSAGE.format(variant=route.name)
        else:
            status, message = reply.status, reply.body.decode("utf-8", "replace")
        kind = "client" if 400 <= status < 500 else "server"
        return _json(
            424,
            {
                "__type": "ModelError",
                "message": f"Received {kind} error ({status}) from {route.name} with message \"{message}\".",
                "OriginalStatusCode": status,
                "OriginalMessage": message,
                "LogStreamArn": f"local:{name}",
            },
            (("x-amzn-ErrorType", "ModelError"),),
        )


@dataclass(frozen=True)
class LocalVariant:
    """Another variant of the local endpoint (A/B, or the shadow): its name, artifact and weight."""

    name: str
    artifact: Path
    weight: float = 1.0
def _async_invocations(server: _FrontServer, config, region: str | None, s3_endpoint_url: str | None):
    from bundle.local.async_front import AsyncInvocations
    from bundle.ops import aws

    where = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return AsyncInvocations(config, server.forward, lambda: aws.client("s3", where, endpoint_url=s3_endpoint_url, max_attempts=2))


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class MultiModelSource:
    """What a local multi-model endpoint serves: the archives (a ModelStore: a directory, or the stack's S3 prefix) and
    the handlers' sourcedir tarball (SAGEMAKER_SUBMIT_DIRECTORY's content)."""

    store: object  # bundle.local.multi_model.ModelStore
    sourcedir: bytes
    ready_timeout: float = 60.0  # how long a first call waits for its model before ModelNotReadyException


class LocalEndpoint:
    """The image's worker (or, for a multi-model endpoint, its multi-model server) and the front; `start()` in a
    background thread, or `serve_forever()` in this one."""

    def __init__(
        self,
        artifact: Path | None,
        host: str = "127.0.0.1",
        port: int = 8080,
        endpoint_name: str | None = None,
        variant_name: str = "primary",
        access_log: bool = False,
        workers: int = 1,
        timeout: int = MODEL_SERVER_TIMEOUT,
        variant_weight: float = 1.0,
        variants: tuple[LocalVariant, ...] = (),  # more production variants (A/B)
        shadow: LocalVariant | None = None,
        recorder: Recorder | None = None,  # capture files and metrics into the emulator
        seed: int | None = None,  # the routing draws (tests)
        async_config=None,  # bundle.local.async_front.AsyncConfig: answer InvokeEndpointAsync instead of InvokeEndpoint
        region: str | None = None,  # where the async front's S3 is (default AWS_REGION, else us-east-1)
        s3_endpoint_url: str | None = None,  # the async front's S3 (default: boto3's, AWS_ENDPOINT_URL honoured)
        rest_settings: rest.RestSettings | None = None,  # also serve the REST front's contract (POST /v1/invocations)
        max_concurrency: int | None = None,  # throttle (429) invocations beyond this many at once
        multi_model: "MultiModelSource | None" = None,
    ):
        if not 0 <= port <= 65535:
            raise BundleError(f"port {port} is not a TCP port (0 to 65535)")
        if not is_loopback(host):
            warnings.warn(f"the local endpoint listens on {host}, not a loopback address: anyone who reaches it can call the model", stacklevel=2)
        self._scratch = tempfile.TemporaryDirectory(prefix="bundle-endpoint-")
        log = (lambda line: print(line, file=sys.stderr)) if access_log else None
        models = None
        try:
            if multi_model is not None:
                from bundle.local.multi_model import MultiModelRouter, MultiModelServer

                base = Path(self._scratch.name)
                code_dir = base / "code"
                (base / "sourcedir.tar.gz").write_bytes(multi_model.sourcedir)
                unpack_artifact(base / "sourcedir.tar.gz", code_dir, require_code=False)
                self.worker = MultiModelServer(base, code_dir, log=log, timeout=timeout).start()
                models = MultiModelRouter(self.worker, multi_model.store, base / "models", multi_model.ready_timeout)
            else:
                model_dir = Path(self._scratch.name) / "model"
                unpack_artifact(Path(artifact), model_dir)
                self.worker = ImageWorker(model_dir, workers=workers, timeout=timeout, log=log)
                self.worker.start()
        except BaseException:
            self._scratch.cleanup()
            raise
        # One image worker per other distinct artifact (A/B, shadow); the same artifact shares the primary's.
        self.variant_workers: dict[Path, ImageWorker] = {Path(artifact).resolve(): self.worker} if artifact is not None else {}
        try:
            for other in (*variants, *([shadow] if shadow else [])):
                key = Path(other.artifact).resolve()
                if key not in self.variant_workers:
                    directory = Path(self._scratch.name) / f"variant-{len(self.variant_workers)}" / "model"
                    unpack_artifact(key, directory)
                    self.variant_workers[key] = ImageWorker(directory, workers=workers, timeout=timeout).start()
        except BaseException:
            self._stop_workers()
            self._scratch.cleanup()
            raise
        url_of = lambda v: self.variant_workers[Path(v.artifact).resolve()].url  # noqa: E731
        router = Router(
            [Route(variant_name, variant_weight, self.worker.url), *(Route(v.name, v.weight, url_of(v)) for v in variants)],
            Route(shadow.name, shadow.weight, url_of(shadow)) if shadow else None,
            seed=seed,
        )
        try:
            self._server = _FrontServer(
                (host, port), self.worker.url, endpoint_name, variant_name, timeout, access_log,
                router=router, recorder=recorder, rest_settings=rest_settings, max_concurrency=max_concurrency, models=models,
            )  # fmt: skip
        except OSError as e:
            self._stop_workers()
            self._scratch.cleanup()
            raise BundleError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        if async_config is not None:
            self._server.async_invocations = _async_invocations(self._server, async_config, region, s3_endpoint_url)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The front: the runtime API's path and the container protocol."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def worker_url(self) -> str:
        """The image's worker itself (the container protocol only): what measurements of the data plane use."""
        return self.worker.url

    def serve_rest(self, settings: rest.RestSettings | None) -> None:
        """Serve (or stop serving, None) the REST front's contract, with these auth settings."""
        self._server.rest = settings

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def start(self) -> "LocalEndpoint":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait for the copies sent to the shadow so far to be answered and recorded; False if `timeout` passed first."""
        return self._server.settle(timeout)

    def shutdown(self) -> None:
        """Stop serving; safe from a signal handler's helper thread or another thread."""
        self._server.shutdown()

    def stop(self) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._close()

    def _close(self) -> None:
        if self._server.async_invocations is not None:
            self._server.async_invocations.close()
        self._server.server_close()
        for pool in self._server.pools.values():
            pool.close()
        self._stop_workers()
        self._scratch.cleanup()

    def _stop_workers(self) -> None:
        """Every server process this endpoint started: the primary's worker (or the multi-model server) and the variants'."""
        for worker in {id(w): w for w in (self.worker, *self.variant_workers.values())}.values():
            worker.stop()

    @property
    def recorder(self) -> Recorder | None:
        return self._server.recorder

    def __enter__(self) -> "LocalEndpoint":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- in-process calls of the shipped hooks: unit tests and profiling only, not proof of the image ---------------


@dataclass(frozen=True)
class LoadedModel:
    handlers: ModuleType
    model: object
    directory: Path


def load_artifact(artifact: Path, into: Path) -> LoadedModel:
    """Unpack the artifact and import its code/inference.py in this process; call model_fn once."""
    unpack_artifact(artifact, into)
    source = into / "code" / "inference.py"
    name = f"bundle_served_inference_{abs(hash(str(into)))}"  # one module per unpacked artifact
    spec = importlib.util.spec_from_file_location(name, source)
    handlers = importlib.util.module_from_spec(spec)
    sys.modules[name] = handlers  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(handlers)
    return LoadedModel(handlers=handlers, model=handlers.model_fn(str(into)), directory=into)


def invoke(loaded: LoadedModel, body: bytes, content_type: str | None, accept: str | None) -> Reply:
    """One call through the shipped transform_fn in this process (no worker, no Flask)."""
    result = loaded.handlers.transform_fn(loaded.model, body, content_type, accept)
    if isinstance(result, tuple):  # (body, mimetype), which the worker also accepts
        data, mimetype = result
        return Reply(200, data.encode() if isinstance(data, str) else data, mimetype)
    return Reply(result.status_code, result.get_data(), result.mimetype)
