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
    "async-scale-to-zero-topics-batch": {
        "deployment_mode": "async",
        "autoscaling": {"min_capacity": 0},
        "async_inference": {"success_topic_arn": "arn:aws:sns:us-east-1:123456789012:ok", "error_topic_arn": "arn:aws:sns:us-east-1:123456789012:failed"},
        "batch_transform": {"enabled": True},
    },
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
    asynchronous = planned.inputs.get("asyncInferenceConfig")
    if asynchronous:
        output = described["AsyncInferenceConfig"]["OutputConfig"]
        assert output["S3OutputPath"] == asynchronous["outputConfig"]["s3OutputPath"]
        assert output["S3FailurePath"] == asynchronous["outputConfig"]["s3FailurePath"]
        assert output["NotificationConfig"]["SuccessTopic"] == asynchronous["outputConfig"]["notificationConfig"]["successTopic"]
        assert described["AsyncInferenceConfig"]["ClientConfig"]["MaxConcurrentInvocationsPerInstance"] == 2


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
    assert [(p["PolicyName"], p["PolicyType"], p.get("TargetTrackingScalingPolicyConfiguration", {}).get("TargetValue")) for p in policies] == [
        (p.inputs["name"], p.inputs["policyType"], p.inputs.get("targetTrackingScalingPolicyConfiguration", {}).get("targetValue")) for p in planned_policies
    ]
    for policy in policies:  # async: the customized backlog metric, and the step that wakes the fleet from zero
        want = next(p.inputs for p in planned_policies if p.inputs["name"] == policy["PolicyName"])
        custom = want.get("targetTrackingScalingPolicyConfiguration", {}).get("customizedMetricSpecification")
        if custom:
            got = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
            assert (got["MetricName"], got["Namespace"], got["Statistic"]) == (custom["metricName"], custom["namespace"], custom["statistic"])
        if "stepScalingPolicyConfiguration" in want:
            (step,) = policy["StepScalingPolicyConfiguration"]["StepAdjustments"]
            assert (step["MetricIntervalLowerBound"], step["ScalingAdjustment"]) == (0.0, 1)


def test_only_the_documented_calls_are_left_out(emulated):
    name, deployment = emulated
    operations = {r.operation for r in deployment.requests()}
    assert set(NOT_REPLAYED) <= {"PutBucketPolicy", "CreateDataQualityJobDefinition", "CreateMonitoringSchedule"}
    assert ("PutBucketPolicy" in operations) == bool(PLANS[name].outputs["bucket"])
    monitored = bool(PLANS[name].outputs.get("monitoring"))
    assert ({"CreateDataQualityJobDefinition", "CreateMonitoringSchedule"} <= operations) == monitored


@pytest.mark.parametrize("api", [{"auth": "api_key"}, {"integration": "lambda", "auth": "api_key"}, {"integration": "lambda"}])
def test_the_rest_front_is_replayed_where_moto_can_and_skipped_with_a_reason_where_not(api):
    from bundle.local.requests import NOT_EMULATED

    plan = evaluate(validate({"api": {"enabled": True, **api}}))
    requests = api_requests(plan.resources, b"model")
    replayed = {r.resource for r in requests}
    for resource in plan.resources:
        if resource.type.startswith("pulumi:"):
            continue
        assert (resource.name in replayed) != (resource.type in NOT_EMULATED), resource.name
        assert resource.type not in NOT_EMULATED or len(NOT_EMULATED[resource.type]) > 40, "each skip says why"
    operations = {(r.operation, r.params.get("logGroupName")) for r in requests}
    assert ("CreateLogGroup", plan.outputs["api"]["access_log_group"]) in operations
    assert ("PutRetentionPolicy", plan.outputs["api"]["access_log_group"]) in operations


def test_the_emulated_api_key_has_the_planned_id_and_the_local_front_checks_its_value(artifact):
    import json
    import urllib.error
    import urllib.request

    plan = evaluate(validate({"api": {"enabled": True, "auth": "api_key"}}))
    with EmulatedDeployment(plan, artifact.path) as deployment:
        key = deployment.client("apigateway").get_api_key(apiKey=plan.outputs["api"]["api_key_id"], includeValue=True)
        url = deployment.env()["API_URL"]
        body = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
        headers = {"Content-Type": "application/json", "x-api-key": key["value"]}
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as answer:
            assert json.loads(answer.read())["predictions"] == [0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, data=body, headers={**headers, "x-api-key": "not-the-key"}), timeout=30)
        assert refused.value.code == 403
        log_groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix="/aws/apigateway/")["logGroups"]
        assert [(g["logGroupName"], g.get("retentionInDays")) for g in log_groups] == [(plan.outputs["api"]["access_log_group"], 30)]
