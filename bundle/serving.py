"""A local SageMaker-compatible endpoint that serves the real artifact through its own handlers.

It unpacks model.tar.gz, imports the shipped `code/inference.py` (not the repository's copy), calls
its `model_fn` once, and answers two protocols:

  the container's:        GET /ping, POST /invocations           (what SageMaker sends the image)
  the runtime API's:      POST /endpoints/{name}/invocations      (what boto3 `sagemaker-runtime` sends)

On the runtime API a model 4xx/5xx becomes HTTP 424 `ModelError` with OriginalStatusCode and
OriginalMessage, as InvokeEndpoint reports it, so boto3 raises the same exception as against AWS.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
import tarfile
import tempfile
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

from bundle.errors import BundleError

RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
# Beyond this the server stops reading (the handlers themselves answer 413 above 6 MB).
HARD_BODY_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True)
class LoadedModel:
    handlers: ModuleType
    model: object
    directory: Path


def load_artifact(artifact: Path, into: Path) -> LoadedModel:
    """Unpack the artifact and load it the way the container does: code/ on the path, model_fn once."""
    try:
        with tarfile.open(artifact, "r:gz") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(into, filter="data")
            else:  # Python < 3.10.12 has no extraction filters
                tar.extractall(into)
    except (OSError, tarfile.TarError) as e:
        raise BundleError(f"cannot unpack artifact {artifact}: {e}") from None
    source = into / "code" / "inference.py"
    if not source.exists():
        raise BundleError(f"artifact {artifact} has no code/inference.py")
    name = f"bundle_served_inference_{abs(hash(str(into)))}"  # one module per unpacked artifact
    spec = importlib.util.spec_from_file_location(name, source)
    handlers = importlib.util.module_from_spec(spec)
    sys.modules[name] = handlers  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(handlers)
    return LoadedModel(handlers=handlers, model=handlers.model_fn(str(into)), directory=into)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


def invoke(loaded: LoadedModel, body: bytes, content_type: str | None, accept: str | None) -> Reply:
    """One call through the shipped transform_fn, read back the way the container's worker does."""
    result = loaded.handlers.transform_fn(loaded.model, body, content_type, accept)
    if isinstance(result, tuple):  # (body, mimetype), which the worker also accepts
        data, mimetype = result
        return Reply(200, data.encode() if isinstance(data, str) else data, mimetype)
    return Reply(result.status_code, result.get_data(), result.mimetype)


def _json(status: int, document: dict, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(document).encode(), "application/json", headers)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 and load tests reuse connections
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format, *args):  # quiet unless asked: a log line per request costs latency
        if self.server.access_log:
            super().log_message(format, *args)

    def do_GET(self):
        if self.path == "/ping":
            self._send(Reply(200, b"", "application/json"))
        else:
            self._send(_json(404, {"error": "NotFound", "message": f"no route GET {self.path}"}))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > HARD_BODY_LIMIT:
            self.close_connection = True
            self._send(_json(413, {"error": "PayloadTooLarge", "message": f"body is {length} bytes"}))
            return
        body = self.rfile.read(length) if length else b""
        content_type = self.headers.get("Content-Type")
        accept = self.headers.get("Accept")
        if accept == "*/*":
            accept = None  # the container maps */* to its default accept
        if self.path == "/invocations":
            self._send(self._model_reply(body, content_type, accept))
            return
        match = RUNTIME_PATH.match(self.path.split("?", 1)[0])
        if not match:
            self._send(_json(404, {"error": "NotFound", "message": f"no route POST {self.path}"}))
            return
        self._send(self._runtime_reply(match.group(1), body, content_type, accept))

    def _model_reply(self, body: bytes, content_type, accept) -> Reply:
        try:
            return invoke(self.server.loaded, body, content_type, accept)
        except Exception as e:  # a handler bug is a real 500, as in the container
            traceback.print_exc(file=sys.stderr)
            return _json(500, {"error": type(e).__name__, "message": str(e)})

    def _runtime_reply(self, name: str, body: bytes, content_type, accept) -> Reply:
        expected = self.server.endpoint_name
        if expected and name != expected:
            return _json(
                400,
                {"__type": "ValidationError", "message": f"Endpoint {name} not found (this local endpoint serves {expected})."},
                (("x-amzn-ErrorType", "ValidationError"),),
            )
        reply = self._model_reply(body, content_type, accept)
        if reply.status < 400:
            return Reply(reply.status, reply.body, reply.content_type, (("x-Amzn-Invoked-Production-Variant", self.server.variant_name),))
        message = reply.body.decode("utf-8", "replace")
        return _json(
            424,
            {
                "__type": "ModelError",
                "message": f"Received client error ({reply.status}) from primary with message \"{message}\".",
                "OriginalStatusCode": reply.status,
                "OriginalMessage": message,
                "LogStreamArn": f"local:{name}",
            },
            (("x-amzn-ErrorType", "ModelError"),),
        )

    def _send(self, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        head += [f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        head += [f"{k}: {v}" for k, v in reply.headers]
        if self.close_connection:
            head.append("Connection: close")
        # One write for head and body: two small writes meet Nagle and delayed ACKs.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        self.log_request(reply.status, len(reply.body))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, loaded: LoadedModel, endpoint_name: str | None, variant_name: str, access_log: bool):
        super().__init__(address, _Handler)
        self.loaded = loaded
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.access_log = access_log


class LocalEndpoint:
    """The local endpoint's lifecycle: `start()` in a background thread, or `serve_forever()` in this one."""

    def __init__(
        self,
        artifact: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        endpoint_name: str | None = None,
        variant_name: str = "primary",
        access_log: bool = False,
    ):
        self._scratch = tempfile.TemporaryDirectory(prefix="bundle-endpoint-")
        self.loaded = load_artifact(Path(artifact), Path(self._scratch.name))
        try:
            self._server = _Server((host, port), self.loaded, endpoint_name, variant_name, access_log)
        except OSError as e:
            self._scratch.cleanup()
            raise BundleError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def start(self) -> "LocalEndpoint":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving; safe from a signal handler's helper thread or another thread."""
        self._server.shutdown()

    def stop(self) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._close()

    def _close(self) -> None:
        self._server.server_close()
        self._scratch.cleanup()

    def __enter__(self) -> "LocalEndpoint":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
