"""Asynchronous inference under the mock runtime: the endpoint configuration, the role's scoped grants, scale to zero
(backlog target tracking plus the step policy that wakes the fleet), alarms, dashboard, rollout, and the bucket's
lifecycle rule."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from bundle.deploy.rollout import before_update_deregistering
from bundle.local.plan import evaluate
from bundle.params.rules import problems_in, validate
from tokens import ALARM, BUCKET, CONFIG, DASHBOARD, ENDPOINT, KMS, LIFECYCLE, MODEL, POLICY, ROLE_POLICY, SUBSCRIPTION, TARGET, TOPIC

ASYNC = {"deployment_mode": "async", "autoscaling": {"min_capacity": 0}}
SUCCESS = "arn:aws:sns:us-east-1:123456789012:results-ok"
ERROR = "arn:aws:sns:us-east-1:123456789012:results-failed"


@pytest.fixture(scope="module")
def run():
    return evaluate(validate(ASYNC))


def statements(evaluation) -> dict[str, dict]:
    return {s["Sid"]: s for s in json.loads(evaluation.one(ROLE_POLICY).inputs["policy"])["Statement"]}


def test_the_config_is_asynchronous_with_outputs_in_the_bundles_bucket(run):
    config = run.one(CONFIG).inputs["asyncInferenceConfig"]
    bucket = run.outputs["bucket"]
    assert config == {
        "outputConfig": {
            "s3OutputPath": f"s3://{bucket}/async-inference/output",
            "s3FailurePath": f"s3://{bucket}/async-inference/failures",
        },
        "clientConfig": {"maxConcurrentInvocationsPerInstance": 2},
    }
    variant = run.one(CONFIG).inputs["productionVariants"][0]
    assert variant["instanceType"] == "ml.m5.large" and variant["initialInstanceCount"] == 1
    assert "dataCaptureConfig" not in run.one(CONFIG).inputs
    assert run.outputs["async_inference"]["input_location"] == f"s3://{bucket}/async-inference/input"
    assert run.one(MODEL).inputs["primaryContainer"]["environment"]["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == "60"


def test_the_role_gains_only_what_async_needs_each_scoped(run):
    bucket = run.outputs["bucket"]
    found = statements(run)
    assert found["ReadAsyncRequests"]["Action"] == ["s3:GetObject"]
    assert found["ReadAsyncRequests"]["Resource"] == [f"arn:aws:s3:::{bucket}/async-inference/input/*"]
    assert found["WriteAsyncResults"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert found["WriteAsyncResults"]["Resource"] == [
        f"arn:aws:s3:::{bucket}/async-inference/failures/*",
        f"arn:aws:s3:::{bucket}/async-inference/output/*",
    ]
    listing = found["ListAsyncPrefixes"]
    assert listing["Resource"] == [f"arn:aws:s3:::{bucket}"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["async-inference/failures/*", "async-inference/input/*", "async-inference/output/*"]}}
    assert "PublishAsyncNotifications" not in found and "EncryptAsyncResults" not in found
    default = statements(evaluate(validate({})))
    assert set(found) - set(default) == {"ReadAsyncRequests", "WriteAsyncResults", "ListAsyncPrefixes"}


def test_topics_and_the_key_are_granted_only_when_given():
    given = evaluate(validate({**ASYNC, "kms_key_arn": KMS, "async_inference": {"success_topic_arn": SUCCESS, "error_topic_arn": ERROR}}))
    found = statements(given)
    assert found["PublishAsyncNotifications"] == {"Sid": "PublishAsyncNotifications", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [ERROR, SUCCESS]}
    assert found["EncryptAsyncResults"]["Resource"] == [KMS]
    output = given.one(CONFIG).inputs["asyncInferenceConfig"]["outputConfig"]
    assert output["notificationConfig"] == {"successTopic": SUCCESS, "errorTopic": ERROR} and output["kmsKeyId"] == KMS
    assert not given.of_type(TOPIC)


def test_an_email_creates_one_topic_for_both_outcomes():
    mailed = evaluate(validate({**ASYNC, "async_inference": {"notification_email": "ml@example.com"}}))
    topic = next(t for t in mailed.of_type(TOPIC) if t.inputs["name"] == "iris-endpoint-async-results")
    assert any(s.inputs["endpoint"] == "ml@example.com" for s in mailed.of_type(SUBSCRIPTION))
    notification = mailed.one(CONFIG).inputs["asyncInferenceConfig"]["outputConfig"]["notificationConfig"]
    assert notification["successTopic"] == notification["errorTopic"] == statements(mailed)["PublishAsyncNotifications"]["Resource"][0]
    assert topic.name in mailed.one(CONFIG).depends_on


def test_custom_prefixes_are_used_and_the_grants_follow_them():
    custom = evaluate(validate({
        **ASYNC,
        "model_source": "custom-s3",
        "custom_model_s3_uri": "s3://models/iris/model.tar.gz",
        "async_inference": {"input_s3_uri": "s3://in-bucket/req/", "output_s3_uri": "s3://out-bucket/ok", "failure_s3_uri": "s3://out-bucket/bad"},
    }))  # fmt: skip
    assert not custom.of_type(BUCKET), "nothing lives in the bundle's bucket: none is created"
    found = statements(custom)
    assert found["ReadAsyncRequests"]["Resource"] == ["arn:aws:s3:::in-bucket/req/*"]
    assert found["WriteAsyncResults"]["Resource"] == ["arn:aws:s3:::out-bucket/bad/*", "arn:aws:s3:::out-bucket/ok/*"]
    assert {found["ListAsyncPrefixes0"]["Resource"][0], found["ListAsyncPrefixes1"]["Resource"][0]} == {"arn:aws:s3:::in-bucket", "arn:aws:s3:::out-bucket"}


def test_scale_to_zero_tracks_the_backlog_and_a_step_policy_wakes_the_fleet(run):
    target = run.one(TARGET).inputs
    assert target["minCapacity"] == 0 and target["maxCapacity"] == 4
    policies = {p.inputs["policyType"]: p for p in run.of_type(POLICY)}
    tracking = policies["TargetTrackingScaling"].inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["targetValue"] == 5
    assert "predefinedMetricSpecification" not in tracking, "async endpoints publish no invocations per instance"
    assert tracking["customizedMetricSpecification"] == {
        "metricName": "ApproximateBacklogSizePerInstance",
        "namespace": "AWS/SageMaker",
        "statistic": "Average",
        "dimensions": [{"name": "EndpointName", "value": "iris-endpoint"}],
    }
    step = policies["StepScaling"]
    assert step.inputs["stepScalingPolicyConfiguration"]["adjustmentType"] == "ChangeInCapacity"
    assert step.inputs["stepScalingPolicyConfiguration"]["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 1}]
    assert step.options == {"deletedWith": run.one(TARGET).name}
    wake = next(a for a in run.of_type(ALARM) if a.inputs["metricName"] == "HasBacklogWithoutCapacity")
    assert wake.inputs["dimensions"] == {"EndpointName": "iris-endpoint"}
    assert (wake.inputs["threshold"], wake.inputs["comparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert (wake.inputs["period"], wake.inputs["evaluationPeriods"], wake.inputs["treatMissingData"]) == (60, 2, "missing")
    assert step.name in wake.depends_on and len(wake.inputs["alarmActions"]) == 1, "the alarm fires the step policy"


def test_min_capacity_zero_only_for_async():
    assert [p.path for p in problems_in({"autoscaling": {"min_capacity": 0}})] == ["autoscaling.min_capacity"]
    assert "only with deployment_mode async" in problems_in({"autoscaling": {"min_capacity": 0}})[0].message
    assert problems_in(ASYNC) == []


@pytest.mark.parametrize(
    "raw, path, words",
    [
        ({"data_capture": {"enabled": True}}, "data_capture", "asynchronous endpoints do not support data capture"),
        ({"serverless": {}}, "serverless", "apply only with deployment_mode serverless"),
        ({"async_inference": {"notification_email": "a@b.co", "success_topic_arn": SUCCESS}}, "async_inference.success_topic_arn", "not both"),
        ({"async_inference": {"max_concurrent_invocations_per_instance": 0}}, "async_inference.max_concurrent_invocations_per_instance", "minimum"),
        ({"async_inference": {"model_server_timeout_seconds": 3601}}, "async_inference.model_server_timeout_seconds", "maximum"),
        ({"async_inference": {"output_s3_uri": "https://x/y"}}, "async_inference.output_s3_uri", "s3://bucket/prefix"),
        ({"async_inference": {"error_topic_arn": "arn:aws:sns:eu-west-1:123456789012:x"}}, None, None),
    ],
)
def test_what_async_cannot_do_is_refused_naming_the_field(raw, path, words):
    found = problems_in({**ASYNC, **raw})
    if path is None:
        assert found == []
    else:
        assert any(p.path == path and words in p.message for p in found), found


def test_async_settings_outside_async_mode_are_refused():
    found = problems_in({"async_inference": {}})
    assert [p.path for p in found] == ["async_inference"] and "only with deployment_mode async" in found[0].message


def test_async_alarms_and_only_those_that_can_fire_roll_back(run):
    alarms = {a.inputs["name"]: a.inputs for a in run.of_type(ALARM)}
    assert alarms["iris-endpoint-oldest-request-age"]["metricName"] == "ApproximateAgeOfOldestRequest"
    assert alarms["iris-endpoint-oldest-request-age"]["threshold"] == 900
    assert alarms["iris-endpoint-backlog"]["metricName"] == "ApproximateBacklogSize"
    assert alarms["iris-endpoint-invocation-failures"]["dimensions"] == {"EndpointName": "iris-endpoint", "VariantName": "primary"}
    assert alarms["iris-endpoint-notification-failures"]["metricName"] == "NotificationFailures"
    rollback = [a["alarmName"] for a in run.one(ENDPOINT).inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]]
    assert rollback == ["iris-endpoint-invocation-5xx", "iris-endpoint-model-latency", "iris-endpoint-invocation-failures"]
    assert run.outputs["deployment"]["rollback_alarms"] == rollback
    endpoint_deps = run.one(ENDPOINT).depends_on
    assert {a.name for a in run.of_type(ALARM) if a.inputs["name"] in rollback} <= endpoint_deps


def test_async_dashboard_charts_the_queue_not_invocations(run):
    body = json.loads(run.one(DASHBOARD).inputs["dashboardBody"])
    names = {m[1] for w in body["widgets"] for m in w["properties"].get("metrics", []) if not isinstance(m[0], dict)}
    assert {"ApproximateBacklogSize", "ApproximateBacklogSizePerInstance", "ApproximateAgeOfOldestRequest", "HasBacklogWithoutCapacity"} <= names
    assert {"InvocationFailures", "NotificationFailures", "ModelLatency"} <= names
    assert not names & {"Invocations", "InvocationsPerInstance", "OverheadLatency"}, "async endpoints do not publish them"
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    assert len(alarm_widget["properties"]["alarms"]) == 6


def test_the_update_hook_and_rollout_options_still_apply(run):
    options = run.one(ENDPOINT).options
    assert options["hooks"] == {"beforeUpdate": ["iris-endpoint-deregister-scaling-before-update"]}
    assert options["replacementTrigger"] == "async" and options["deleteBeforeReplace"] is True
    assert run.one(TARGET).options["replacementTrigger"] == run.outputs["endpoint_config_name"]


def test_the_hook_deletes_both_async_policies_before_deregistering():
    keys = {"ServiceNamespace": "sagemaker", "ResourceId": "endpoint/iris-endpoint/variant/primary", "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}
    with mock_aws():
        client = boto3.client("application-autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        client.register_scalable_target(MinCapacity=0, MaxCapacity=4, **keys)
        client.put_scaling_policy(
            PolicyName="iris-endpoint-backlog-per-instance",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 5.0,
                "CustomizedMetricSpecification": {"MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker", "Statistic": "Average", "Dimensions": [{"Name": "EndpointName", "Value": "iris-endpoint"}]},
            },
            **keys,
        )  # fmt: skip
        client.put_scaling_policy(
            PolicyName="iris-endpoint-wake-from-zero",
            PolicyType="StepScaling",
            StepScalingPolicyConfiguration={"AdjustmentType": "ChangeInCapacity", "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]},
            **keys,
        )
        import pulumi

        args = pulumi.ResourceHookArgs(
            urn="urn:pulumi:dev::p::aws:sagemaker/endpoint:Endpoint::iris-endpoint-endpoint", id="iris-endpoint", name="iris-endpoint-endpoint",
            type="aws:sagemaker/endpoint:Endpoint", old_inputs={"endpointConfigName": "a"}, new_inputs={"endpointConfigName": "b"},
            old_outputs={"name": "iris-endpoint", "arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iris-endpoint"},
        )  # fmt: skip
        before_update_deregistering("primary", lambda arn: client)(args)
        assert client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"] == []
        assert client.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_the_bucket_gains_a_lifecycle_rule_aborting_incomplete_uploads_and_nothing_else():
    for raw in ({}, ASYNC):
        evaluation = evaluate(validate(raw))
        lifecycle = evaluation.one(LIFECYCLE)
        assert lifecycle.inputs["bucket"] == evaluation.outputs["bucket"]
        assert lifecycle.inputs["rules"] == [
            {"id": "abort-incomplete-multipart-uploads", "status": "Enabled", "filter": {"prefix": ""}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}
        ]
        assert lifecycle.options["retainOnDelete"] is True, "kept with the bucket"
    bucket = evaluate(validate({})).one(BUCKET)
    assert set(bucket.inputs) == {"forceDestroy", "tags"}, "the bucket's own inputs are untouched: it is never replaced"


def test_batch_transform_grants_the_models_role_its_two_prefixes_only_when_enabled():
    enabled = evaluate(validate({"batch_transform": {"enabled": True}}))
    bucket = enabled.outputs["bucket"]
    found = statements(enabled)
    assert found["ReadBatchInput"]["Resource"] == [f"arn:aws:s3:::{bucket}/batch/input/*"]
    assert found["ListBatchInput"]["Condition"] == {"StringLike": {"s3:prefix": ["batch/input/*", "batch/input"]}}
    assert found["WriteBatchOutput"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert found["WriteBatchOutput"]["Resource"] == [f"arn:aws:s3:::{bucket}/batch/output/*"]
    assert enabled.outputs["batch_transform"] == {"input_location": f"s3://{bucket}/batch/input", "output_location": f"s3://{bucket}/batch/output"}
    off = evaluate(validate({}))
    assert not any("Batch" in sid for sid in statements(off)) and "batch_transform" not in off.outputs
