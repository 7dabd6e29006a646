"""The local front with several variants: weighted routing measured, TargetVariant, an unknown variant, the shadow's
copies, and capture files and metrics written into moto. Each distinct artifact is served by its own image worker."""
from __future__ import annotations

import http.client
import json
import math
import shutil
import time
from collections import Counter
from urllib.parse import urlparse

import boto3
import pytest
from moto import mock_aws

from bundle.local.endpoint import LocalEndpoint, LocalVariant
from bundle.local.variants import INVOKED_VARIANT_HEADER, TARGET_VARIANT_HEADER, Recorder, Route, Router

BODY = json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode()


def call(url, target=None, body=BODY):
    u = urlparse(url)
    connection = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    headers = {"Content-Type": "application/json"} | ({TARGET_VARIANT_HEADER: target} if target else {})
    connection.request("POST", "/endpoints/iris-endpoint/invocations", body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, response.getheader(INVOKED_VARIANT_HEADER), payload


@pytest.fixture(scope="module")
def two_artifacts(artifact, tmp_path_factory):
    """The same model under a second path: a distinct artifact to the front, so a second image worker serves it."""
    other = tmp_path_factory.mktemp("challenger") / "model.tar.gz"
    shutil.copyfile(artifact.path, other)
    return artifact.path, other


@pytest.fixture(scope="module")
def ab(two_artifacts):
    primary, challenger = two_artifacts
    with LocalEndpoint(primary, port=0, endpoint_name="iris-endpoint", variant_weight=3, variants=(LocalVariant("challenger", challenger, 1),), seed=7) as endpoint:
        yield endpoint


def test_each_distinct_artifact_has_its_own_image_worker(ab):
    urls = {w.url for w in ab.variant_workers.values()}
    assert len(urls) == 2
    assert set(ab._server.router.production) == {"primary", "challenger"}


def test_the_weighted_draw_follows_the_weights_over_many_draws():
    router = Router([Route("primary", 3, "http://a:1"), Route("challenger", 1, "http://b:1")], seed=11)
    n = 20000
    share = sum(router.choose(None).name == "challenger" for _ in range(n)) / n
    # weight 1 of 4: binomial standard deviation sqrt(p(1-p)/n); 5 of them is a bound no fair draw crosses by chance.
    assert abs(share - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n), share


def test_weighted_routing_through_the_front_answers_from_both_workers_in_proportion(ab):
    n = 600  # the draw's precision is the test above; here the front must route by it, end to end
    seen = Counter(call(ab.url)[1] for _ in range(n))
    share = seen["challenger"] / n
    assert abs(share - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n), seen  # 5 sd: 0.09 at this n; an even split is 0.25 off
    print(f"observed {dict(seen)} over {n}: challenger {share:.3f} vs weight share 0.250")


def test_target_variant_is_answered_by_that_variant(ab):
    for name in ("primary", "challenger"):
        answers = {call(ab.url, target=name)[:2] for _ in range(50)}
        assert answers == {(200, name)}


def test_an_unknown_variant_is_a_validation_error(ab):
    status, invoked, payload = call(ab.url, target="nope")
    assert (status, invoked, json.loads(payload)["__type"]) == (400, None, "ValidationError")


def test_a_bad_request_to_a_variant_is_a_model_error_naming_it(ab):
    status, _, payload = call(ab.url, target="challenger", body=b"{")
    document = json.loads(payload)
    assert status == 424 and document["__type"] == "ModelError" and "from challenger" in document["message"]


def test_the_shadow_sample_follows_its_weight():
    router = Router([Route("primary", 2, "http://a:1")], Route("shadow", 1, "http://b:1"), seed=3)
    n = 4000
    copies = sum(router.copies_to_shadow() for _ in range(n))
    assert abs(copies / n - 0.5) < 5 * math.sqrt(0.25 / n)
    assert {router.choose(None).name for _ in range(100)} == {"primary"}, "the shadow is never a production answer"


@mock_aws
def test_shadow_copies_are_captured_and_metered_per_variant(artifact, monkeypatch):
    s3, cloudwatch = boto3.client("s3", region_name="us-east-1"), boto3.client("cloudwatch", region_name="us-east-1")
    s3.create_bucket(Bucket="captures")
    recorder = Recorder("iris-endpoint", "s3://captures/data-capture", 100, s3, cloudwatch)
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-endpoint", shadow=LocalVariant("shadow", artifact.path, 1), recorder=recorder) as endpoint:
        shadow_call = endpoint._server._shadow_call

        def slow_shadow(*args):  # the shadow answers well after the callers have theirs: flush must wait for it
            time.sleep(0.3)
            shadow_call(*args)

        monkeypatch.setattr(endpoint._server, "_shadow_call", slow_shadow)
        answers = {call(endpoint.url)[1] for _ in range(20)}
        assert endpoint.settle(), "the shadow's copies, sent in the background, are answered"
        keys = recorder.flush()
    assert answers == {"primary"}, "only the production variant answers callers"
    variants = sorted(k.split("/")[5] for k in keys)
    assert variants == ["primary", "shadow"], keys
    listed = s3.list_objects_v2(Bucket="captures", Prefix="data-capture/iris-endpoint/shadow/")["Contents"]
    lines = s3.get_object(Bucket="captures", Key=listed[0]["Key"])["Body"].read().decode().splitlines()
    record = json.loads(lines[0])
    assert len(lines) == 20 and record["captureData"]["endpointInput"]["encoding"] == "JSON"
    assert json.loads(record["captureData"]["endpointOutput"]["data"])["predictions"] == [0]
    metrics = cloudwatch.list_metrics(Namespace="AWS/SageMaker", MetricName="Invocations")["Metrics"]
    assert {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "VariantName"} == {"primary", "shadow"}
