"""bundle/ops/client.py: typed predictions from the image's real worker, and which errors are retried.

ModelNotReadyException is what SageMaker's own front answers while a multi-model endpoint loads a model; no
installable software produces it, so `Scripted` (below) answers in the runtime API's wire format (status,
x-amzn-ErrorType, JSON body) and botocore parses it as it parses AWS. Everything else runs against the local
endpoint (the image's worker).
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

from bundle.ops.client import MAX_ATTEMPTS, READ_TIMEOUT, EndpointClient, Prediction, runtime_client


@pytest.fixture(autouse=True)
def local_credentials(monkeypatch):
    """The local endpoint and the scripted server need signed requests, not real keys."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")


def test_predict_returns_typed_predictions_and_the_variant(endpoint):
    runtime = runtime_client("us-east-1", endpoint_url=endpoint.url)
    client = EndpointClient("iris-test", runtime=runtime)
    prediction = client.predict([[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]])
    assert isinstance(prediction, Prediction)
    assert prediction.predictions == [0, 2] and prediction.variant == "primary"
    assert prediction.labels == ["setosa", "virginica"]
    assert all(abs(sum(row) - 1) < 1e-6 for row in prediction.probabilities)


def test_timeouts_and_retry_mode():
    config = runtime_client("us-east-1").meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": MAX_ATTEMPTS}
    assert config.read_timeout == READ_TIMEOUT > 60 and config.connect_timeout <= 10


def test_a_model_error_is_never_retried(endpoint):
    runtime = runtime_client("us-east-1", endpoint_url=endpoint.url)
    sent = []
    runtime.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", lambda **kw: sent.append(1))
    with pytest.raises(ClientError) as raised:
        EndpointClient("iris-test", runtime=runtime, sleep=lambda s: pytest.fail("slept")).invoke(b'{"instances": [[1, 2, 3]]}')
    assert raised.value.response["Error"]["Code"] == "ModelError" and raised.value.response["OriginalStatusCode"] == 400
    assert len(sent) == 1


class Scripted(ThreadingHTTPServer):
    """Answers InvokeEndpoint with a script of (status, error code) in the runtime API's wire format, then 200."""

    def __init__(self, script):
        self.script, self.calls = list(script), 0
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server = self.server
        server.calls += 1
        if server.script:
            status, code = server.script.pop(0)
            body, headers = json.dumps({"message": f"scripted {code}"}).encode(), {"x-amzn-ErrorType": code}
        else:
            status, body, headers = 200, b'{"predictions": [1]}', {"x-Amzn-Invoked-Production-Variant": "primary"}
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def scripted():
    servers = []

    def make(script):
        servers.append(Scripted(script))
        return servers[-1]

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


def test_model_not_ready_is_retried_with_botocores_backoff(scripted):
    server = scripted([(429, "ModelNotReadyException")] * 2)
    slept = []
    client = EndpointClient("mme", runtime=runtime_client("us-east-1", endpoint_url=server.url), sleep=slept.append, rand=lambda: 1.0)
    answer = client.invoke(b"{}", target_model="iris-a.tar.gz")
    assert (answer.attempts, server.calls, answer.variant) == (3, 3, "primary")
    assert slept == [1.0, 2.0], "botocore's ExponentialBackoff, throttling base scale, rand=1"


def test_model_not_ready_gives_up_after_the_cap(scripted):
    server = scripted([(429, "ModelNotReadyException")] * 10)
    client = EndpointClient("mme", runtime=runtime_client("us-east-1", endpoint_url=server.url), not_ready_attempts=4, sleep=lambda s: None, max_backoff=3)
    with pytest.raises(ClientError) as raised:
        client.invoke(b"{}")
    assert raised.value.response["Error"]["Code"] == "ModelNotReadyException" and server.calls == 4


def test_standard_mode_retries_sagemakers_5xx_and_nothing_retries_a_validation_error(scripted):
    server = scripted([(503, "ServiceUnavailable"), (500, "InternalFailure")])
    assert EndpointClient("e", runtime=runtime_client("us-east-1", endpoint_url=server.url)).invoke(b"{}").attempts == 1
    assert server.calls == 3, "botocore retried the 503 and the 500 itself"
    server = scripted([(400, "ValidationError"), (424, "ModelError")])
    client = EndpointClient("e", runtime=runtime_client("us-east-1", endpoint_url=server.url), sleep=lambda s: pytest.fail("slept"))
    for code in ("ValidationError", "ModelError"):
        with pytest.raises(ClientError, match=code):
            client.invoke(b"{}")
    assert server.calls == 2
