"""The clients users already have, unchanged, against the local front (the image's real worker behind it): the SageMaker
Python SDK 2.x and its boto3, pinned in requirements-clients.txt and installed by `make setup` into .venv-clients, run as
a subprocess (tests/clients/sdk_calls.py) so their pins never meet the bundle's. Each answers as AWS would."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from bundle.ops.examples import EXAMPLES, expected_classes
from conftest import REPO

CLIENT_PYTHON = REPO / ".venv-clients" / "bin" / "python"
SCRIPT = REPO / "tests" / "clients" / "sdk_calls.py"


@pytest.fixture(scope="module")
def answers(endpoint):
    assert CLIENT_PYTHON.exists(), ".venv-clients is missing: `make setup` builds it from requirements-clients.txt"
    env = {**os.environ, "FRONT_URL": endpoint.url, "ENDPOINT_NAME": "iris-test", "ROWS": json.dumps([e.features for e in EXAMPLES]), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(CLIENT_PYTHON), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line[len("CALL "):] for line in done.stdout.splitlines() if line.startswith("CALL ")]
    table = {line["call"]: line for line in map(json.loads, lines)}
    rows = ["| client call | answer |", "|---|---|"] + [f"| {k} | {v.get('returned', (v.get('code'), v.get('status')))} |" for k, v in table.items()]
    print("\n" + "\n".join(rows))
    return table


@pytest.mark.parametrize(
    "call",
    [
        "SKLearnPredictor defaults (npy in, npy out)",
        "Predictor JSONSerializer/JSONDeserializer",
        "Predictor CSVSerializer/CSVDeserializer",
        "Predictor NumpySerializer/NumpyDeserializer",
        "Predictor JSONLinesSerializer/JSONLinesDeserializer",
    ],
)
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
