"""The REST front's contract, observed: through the local endpoint's REST front and through the Lambda handler
(API Gateway proxy events), both in front of the image's real worker. One status table, both paths."""
from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlparse

import pytest

from bundle.api import contract, lambda_handler
from bundle.local.endpoint import LocalEndpoint
from bundle.local.rest import RestSettings
from bundle.ops.examples import instances_request

KEY = "local-test-key"
GOOD = json.dumps(instances_request()).encode()
# (row, body, content type, accept): the model's own answers, from the request corpus's kinds.
MODEL_CASES = [
    ("model 200", GOOD, "application/json", "application/json"),
    ("model 400 (malformed JSON)", b'{"instances": [[5.1,', "application/json", "application/json"),
    ("model 406 (Accept)", GOOD, "application/json", "application/xml"),
    ("runtime 413 (over the 6 MB InvokeEndpoint limit)", b'{"instances": [' + b" " * (6 * 1024 * 1024 + 1) + b"]}", "application/json", "application/json"),
    ("model 415 (Content-Type)", b"<iris/>", "application/xml", "application/json"),
]


@pytest.fixture(scope="module")
def front(artifact):
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-rest", rest_settings=RestSettings("api_key", KEY), max_concurrency=8) as served:
        yield served


def post(front, body, headers):
    url = urlparse(front.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("POST", contract.REST_PATH, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), payload


def via_front(front, body, content_type, accept, extra=None):
    status, headers, payload = post(front, body, {"Content-Type": content_type, "Accept": accept, "x-api-key": KEY, **(extra or {})})
    return status, headers, payload


@pytest.fixture
def lambda_env(front, monkeypatch):
    for key, value in {
        "ENDPOINT_NAME": "iris-rest",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": front.url,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(lambda_handler, "_client", None)


def proxy_event(body: bytes, content_type: str, accept: str, extra=None, binary=False) -> dict:
    """An API Gateway REST API proxy event (payload format 1.0), as the AWS_PROXY integration sends it."""
    return {
        "resource": "/invocations",
        "path": "/invocations",
        "httpMethod": "POST",
        "headers": {"content-type": content_type, "accept": accept, **(extra or {})},
        "requestContext": {"stage": contract.STAGE, "httpMethod": "POST", "resourcePath": "/invocations"},
        "body": base64.b64encode(body).decode() if binary else body.decode("utf-8"),
        "isBase64Encoded": binary,
    }


def via_lambda(body, content_type, accept, extra=None):
    response = lambda_handler.handler(proxy_event(body, content_type, accept, extra, binary=len(body) > 1024), None)
    payload = base64.b64decode(response["body"]) if response["isBase64Encoded"] else response["body"].encode()
    return response["statusCode"], response["headers"], payload


def expect_model_answer(row, status, headers, payload):
    wanted = int(row.split()[1])
    assert status == wanted, (row, status, payload[:200])
    document = json.loads(payload)
    if wanted == 200:
        assert document["predictions"] == [0, 1, 2] and headers[contract.VARIANT_HEADER] == "primary"
    elif row.startswith("runtime"):  # refused by the runtime before the model: its message, passed on
        assert document["message"].startswith("HTTP content length exceeded")
    else:
        assert set(document) >= {"error", "message"}, "the model's own JSON body, not a wrapper"


@pytest.mark.parametrize("row, body, content_type, accept", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_model_statuses_through_the_front_and_the_lambda(front, lambda_env, row, body, content_type, accept):
    expect_model_answer(row, *via_front(front, body, content_type, accept))
    expect_model_answer(row, *via_lambda(body, content_type, accept))


def test_the_api_key_is_checked(front):
    status, _, payload = post(front, GOOD, {"Content-Type": "application/json"})
    assert (status, json.loads(payload)) == (403, {"message": "Forbidden"})
    status, _, _ = post(front, GOOD, {"Content-Type": "application/json", "x-api-key": "wrong"})
    assert status == 403


def test_iam_auth_needs_a_signed_request(front):
    front.serve_rest(RestSettings("iam"))
    try:
        status, _, payload = post(front, GOOD, {"Content-Type": "application/json"})
        assert (status, json.loads(payload)) == (403, {"message": "Missing Authentication Token"})
        status, _, _ = post(front, GOOD, {"Content-Type": "application/json", "Authorization": "AWS4-HMAC-SHA256 Credential=local/..."})
        assert status == 200
    finally:
        front.serve_rest(RestSettings("api_key", KEY))


def test_target_variant_passes_through(front, lambda_env):
    for call in (lambda extra: via_front(front, GOOD, "application/json", "application/json", extra), lambda extra: via_lambda(GOOD, "application/json", "application/json", extra)):
        assert call({"X-Amzn-SageMaker-Target-Variant": "primary"})[0] == 200
        status, _, payload = call({"X-Amzn-SageMaker-Target-Variant": "green"})
        assert status == 400 and b"Variant green does not exist" in payload


def test_status_table_through_both_paths_ends_with_sagemakers_5xx(front, lambda_env, capsys):
    """The table the issue asks for; the 5xx row stops the worker, so it runs last and on this module's endpoint."""
    rows = []
    for row, body, content_type, accept in MODEL_CASES:
        rows.append((row, via_front(front, body, content_type, accept)[0], via_lambda(body, content_type, accept)[0]))
    slots = front._server.invocation_slots
    held = 0
    while slots.acquire(blocking=False):  # every invocation slot busy: the runtime throttles
        held += 1
    try:
        rows.append(("SageMaker throttling (429 ThrottlingException)", via_front(front, GOOD, "application/json", "application/json")[0], via_lambda(GOOD, "application/json", "application/json")[0]))
    finally:
        for _ in range(held):
            slots.release()
    front.worker.stop()  # no container answers: the runtime's own 503 ServiceUnavailable
    rows.append(("SageMaker 5xx (503 ServiceUnavailable)", via_front(front, GOOD, "application/json", "application/json")[0], via_lambda(GOOD, "application/json", "application/json")[0]))
    table = ["| case | REST front (local) | Lambda handler |", "|---|---|---|"] + [f"| {r} | {a} | {b} |" for r, a, b in rows]
    with capsys.disabled():
        print("\n" + "\n".join(table))
    assert [(a, b) for _, a, b in rows] == [(200, 200), (400, 400), (406, 406), (413, 413), (415, 415), (429, 429), (502, 502)]
