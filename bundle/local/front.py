"""The runtime-API front of the local endpoint: a small stdlib HTTP server standing in for AWS's managed front.

It answers the SageMaker runtime API's paths (POST /endpoints/{name}/invocations, /async-invocations), the REST
front's contract when asked (bundle/local/rest.py), and passes the container protocol through (GET /ping,
POST /invocations). A model 4xx/5xx becomes HTTP 424 `ModelError` as InvokeEndpoint reports it.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3

from bundle.api.contract import INFERENCE_ID_HEADER, REST_PATH
from bundle.local import rest, runtime_api
from bundle.local.reply import Reply
from bundle.local.reply import aws_error as _aws_error
from bundle.local.reply import json_reply as _json
from bundle.local.variants import INVOKED_VARIANT_HEADER, Recorder, Route, Router, timed, unknown_variant_message

RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
ASYNC_PATH = re.compile(r"^/endpoints/([^/]+)/async-invocations$")  # InvokeEndpointAsync (bundle/local/async_front.py)
TARGET_MODEL_HEADER = "X-Amzn-SageMaker-Target-Model"
# Beyond this the front stops reading; the runtime API's own limits (bundle/local/runtime_api.py) are far lower.
HARD_BODY_LIMIT = 64 * 1024 * 1024
# An idle or slow client connection is closed after this many seconds without a byte.
CLIENT_IDLE_TIMEOUT = 30.0
MAX_CONNECTIONS = 256
# What AWS answers when the container does not answer in time (InvokeEndpoint's ModelError message).
TIMEOUT_MESSAGE = (
    "Your invocation timed out while waiting for a response from container {variant}. Review the latency metrics "
    "for each container in Amazon CloudWatch, resolve the issue, and try again."
)



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
            self._send(self.server.async_reply(queued.group(1), dict(self.headers.items()), body))
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
                match.group(1), body, headers, self.headers.get("X-Amzn-SageMaker-Target-Variant"), self.headers.get(TARGET_MODEL_HEADER),
                self.headers.get(INFERENCE_ID_HEADER),
            )
        )  # fmt: skip

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
        self, address, worker_url: str, endpoint_name: str, variant_name: str, timeout: int, access_log: bool,
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

    def _shadow_call(self, body: bytes, headers: dict, inference_id: str | None = None) -> None:
        shadow = self.router.shadow
        reply, seconds = timed(lambda: self.forward("POST", "/invocations", body, headers, shadow))
        if self.recorder is not None:  # the production call's InferenceId: the two variants' answers can be paired
            self.recorder.record(shadow.name, body, headers.get("Content-Type", ""), reply.status, reply.body, reply.content_type, seconds, inference_id)

    def _copy_to_shadow(self, body: bytes, headers: dict, inference_id: str | None = None) -> None:
        def run():
            try:
                self._shadow_call(body, headers, inference_id)
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

    def unknown_endpoint(self, name: str) -> Reply | None:
        """AWS's answer to a name no endpoint has (a typo fails here as it fails there), else None."""
        if name == self.endpoint_name:
            return None
        return _aws_error(400, "ValidationError", f"Endpoint {name} of account 123456789012 not found.")

    def async_reply(self, name: str, headers: dict, body: bytes = b"") -> Reply:
        refused = self.unknown_endpoint(name) or runtime_api.body_too_large(runtime_api.INVOKE_ASYNC, len(body))
        if refused is not None:
            return refused
        if self.async_invocations is None:
            return _aws_error(400, "ValidationError", f"Endpoint {name} is not an asynchronous endpoint: use InvokeEndpoint")
        return self.async_invocations.submit(headers, body)

    def rest_reply(self, headers, body: bytes) -> Reply:
        def runtime(passed: dict) -> Reply:
            forwarded = {k: v for k, v in passed.items() if k.lower() in ("content-type", "accept")}
            return self.runtime_reply(
                self.endpoint_name, body, forwarded, passed.get("X-Amzn-SageMaker-Target-Variant"), passed.get(TARGET_MODEL_HEADER),
                passed.get(INFERENCE_ID_HEADER),
            )  # fmt: skip

        status, answer, content_type, extra = rest.answer(self.rest, headers, runtime)
        return Reply(status, answer, content_type, extra)

    def runtime_reply(
        self, name: str, body: bytes, headers: dict, target_variant: str | None = None, target: str | None = None, inference_id: str | None = None
    ) -> Reply:
        # What AWS's runtime refuses before any container: another endpoint's name, a body over the API's limit, an
        # InferenceId over its limit.
        refused = self.unknown_endpoint(name) or runtime_api.body_too_large(runtime_api.INVOKE, len(body)) or runtime_api.bad_inference_id(inference_id)
        if refused is not None:
            return refused
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
                    self._copy_to_shadow(body, headers, inference_id)
                reply, seconds = timed(lambda: self.forward("POST", "/invocations", body, headers, route))
            else:
                if not target:
                    return _aws_error(400, "ValidationError", f"Request {uuid.uuid4()} is missing a target model header.")
                limit = runtime_api.member_max(runtime_api.INVOKE, "TargetModel")
                if len(target) > limit:
                    return _aws_error(400, "ValidationError", f"TargetModel has {len(target)} characters; at most {limit} are allowed.")
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
            self.recorder.record(route.name, body, headers.get("Content-Type", ""), reply.status, reply.body, reply.content_type, seconds, inference_id)
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
