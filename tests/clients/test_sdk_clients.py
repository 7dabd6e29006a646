"""The clients users already have, unchanged, against the local front (the image's real worker behind it): the SageMaker
Python SDK 2.x and its boto3, pinned in requirements-clients.txt and installed by `make setup` into .venv-clients, run as
a subprocess (tests/clients/sdk_calls.py) so their pins never meet the bundle's. Each answers as AWS would."""
from __future__ import annotations

import pytest

from bundle.ops.examples import expected_classes
from client_run import client_answers


REAL_TIME_CALLS = [
    "SKLearnPredictor defaults (npy in, npy out)",
    "Predictor JSONSerializer/JSONDeserializer",
    "Predictor CSVSerializer/CSVDeserializer",
    "Predictor NumpySerializer/NumpyDeserializer",
    "Predictor JSONLinesSerializer/JSONLinesDeserializer",
    "boto3 invoke_endpoint, unknown endpoint",
    "boto3 invoke_endpoint, unknown TargetVariant",
    "boto3 invoke_endpoint, body over the limit",
]


@pytest.fixture(scope="module")
def answers(endpoint):
    return client_answers(endpoint.url, endpoint.endpoint_name, REAL_TIME_CALLS)


@pytest.mark.parametrize("call", REAL_TIME_CALLS[:5])
def test_the_sdks_predictors_return_the_predictions(answers, call):
    assert answers[call].get("returned") == expected_classes(), answers[call]


@pytest.mark.parametrize(
    "call, code, status, words",
    [
        ("boto3 invoke_endpoint, unknown endpoint", "ValidationError", 400, "Endpoint iris-testx of account 123456789012 not found."),
        ("boto3 invoke_endpoint, unknown TargetVariant", "ValidationError", 400, "green"),
        ("boto3 invoke_endpoint, body over the limit", "413", 413, "HTTP content length exceeded 6291456 bytes."),
    ],
)
def test_bad_requests_get_awss_errors(answers, call, code, status, words):
    answer = answers[call]
    assert (answer.get("code"), answer.get("status")) == (code, status) and words in answer["message"], answer
