"""The local endpoint over real HTTP on an ephemeral port: raw HTTP, boto3, concurrency, signals."""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import botocore.exceptions
import pytest

from bundle.ops import aws
from bundle.ops.examples import expected_classes, instances_request
from conftest import REPO, http_request


def raw(endpoint, method, path, body=b"", headers=None):
    return http_request(endpoint.url, method, path, body, headers, timeout=10)


def test_binds_to_loopback_by_default(endpoint):
    assert urlparse(endpoint.url).hostname == "127.0.0.1"


def test_ping(endpoint):
    status, _, _ = raw(endpoint, "GET", "/ping")
    assert status == 200


def test_container_protocol_invocations(endpoint):
    status, content_type, body = raw(
        endpoint, "POST", "/invocations", json.dumps(instances_request()), {"Content-Type": "application/json", "Accept": "application/json"}
    )
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body)["predictions"] == [0, 1, 2]


def test_container_protocol_bad_input_is_4xx_json(endpoint):
    status, content_type, body = raw(endpoint, "POST", "/invocations", "{oops", {"Content-Type": "application/json"})
    assert (status, content_type) == (400, "application/json")
    assert json.loads(body)["error"] == "MalformedJSON"


def test_unknown_route_is_404_json(endpoint):
    status, content_type, body = raw(endpoint, "POST", "/predict", "{}")
    assert (status, content_type) == (404, "application/json")
    assert "no route" in json.loads(body)["message"]


@pytest.fixture
def runtime(endpoint):
    return aws.client("sagemaker-runtime", "us-east-1", endpoint_url=endpoint.url, max_attempts=1)


def test_boto3_invoke_endpoint_as_against_aws(runtime):
    response = runtime.invoke_endpoint(
        EndpointName="iris-test", ContentType="application/json", Accept="application/json", Body=json.dumps(instances_request())
    )
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "primary"
    result = json.loads(response["Body"].read())
    assert result["predictions"] == expected_classes()
    assert all(sum(p) == pytest.approx(1.0) for p in result["probabilities"])


def test_boto3_sees_a_model_4xx_as_model_error_with_original_status_code(runtime):
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="iris-test", ContentType="application/json", Body='{"instances": [[1, 2, 3]]}')
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert json.loads(error["OriginalMessage"])["error"] == "WrongFeatureCount"


def test_boto3_unknown_endpoint_name_is_a_validation_error(runtime):
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="someone-else", ContentType="application/json", Body="[]")
    assert raised.value.response["Error"]["Code"] == "ValidationError"


def test_boto3_honours_aws_endpoint_url_sagemaker_runtime(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    client = aws.client("sagemaker-runtime", "us-east-1", max_attempts=1)
    response = client.invoke_endpoint(EndpointName="iris-test", ContentType="text/csv", Accept="text/csv", Body="5.1,3.5,1.4,0.2\n")
    assert response["Body"].read().decode().split(",")[0] == "0"


def test_serves_concurrent_requests(endpoint):
    def one(i):
        status, _, body = raw(
            endpoint, "POST", "/invocations", json.dumps(instances_request()), {"Content-Type": "application/json"}
        )
        return status, json.loads(body)["predictions"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(one, range(200)))
    assert results == [(200, [0, 1, 2])] * 200


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_cli_serve_shuts_down_cleanly_on_signal(artifact, stop_signal):
    process = subprocess.Popen(
        [sys.executable, "-m", "bundle", "serve", "--port", "0", "--artifact", str(artifact.path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = json.loads(process.stdout.readline())
        url = urlparse(started["url"])
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        connection.request("GET", "/ping")
        assert connection.getresponse().status == 200
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=60)  # a graceful stop of gunicorn, however busy the machine
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == {"status": "stopped"}
    assert "Traceback" not in err


def test_cli_serve_with_a_missing_artifact_is_a_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "bundle", "serve", "--port", "0", "--artifact", str(tmp_path / "nope.tar.gz")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot unpack artifact" in result.stderr and "Traceback" not in result.stderr
