"""The local endpoint as an asynchronous endpoint: InvokeEndpointAsync through boto3, S3 in moto (a real moto server),
the answer computed by the serving image's real worker, and `python -m bundle invoke-async` end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import botocore.exceptions
import pytest

from bundle.local.async_front import AsyncConfig
from bundle.local.emulator import moto_server
from bundle.local.endpoint import LocalEndpoint
from bundle.ops import aws
from bundle.ops.invoke_async import invoke_async
from conftest import REPO

BUCKET = "async-bucket"
PREFIXES = {"input": f"s3://{BUCKET}/async-inference/input", "output": f"s3://{BUCKET}/async-inference/output", "failure": f"s3://{BUCKET}/async-inference/failures"}
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_url():
    with moto_server() as url:
        saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")}
        os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION=REGION)
        aws.client("s3", REGION).create_bucket(Bucket=BUCKET)
        yield url
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


@pytest.fixture(scope="module")
def async_endpoint(artifact, moto_url):
    config = AsyncConfig(PREFIXES["output"], PREFIXES["failure"], max_concurrent_invocations=2)
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-async", async_config=config, region=REGION) as served:
        yield served


def run_async(endpoint, body: bytes, tmp_path, content_type="application/json", accept=None, timeout=60.0):
    path = tmp_path / "body"
    path.write_bytes(body)
    return invoke_async("iris-async", REGION, str(path), PREFIXES["input"], content_type, accept, timeout, endpoint_url=endpoint.url)


def test_a_round_trip_answers_from_the_image_worker_via_s3(async_endpoint, tmp_path):
    result = run_async(async_endpoint, json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}).encode(), tmp_path)
    assert result.ok and result.location == f"{PREFIXES['output']}/{result.inference_id}.out"
    answer = json.loads(result.body)
    assert answer["labels"] == ["setosa", "virginica"] and len(answer["probabilities"]) == 2


def test_the_answer_is_202_with_aws_headers_and_the_inference_id(async_endpoint):
    s3 = aws.client("s3", REGION)
    s3.put_object(Bucket=BUCKET, Key="async-inference/input/x.csv", Body=b"5.1,3.5,1.4,0.2\n")
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=async_endpoint.url, max_attempts=1)
    answer = runtime.invoke_endpoint_async(
        EndpointName="iris-async", InputLocation=f"s3://{BUCKET}/async-inference/input/x.csv", ContentType="text/csv", Accept="text/csv", InferenceId="my-id-1"
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert answer["InferenceId"] == "my-id-1"
    assert answer["OutputLocation"] == f"{PREFIXES['output']}/my-id-1.out"
    assert answer["FailureLocation"] == f"{PREFIXES['failure']}/my-id-1-error.out"
    waiter = s3.get_waiter("object_exists")
    waiter.wait(Bucket=BUCKET, Key="async-inference/output/my-id-1.out", WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    obj = s3.get_object(Bucket=BUCKET, Key="async-inference/output/my-id-1.out")
    assert obj["Body"].read().decode().startswith("0,") and obj["ContentType"].startswith("text/csv")


def test_a_bad_request_lands_in_the_failure_location(async_endpoint, tmp_path):
    result = run_async(async_endpoint, b'{"instances": [[1, 2]]}', tmp_path)
    assert not result.ok and result.location.endswith("-error.out")
    assert b"Received client error (400)" in result.body and b"feature" in result.body


def test_a_missing_input_object_is_a_failure_not_a_crash(async_endpoint):
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=async_endpoint.url, max_attempts=1)
    answer = runtime.invoke_endpoint_async(EndpointName="iris-async", InputLocation=f"s3://{BUCKET}/async-inference/input/missing.json")
    s3 = aws.client("s3", REGION)
    key = answer["FailureLocation"].split(f"s3://{BUCKET}/", 1)[1]
    s3.get_waiter("object_exists").wait(Bucket=BUCKET, Key=key, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert b"Failed to download the input" in s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_requests_aws_refuses_are_4xx_and_an_async_endpoint_refuses_invoke_endpoint(async_endpoint):
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=async_endpoint.url, max_attempts=1)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        runtime.invoke_endpoint_async(EndpointName="iris-async", InputLocation="https://not-s3/x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as realtime:
        runtime.invoke_endpoint(EndpointName="iris-async", Body=b"{}", ContentType="application/json")
    assert "InvokeEndpointAsync" in str(realtime.value)


def test_an_inline_body_is_answered_and_one_over_the_models_limit_is_refused_with_413(async_endpoint):
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=async_endpoint.url, max_attempts=1)
    limit = runtime.meta.service_model.operation_model("InvokeEndpointAsync").input_shape.members["Body"].metadata["max"]
    answer = runtime.invoke_endpoint_async(EndpointName="iris-async", Body=b"5.1,3.5,1.4,0.2\n".ljust(limit), ContentType="text/csv", Accept="text/csv")
    s3 = aws.client("s3", REGION)
    key = answer["OutputLocation"].split(f"s3://{BUCKET}/", 1)[1]
    s3.get_waiter("object_exists").wait(Bucket=BUCKET, Key=key, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().startswith("0,")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        runtime.invoke_endpoint_async(EndpointName="iris-async", Body=b" " * (limit + 1), ContentType="text/csv")
    error = refused.value.response
    assert (error["Error"]["Code"], error["Error"]["Message"]) == ("413", f"HTTP content length exceeded {limit} bytes.")
    with pytest.raises(botocore.exceptions.ClientError, match="mutually exclusive"):
        runtime.invoke_endpoint_async(EndpointName="iris-async", Body=b"5.1,3.5,1.4,0.2", InputLocation=f"s3://{BUCKET}/x.csv")
    with pytest.raises(botocore.exceptions.ClientError, match="exactly one of Body and InputLocation"):
        runtime.invoke_endpoint_async(EndpointName="iris-async")


def test_an_unknown_endpoint_name_is_not_found_as_on_aws(async_endpoint):
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=async_endpoint.url, max_attempts=1)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        runtime.invoke_endpoint_async(EndpointName="iris-asnyc", InputLocation=f"s3://{BUCKET}/x.csv")
    error = refused.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationError", "Endpoint iris-asnyc of account 123456789012 not found.")


def test_a_realtime_endpoint_refuses_async_invocations(endpoint):
    runtime = aws.client("sagemaker-runtime", REGION, endpoint_url=endpoint.url, max_attempts=1)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        runtime.invoke_endpoint_async(EndpointName="iris-test", InputLocation=f"s3://{BUCKET}/x.json")
    assert "not an asynchronous endpoint" in str(refused.value)


def test_the_invoke_async_command_prints_the_answer(async_endpoint, moto_url, tmp_path):
    body = tmp_path / "request.json"
    body.write_text(json.dumps({"instances": [[5.9, 3.0, 4.2, 1.5]]}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "bundle", "invoke-async", "--endpoint", "iris-async", "--input-prefix", PREFIXES["input"], "--body", str(body),
               "--endpoint-url", async_endpoint.url, "--timeout", "60"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["labels"] == ["versicolor"]
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["location"].endswith(".out")


def test_a_timeout_names_where_the_answer_will_land(moto_url, tmp_path):
    from bundle.errors import BundleError
    from bundle.ops.invoke_async import wait_for_result

    with pytest.raises(BundleError, match=r"no answer after 0.3 s.*s3://async-bucket/nowhere.out"):
        wait_for_result(aws.client("s3", REGION), f"s3://{BUCKET}/nowhere.out", f"s3://{BUCKET}/nowhere-error.out", timeout=0.3, interval=0.1)
