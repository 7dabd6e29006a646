"""Params AWS would refuse are refused at validation, naming the field (bundle/params/aws_limits.py).

The plan's implied API requests are checked against botocore's own service models: a table of scenarios x
operations with zero violations, and one deliberately bad input per rule, each caught and named.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter

import pulumi
import pytest

from bundle.params.aws_limits import problems, violations
from bundle.params.aws_requests import implied_requests
from bundle.params.shapes import From, Request, check_request
from bundle.errors import BundleError
from bundle.params.model import InvalidParams
from bundle.params.rules import problems_in, validate
from bundle.local.plan import PROJECT, evaluate
from conftest import REPO
from tokens import CUSTOM, KMS

VPC = {"subnet_ids": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "security_group_ids": ["sg-0123abcd"]}
TWO = {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}}
SCENARIOS = {
    "default": {},
    "serverless-provisioned": {"deployment_mode": "serverless", "serverless": {"memory_size_mb": 6144, "max_concurrency": 200, "provisioned_concurrency": 200}},
    "canary-capture-email": {**TWO, "deployment": {"strategy": "CANARY", "canary_size_percent": 50}, "data_capture": {"enabled": True, "sampling_percentage": 100}, "alarms": {"email": "ops@example.com"}},
    "linear-topic": {**TWO, "deployment": {"strategy": "LINEAR", "linear_step_percent": 10, "maximum_execution_timeout_seconds": 14400}, "alarms": {"topic_arn": "arn:aws:sns:us-east-1:123456789012:ops"}},
    "custom-vpc-kms": {**CUSTOM, "vpc": VPC, "kms_key_arn": KMS},
    "custom-capture-elsewhere": {**CUSTOM, "data_capture": {"enabled": True, "destination_s3_uri": "s3://capture-bucket/prefix", "kms_key_arn": KMS}},
    "longest-names-8-tags": {
        "endpoint_name": "E" * 63,
        "variant_name": "V" * 63,
        "tags": {**{f"key-{i}": "v" * 256 for i in range(6)}, "équipe": "données: ML/δ=1 @x", "k" * 128: ""},
    },
    "no-autoscaling-no-rollback": {"autoscaling": {"enabled": False}, "deployment": {"auto_rollback": False}},
    "rolling-instance-batches": {**TWO, "deployment": {"strategy": "ROLLING", "rolling": {"batch_type": "INSTANCE_COUNT", "batch_size": 1, "rollback_batch_size": 100}}},
    "pipeline-async-batch": {"deployment_mode": "async", "preprocessing": {"enabled": True, "unit": "mm"}, "batch_transform": {"enabled": True}},
}


def requests_of(raw: dict, region: str = "us-east-1") -> list[Request]:
    return implied_requests(validate(raw).document, region)


def test_every_scenario_passes_every_operation_it_implies():
    table: dict[str, Counter] = {}
    found = {}
    for name, raw in SCENARIOS.items():
        table[name] = Counter(r.name for r in requests_of(raw))
        found[name] = violations(validate(raw).document)
    operations = sorted({op for counts in table.values() for op in counts})
    rows = ["| scenario | " + " | ".join(operations) + " | violations |", "|---|" + "---|" * (len(operations) + 1)]
    rows += [f"| {name} | " + " | ".join(str(table[name][op] or "-") for op in operations) + f" | {len(found[name])} |" for name in SCENARIOS]
    print("\n".join(rows))
    assert {name: v for name, v in found.items() if v} == {}
    assert len(operations) >= 15, operations  # S3, IAM, SageMaker, autoscaling, CloudWatch and SNS requests are all checked
    assert all(problems(validate(raw).document, "us-east-1") == [] for raw in SCENARIOS.values())


@pytest.mark.parametrize(
    "raw, field, words",
    [
        # a shape's pattern (SageMaker's and IAM's TagValue: [\p{L}\p{Z}\p{N}_.:/=+\-@]*)
        ({"tags": {"team": "ml|platform"}}, "tags.team", "does not match AWS's pattern"),
        # a shape's maximum length (CreateModel's ModelDataUrl: 1024; DataCaptureConfig's DestinationS3Uri: 512)
        ({**CUSTOM, "custom_model_s3_uri": "s3://my-models/" + "k" * 1100 + ".tar.gz"}, "custom_model_s3_uri", "ModelDataUrl has 1122 characters, AWS's maximum is 1024"),
        ({"data_capture": {"enabled": True, "destination_s3_uri": "s3://capture/" + "p" * 600}}, "data_capture.destination_s3_uri", "AWS's maximum is 512"),
        # S3's 10 tags per object (in no model): 9 + the bundle's 2
        ({"tags": {f"k{i}": "v" for i in range(9)}}, "tags", "S3 allows 10 per object"),
        # S3's reserved bucket names (in no model)
        ({**CUSTOM, "custom_model_s3_uri": "s3://xn--models/m.tar.gz"}, "custom_model_s3_uri", "S3 reserves bucket names starting with 'xn--'"),
        ({"data_capture": {"enabled": True, "destination_s3_uri": "s3://captured--ol-s3/x"}}, "data_capture.destination_s3_uri", "ending with '--ol-s3'"),
        # non-finite numbers (Python's JSON parser accepts NaN and Infinity)
        ({"autoscaling": {"target_invocations_per_instance": math.nan}}, "autoscaling.target_invocations_per_instance", "must be a finite number"),
        ({"alarms": {"model_latency_threshold_ms": math.inf}}, "alarms.model_latency_threshold_ms", "must be a finite number"),
        # the image the POC model cannot be packaged for here (validation, not `plan`)
        ({"serving_image_version": "1.2-1"}, "serving_image_version", "cannot be packaged for image 1.2-1"),
    ],
)
def test_each_rule_catches_its_bad_input_at_validation(raw, field, words):
    found = problems_in(raw)
    assert any(p.path == field and words in p.message for p in found), found


@pytest.mark.parametrize(
    "raw, region, field, words",
    [
        ({}, "mars-north-1", "aws:region", "not a region botocore knows"),
        ({"kms_key_arn": KMS.replace("us-east-1", "eu-west-1")}, "us-east-1", "kms_key_arn", "is in region eu-west-1 but the stack deploys to us-east-1"),
        ({"data_capture": {"enabled": True, "kms_key_arn": KMS}}, "eu-west-1", "data_capture.kms_key_arn", "is in region us-east-1"),
        ({"alarms": {"topic_arn": "arn:aws:sns:us-west-2:123456789012:ops"}}, "us-east-1", "alarms.topic_arn", "is in region us-west-2"),
    ],
)
def test_region_rules(raw, region, field, words):
    found = problems(validate(raw).document, region)
    assert any(f == field and words in m for f, m in found), found


@pytest.mark.parametrize(
    "request_, member, words",
    [
        # an enum: the routing type
        (Request("sagemaker", "CreateEndpoint", {"EndpointName": "e", "EndpointConfigName": "c", "DeploymentConfig": {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {"Type": From("ROLLING", "deployment.strategy"), "WaitIntervalInSeconds": 0}}}}),
         "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type", "is not one of AWS's values"),
        # a numeric range: the sampling percentage
        (Request("sagemaker", "CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [{"VariantName": "v"}], "DataCaptureConfig": {"InitialSamplingPercentage": From(101, "data_capture.sampling_percentage"), "DestinationS3Uri": "s3://b/p", "CaptureOptions": [{"CaptureMode": "Input"}]}}),
         "DataCaptureConfig.InitialSamplingPercentage", "101 is above AWS's maximum 100"),
        # a list's size: 11 production variants
        (Request("sagemaker", "CreateEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [{"VariantName": f"v{i}"} for i in range(11)]}),
         "ProductionVariants", "has 11 items, AWS's maximum is 10"),
        # a required member
        (Request("application-autoscaling", "RegisterScalableTarget", {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/e/variant/v"}), "(request)", "misses the required member ScalableDimension"),
    ],
)
def test_the_checker_reads_enums_ranges_list_sizes_and_required_members_from_the_model(request_, member, words):
    found = check_request(request_)
    assert any(v.member == member and words in v.rule for v in found), found


def test_validate_cli_refuses_with_the_field_and_no_traceback(tmp_path):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"tags": {"team": "ml|platform"}, "kms_key_arn": KMS}))
    result = subprocess.run([sys.executable, "-m", "bundle", "validate", str(path), "--region", "eu-west-1"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tags.team: AWS would refuse" in result.stderr


def test_plan_refuses_a_region_that_is_not_one(tmp_path):
    path = tmp_path / "params.json"
    path.write_text("{}")
    result = subprocess.run([sys.executable, "-m", "bundle", "plan", "--params", str(path), "--region", "moon-1"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--region: 'moon-1' is not a region" in result.stderr


def test_the_program_refuses_before_creating_anything(monkeypatch):
    monkeypatch.delenv("BUNDLE_PARAMS_FILE", raising=False)
    with pytest.raises(pulumi.RunError, match=r"tags.team: AWS would refuse"):
        evaluate(None, config={f"{PROJECT}:tags": json.dumps({"team": "ml|platform"})})
    with pytest.raises(pulumi.RunError, match=r"kms_key_arn: is in region us-east-1 but the stack deploys to eu-west-1"):
        evaluate(None, region="eu-west-1", config={f"{PROJECT}:kms_key_arn": KMS})


def test_validate_raises_invalid_params():
    with pytest.raises(InvalidParams, match="tags.team"):
        validate({"tags": {"team": "ml|platform"}})
    assert issubclass(InvalidParams, BundleError)
