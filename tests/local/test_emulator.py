"""The emulated deployment is the stack's own: moto holds what the plan describes, setting for setting.

The emulator replays bundle/local/requests.py's translation of the offline plan. These tests read the
deployment back from moto and compare it with the planned resources' inputs, so an emulator that drifts
from the stack (other alarm statistics, a missing capture setting, KMS key or provisioned concurrency)
fails here, by name.
"""
from __future__ import annotations

import pytest
from botocore.validate import ParamValidator

from bundle.local.emulator import NOT_REPLAYED, EmulatedDeployment
from bundle.local.plan import evaluate
from bundle.local.requests import TRANSLATIONS, _input_shape, api_requests
from bundle.params.rules import validate
from tokens import ALARM, CONFIG, POLICY, TARGET

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SCENARIOS = {
    "realtime-capture-kms-email": {
        "initial_instance_count": 2,
        "kms_key_arn": KEY,
        "deployment": {"strategy": "CANARY"},
        "data_capture": {"enabled": True, "sampling_percentage": 25},
        "alarms": {"email": "ops@example.com", "model_latency_percentile": "p90", "model_latency_threshold_ms": 250},
    },
    "serverless-provisioned": {"deployment_mode": "serverless", "serverless": {"memory_size_mb": 3072, "provisioned_concurrency": 2}},
    "custom-vpc-no-autoscaling": {
        "model_source": "custom-s3",
        "custom_model_s3_uri": "s3://my-models/iris/model.tar.gz",
        "autoscaling": {"enabled": False},
        "vpc": {"subnet_ids": ["subnet-0a1b2c3d"], "security_group_ids": ["sg-0a1b2c3d"]},
    },
}
PLANS = {name: evaluate(validate(raw)) for name, raw in SCENARIOS.items()}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_planned_resource_becomes_a_request_aws_would_parse(name):
    plan = PLANS[name]
    requests = api_requests(plan.resources, b"model")
    aws_types = {r.type for r in plan.resources if not r.type.startswith("pulumi:")}
    assert aws_types <= set(TRANSLATIONS), aws_types - set(TRANSLATIONS)
    assert {r.resource for r in requests} == {r.name for r in plan.resources if not r.type.startswith("pulumi:")}
    validator = ParamValidator()
    for request in requests:
        report = validator.validate(request.params, _input_shape(request.service, request.operation))
        assert not report.has_errors(), f"{request.resource}: {report.generate_report()}"


@pytest.fixture(scope="module", params=list(SCENARIOS))
def emulated(request, artifact):
    with EmulatedDeployment(PLANS[request.param], artifact.path) as deployment:
        yield request.param, deployment


def test_moto_holds_the_planned_alarms_setting_for_setting(emulated):
    name, deployment = emulated
    planned = {r.inputs["name"]: r.inputs for r in PLANS[name].of_type(ALARM)}
    alarms = deployment.client("cloudwatch").describe_alarms(AlarmNames=list(planned))["MetricAlarms"]
    assert {a["AlarmName"] for a in alarms} == set(planned)
    for alarm in alarms:
        want = planned[alarm["AlarmName"]]
        assert alarm["MetricName"] == want["metricName"] and alarm["Namespace"] == want["namespace"]
        assert alarm.get("Statistic") == want.get("statistic") and alarm.get("ExtendedStatistic") == want.get("extendedStatistic")
        assert (alarm["Threshold"], alarm["Period"], alarm["EvaluationPeriods"]) == (want["threshold"], want["period"], want["evaluationPeriods"])
        assert alarm["ComparisonOperator"] == want["comparisonOperator"] and alarm["TreatMissingData"] == want["treatMissingData"]
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == want["dimensions"]
        assert alarm["AlarmActions"] == want.get("alarmActions", [])


def test_moto_holds_the_planned_endpoint_configuration(emulated):
    name, deployment = emulated
    planned = PLANS[name].one(CONFIG)
    described = deployment.client("sagemaker").describe_endpoint_config(EndpointConfigName=planned.state["name"])
    (variant,) = described["ProductionVariants"]
    (want,) = planned.inputs["productionVariants"]
    assert variant["VariantName"] == want["variantName"] and variant["ModelName"] == want["modelName"]
    if "serverlessConfig" in want:
        serverless = variant["ServerlessConfig"]
        assert serverless["MemorySizeInMB"] == want["serverlessConfig"]["memorySizeInMb"]
        assert serverless["MaxConcurrency"] == want["serverlessConfig"]["maxConcurrency"]
        assert serverless.get("ProvisionedConcurrency") == want["serverlessConfig"].get("provisionedConcurrency")
    else:
        assert (variant["InstanceType"], variant["InitialInstanceCount"]) == (want["instanceType"], want["initialInstanceCount"])
    assert described.get("KmsKeyId") == planned.inputs.get("kmsKeyArn")
    capture = planned.inputs.get("dataCaptureConfig")
    if capture:
        got = described["DataCaptureConfig"]
        assert got["DestinationS3Uri"] == capture["destinationS3Uri"]
        assert got["InitialSamplingPercentage"] == capture["initialSamplingPercentage"]
        assert got.get("KmsKeyId") == capture.get("kmsKeyId")
    else:
        assert not described.get("DataCaptureConfig"), "moto answers {} when there is none"


def test_moto_holds_the_planned_autoscaling(emulated):
    name, deployment = emulated
    plan = PLANS[name]
    autoscaling = deployment.client("application-autoscaling")
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    planned_targets, planned_policies = plan.of_type(TARGET), plan.of_type(POLICY)
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (t.inputs["resourceId"], t.inputs["minCapacity"], t.inputs["maxCapacity"]) for t in planned_targets
    ]
    assert [(p["PolicyName"], p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) for p in policies] == [
        (p.inputs["name"], p.inputs["targetTrackingScalingPolicyConfiguration"]["targetValue"]) for p in planned_policies
    ]


def test_only_the_documented_calls_are_left_out(emulated):
    name, deployment = emulated
    operations = {r.operation for r in deployment.requests()}
    assert set(NOT_REPLAYED) <= {"PutBucketPolicy"}
    assert ("PutBucketPolicy" in operations) == bool(PLANS[name].outputs["bucket"])
