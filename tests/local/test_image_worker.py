"""The proof of the data plane: the whole request corpus through the serving image's real worker.

The `endpoint` fixture serves the artifact with gunicorn + gevent + sagemaker-containers' Worker and
Transformer in .venv-image (the image's pins, Python 3.10), behind the runtime-API front. Every case
goes over HTTP to the worker itself (the container protocol SageMaker uses) and through boto3 to the
front (the runtime API clients use). A broken handler import, or any hook that raises, shows here as a
500 HTML page from Flask.
"""
from __future__ import annotations

import json

import botocore.exceptions
import botocore.session
import pytest

from bundle.ops import aws
from conftest import http_request
from corpus import CORPUS, CSV, JSON, Case, ids, predictions_in

# InvokeEndpoint's Body limit, as botocore's model of the runtime API gives it.
RUNTIME_BODY_MAX = botocore.session.get_session().get_service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape.members["Body"].metadata["max"]


def post(url: str, case: Case, path: str = "/invocations") -> tuple[int, str, bytes]:
    headers = {"Content-Type": case.content_type, **({"Accept": case.accept} if case.accept is not None else {})}
    return http_request(url, "POST", path, case.body, headers)


@pytest.mark.parametrize("case", CORPUS, ids=ids(CORPUS))
def test_the_image_worker_answers_every_case_as_the_corpus_says(endpoint, case):
    status, content_type, body = post(endpoint.worker_url, case)
    assert status == case.status, body[:300]
    if status >= 400:
        assert content_type == JSON
        document = json.loads(body)
        assert document["error"] == case.error and case.words in document["message"]
    else:
        # Flask adds the charset to text/* types only
        assert content_type == (f"{CSV}; charset=utf-8" if case.response_type == CSV else case.response_type)
        assert predictions_in(body, case.response_type) == list(case.predictions)


@pytest.fixture(scope="module")
def runtime(endpoint):
    return aws.client("sagemaker-runtime", "us-east-1", endpoint_url=endpoint.url, max_attempts=1)


@pytest.mark.parametrize("case", CORPUS, ids=ids(CORPUS))
def test_the_runtime_front_through_boto3_answers_every_case(runtime, case):
    request = {"EndpointName": "iris-test", "ContentType": case.content_type, "Body": case.body}
    if case.accept:
        request["Accept"] = case.accept
    if len(case.body) > RUNTIME_BODY_MAX:  # refused by the runtime itself before any container, as AWS does
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            runtime.invoke_endpoint(**request)
        error = raised.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("413", 413)
        assert error["Error"]["Message"] == f"HTTP content length exceeded {RUNTIME_BODY_MAX} bytes."
        return
    if case.status >= 400:
        with pytest.raises(runtime.exceptions.ModelError) as raised:
            runtime.invoke_endpoint(**request)
        error = raised.value.response
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
        assert error["OriginalStatusCode"] == case.status
        assert json.loads(error["OriginalMessage"])["error"] == case.error
        return
    response = runtime.invoke_endpoint(**request)
    assert response["InvokedProductionVariant"] == "primary"
    assert predictions_in(response["Body"].read(), case.response_type) == list(case.predictions)


def test_npy_as_the_sdk_sends_it_predicts_like_json_in_the_worker(endpoint):
    by_id = {case.id: case for case in CORPUS}
    _, _, from_json = post(endpoint.worker_url, by_id["json-instances"])
    _, _, from_npy = post(endpoint.worker_url, by_id["npy-rows"])
    assert json.loads(from_npy) == json.loads(from_json)


@pytest.mark.parametrize(
    "method, path, status",
    [("GET", "/invocations", 405), ("GET", "/endpoints/iris-test/invocations", 405), ("POST", "/predict", 404), ("PUT", "/invocations", 405), ("DELETE", "/ping", 405)],
)
def test_the_front_answers_a_wrong_method_or_path_with_4xx_json(endpoint, method, path, status):
    got, content_type, body = http_request(endpoint.url, method, path, b"{}", {"Content-Type": JSON})
    assert 400 <= got < 500 and content_type == JSON, body
    assert json.loads(body)["message"]


def test_the_worker_itself_answers_a_wrong_path_with_an_html_404(endpoint):
    """What the image's Flask app does without the front: the reason the front answers these itself."""
    status, content_type, _ = http_request(endpoint.worker_url, "POST", "/predict", b"{}")
    assert (status, content_type) == (404, "text/html; charset=utf-8")
