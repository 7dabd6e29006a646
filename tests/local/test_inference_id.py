"""InferenceId through the local front: the caller's id is stored as the captured record's eventMetadata.inferenceId
(the shadow's copy keeps the production call's), the REST front passes its header on, and an id outside botocore's
length is a ValidationError before any container."""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import boto3
from moto import mock_aws

from bundle.api.contract import INFERENCE_ID_HEADER, REST_PATH
from bundle.local.endpoint import LocalEndpoint, LocalVariant
from bundle.local.rest import RestSettings
from bundle.local.variants import Recorder

BODY = json.dumps({"instances": [[6.2, 2.9, 4.3, 1.3]]}).encode()


def post(url: str, path: str, headers: dict) -> tuple[int, bytes]:
    u = urlparse(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    connection.request("POST", path, body=BODY, headers={"Content-Type": "application/json", **headers})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload


@mock_aws
def test_the_inference_id_is_captured_for_the_production_call_and_the_shadows_copy(artifact):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="captures")
    recorder = Recorder("iris-endpoint", "s3://captures/data-capture", 100, s3, None)
    with LocalEndpoint(
        artifact.path, port=0, endpoint_name="iris-endpoint", shadow=LocalVariant("shadow", artifact.path, 1), recorder=recorder,
        rest_settings=RestSettings("api_key", "k" * 20),
    ) as endpoint:  # fmt: skip
        assert post(endpoint.url, "/endpoints/iris-endpoint/invocations", {INFERENCE_ID_HEADER: "order-0001"})[0] == 200
        assert post(endpoint.url, REST_PATH, {INFERENCE_ID_HEADER: "order-0002", "x-api-key": "k" * 20})[0] == 200
        assert post(endpoint.url, "/endpoints/iris-endpoint/invocations", {})[0] == 200
        status, payload = post(endpoint.url, "/endpoints/iris-endpoint/invocations", {INFERENCE_ID_HEADER: "x" * 65})
        assert endpoint.settle()
        recorder.flush()
    assert status == 400 and "InferenceId" in payload.decode()
    ids = {}
    for item in s3.list_objects_v2(Bucket="captures", Prefix="data-capture/iris-endpoint/")["Contents"]:
        variant = item["Key"].split("/")[2]
        for line in s3.get_object(Bucket="captures", Key=item["Key"])["Body"].read().decode().splitlines():
            ids.setdefault(variant, []).append(json.loads(line)["eventMetadata"].get("inferenceId"))
    assert sorted(ids["primary"], key=str) == sorted(["order-0001", "order-0002", None], key=str)
    assert set(ids["shadow"]) == {"order-0001", "order-0002", None}, "the shadow's copies carry the production call's id"


def test_an_inference_id_over_botocores_length_is_a_validation_error(endpoint):
    status, payload = post(endpoint.url, f"/endpoints/{endpoint.endpoint_name}/invocations", {INFERENCE_ID_HEADER: "x" * 65})
    assert status == 400 and "InferenceId must be 1 to 64" in json.loads(payload)["message"]
    assert post(endpoint.url, f"/endpoints/{endpoint.endpoint_name}/invocations", {INFERENCE_ID_HEADER: "x" * 64})[0] == 200
