"""Safe updates under the mock runtime: guardrails per mode and strategy, serverless, and autoscaling out of UpdateEndpoint's way."""
from __future__ import annotations

import json

import boto3
import pulumi
import pytest
from moto import mock_aws

from bundle.params.rules import validate
from bundle.local.plan import evaluate
from bundle.errors import BundleError
from bundle.deploy.hook_identity import SESSION_NAME, IdentityMismatch, ProviderSettings, autoscaling_for_endpoint
from bundle.ops.aws import AssumedRole
from bundle.deploy.rollout import before_update_deregistering, deregister_scaling
from tokens import ALARM, CONFIG, ENDPOINT, MODEL, POLICY, ROLE_POLICY, TARGET

TWO_INSTANCES = {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}}

# Every mode and strategy the schema allows, plus rollback switched off.
CASES = {
    "realtime-all-at-once": {},
    "realtime-canary": {**TWO_INSTANCES, "deployment": {"strategy": "CANARY", "canary_size_percent": 25}},
    "realtime-linear": {**TWO_INSTANCES, "deployment": {"strategy": "LINEAR", "linear_step_percent": 50}},
    "serverless": {"deployment_mode": "serverless", "serverless": {"memory_size_mb": 3072, "max_concurrency": 8, "provisioned_concurrency": 2}},
    "no-auto-rollback": {"deployment": {"auto_rollback": False}},
    "realtime-rolling": {
        **TWO_INSTANCES,
        "deployment": {"strategy": "ROLLING", "wait_interval_seconds": 300, "rolling": {"batch_type": "INSTANCE_COUNT", "batch_size": 1, "rollback_batch_size": 50}},
    },
}


@pytest.fixture(scope="module")
def runs():
    return {case: evaluate(validate(raw)) for case, raw in CASES.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rollback_alarms_exist_in_the_graph_and_come_before_the_endpoint(runs, case):
    run = runs[case]
    endpoint = run.one(ENDPOINT)
    rollback = endpoint.inputs["deploymentConfig"].get("autoRollbackConfiguration", {}).get("alarms", [])
    referenced = [a["alarmName"] for a in rollback]
    alarms = {a.inputs["name"]: a for a in run.of_type(ALARM)}
    assert referenced == run.outputs["deployment"]["rollback_alarms"]
    assert set(referenced) <= set(alarms), "every alarm the rollback names is a MetricAlarm of the stack"
    assert {alarms[n].name for n in referenced} <= endpoint.depends_on, "alarms exist before the endpoint update names them"
    assert sorted(alarms) == sorted(run.outputs["alarms"].values()) == ["iris-endpoint-invocation-5xx", "iris-endpoint-model-latency"]
    if case == "no-auto-rollback":
        assert referenced == [] and run.outputs["deployment"]["auto_rollback"] is False
    else:
        assert sorted(referenced) == sorted(alarms)


@pytest.mark.parametrize("case", sorted(CASES))
def test_alarms_watch_the_variant_and_ignore_silence(runs, case):
    by_metric = {a.inputs["metricName"]: a.inputs for a in runs[case].of_type(ALARM)}
    assert set(by_metric) == {"Invocation5XXErrors", "ModelLatency"}
    for alarm in by_metric.values():
        assert alarm["namespace"] == "AWS/SageMaker"
        assert alarm["dimensions"] == {"EndpointName": "iris-endpoint", "VariantName": "primary"}
        assert alarm["treatMissingData"] == "notBreaching", "no traffic must not roll back"
        assert (alarm["period"], alarm["evaluationPeriods"]) == (60, 2)
    errors, latency = by_metric["Invocation5XXErrors"], by_metric["ModelLatency"]
    assert (errors["statistic"], errors["threshold"], errors["comparisonOperator"]) == ("Sum", 5, "GreaterThanOrEqualToThreshold")
    assert (latency["extendedStatistic"], latency["comparisonOperator"]) == ("p99", "GreaterThanThreshold")
    assert latency["threshold"] == 1_000_000, "1000 ms in ModelLatency's unit, microseconds"


@pytest.mark.parametrize(
    "case, routing",
    [
        ("realtime-all-at-once", {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 600}),
        ("realtime-canary", {"type": "CANARY", "waitIntervalInSeconds": 600, "canarySize": {"type": "CAPACITY_PERCENT", "value": 25}}),
        ("realtime-linear", {"type": "LINEAR", "waitIntervalInSeconds": 600, "linearStepSize": {"type": "CAPACITY_PERCENT", "value": 50}}),
        ("serverless", {"type": "ALL_AT_ONCE", "waitIntervalInSeconds": 600}),
    ],
)
def test_blue_green_policy_per_strategy(runs, case, routing):
    policy = runs[case].one(ENDPOINT).inputs["deploymentConfig"]["blueGreenUpdatePolicy"]
    assert policy == {"trafficRoutingConfiguration": routing, "terminationWaitInSeconds": 0, "maximumExecutionTimeoutInSeconds": 3600}
    out = runs[case].outputs["deployment"]
    assert out["strategy"] == routing["type"] and out["wait_interval_seconds"] == 600
    assert out["canary_size_percent"] == routing.get("canarySize", {}).get("value")
    assert out["linear_step_percent"] == routing.get("linearStepSize", {}).get("value")
    assert "rollingUpdatePolicy" not in runs[case].one(ENDPOINT).inputs["deploymentConfig"]


def test_rolling_policy_batches_the_fleet_and_rolls_back_on_the_same_alarms(runs):
    config = runs["realtime-rolling"].one(ENDPOINT).inputs["deploymentConfig"]
    assert "blueGreenUpdatePolicy" not in config
    assert config["rollingUpdatePolicy"] == {
        "maximumBatchSize": {"type": "INSTANCE_COUNT", "value": 1},
        "waitIntervalInSeconds": 300,
        "maximumExecutionTimeoutInSeconds": 3600,
        "rollbackMaximumBatchSize": {"type": "CAPACITY_PERCENT", "value": 50},
    }
    alarms = [a["alarmName"] for a in config["autoRollbackConfiguration"]["alarms"]]
    assert alarms == ["iris-endpoint-invocation-5xx", "iris-endpoint-model-latency"]
    out = runs["realtime-rolling"].outputs["deployment"]
    assert (out["strategy"], out["termination_wait_seconds"], out["rollback_alarms"]) == ("ROLLING", None, alarms)
    assert out["rolling"] == {
        "batch_type": "INSTANCE_COUNT", "batch_size": 1, "rollback_batch_type": "CAPACITY_PERCENT", "rollback_batch_size": 50, "instances": 2, "batches": 2,
    }  # fmt: skip
    assert "rolling" not in runs["realtime-all-at-once"].outputs["deployment"]


def test_a_rolling_rollback_left_at_its_default_sends_no_rollback_batch():
    run = evaluate(validate({**TWO_INSTANCES, "deployment": {"strategy": "ROLLING"}}))
    policy = run.one(ENDPOINT).inputs["deploymentConfig"]["rollingUpdatePolicy"]
    assert policy["maximumBatchSize"] == {"type": "CAPACITY_PERCENT", "value": 50} and "rollbackMaximumBatchSize" not in policy


@pytest.mark.parametrize("case", sorted(CASES))
def test_role_stays_least_privilege(runs, case):
    statements = json.loads(runs[case].one(ROLE_POLICY).inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["ReadModelArtifact", "EcrLogin", "PullServingImage", "WriteEndpointLogs", "PutEndpointMetrics"]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all(a != "*" and not a.endswith(":*") and "*" not in a for a in statement["Action"]), statement
        if "*" in statement["Resource"]:
            assert statement["Action"] in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"]), statement


def test_serverless_has_no_autoscaling_and_no_instances(runs):
    run = runs["serverless"]
    assert not run.of_type(TARGET) and not run.of_type(POLICY)
    (variant,) = run.one(CONFIG).inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 3072, "maxConcurrency": 8, "provisionedConcurrency": 2}
    assert "instanceType" not in variant and "initialInstanceCount" not in variant
    assert "kmsKeyArn" not in run.one(CONFIG).inputs and "dataCaptureConfig" not in run.one(CONFIG).inputs
    model = run.one(MODEL).inputs
    assert model["enableNetworkIsolation"] is False and "vpcConfig" not in model
    assert "hooks" not in run.one(ENDPOINT).options, "nothing to deregister"
    out = run.outputs
    assert out["deployment_mode"] == "serverless"
    assert out["serverless"] == {"memory_size_mb": 3072, "max_concurrency": 8, "provisioned_concurrency": 2}
    assert out["autoscaling"]["enabled"] is False and out["autoscaling"]["resource_id"] is None
    assert "instance_type" not in out["params"] and "autoscaling" not in out["params"]


def test_on_demand_serverless_sends_no_provisioned_concurrency():
    run = evaluate(validate({"deployment_mode": "serverless", "model_source": "custom-s3", "custom_model_s3_uri": "s3://my-models/m.tar.gz"}))
    assert run.one(CONFIG).inputs["productionVariants"][0]["serverlessConfig"] == {"memorySizeInMb": 2048, "maxConcurrency": 10}
    assert run.outputs["serverless"]["provisioned_concurrency"] == 0


# --- item 6: an instance-type change while autoscaling is on -----------------------------------------


def test_endpoint_deregisters_scaling_before_an_update_and_is_replaced_on_a_mode_switch(runs):
    options = runs["realtime-all-at-once"].one(ENDPOINT).options
    assert options["hooks"] == {"beforeUpdate": ["iris-endpoint-deregister-scaling-before-update"]}
    assert options["replacementTrigger"] == "realtime" and options["deleteBeforeReplace"] is True
    assert runs["serverless"].one(ENDPOINT).options["replacementTrigger"] == "serverless"


def test_scaling_target_is_registered_again_after_every_new_config(runs):
    run = runs["realtime-all-at-once"]
    target, policy, endpoint = run.one(TARGET), run.one(POLICY), run.one(ENDPOINT)
    assert target.options["replacementTrigger"] == run.outputs["endpoint_config_name"] == endpoint.inputs["endpointConfigName"]
    assert target.options["deleteBeforeReplace"] is True, "the same resource id cannot be registered twice"
    assert endpoint.name in target.depends_on
    assert policy.options == {"deletedWith": target.name}, "deregistering deletes the policy: it is re-created with the target"


def test_without_autoscaling_the_endpoint_has_no_hook():
    off = evaluate(validate({"autoscaling": {"enabled": False}}))
    assert "hooks" not in off.one(ENDPOINT).options and not off.of_type(TARGET)


RESOURCE_ID = "endpoint/iris-endpoint/variant/primary"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def registered(autoscaling) -> tuple[list, list]:
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    return [t["ResourceId"] for t in targets], [p["PolicyName"] for p in policies]


@pytest.fixture
def autoscaling():
    """Moto's Application Auto Scaling with the variant registered and its target-tracking policy attached."""
    with mock_aws():
        client = boto3.client("application-autoscaling", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        keys = {"ServiceNamespace": "sagemaker", "ResourceId": RESOURCE_ID, "ScalableDimension": DIMENSION}
        client.register_scalable_target(MinCapacity=1, MaxCapacity=4, **keys)
        client.put_scaling_policy(
            PolicyName="iris-endpoint-invocations-per-instance",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 1000.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
            **keys,
        )
        yield client


def hook_args(old_config: str, new_config: str, region: str = "eu-west-1") -> pulumi.ResourceHookArgs:
    return pulumi.ResourceHookArgs(
        urn="urn:pulumi:dev::p::aws:sagemaker/endpoint:Endpoint::iris-endpoint-endpoint",
        id="iris-endpoint",
        name="iris-endpoint-endpoint",
        type="aws:sagemaker/endpoint:Endpoint",
        old_inputs={"name": "iris-endpoint", "endpointConfigName": old_config},
        new_inputs={"name": "iris-endpoint", "endpointConfigName": new_config},
        old_outputs={"name": "iris-endpoint", "arn": f"arn:aws:sagemaker:{region}:123456789012:endpoint/iris-endpoint"},
    )


def test_hook_deregisters_the_variant_before_a_move_to_another_config(autoscaling):
    arns = []
    hook = before_update_deregistering("primary", lambda arn: arns.append(arn) or autoscaling)
    hook(hook_args("iris-endpoint-config-aaaaaaa", "iris-endpoint-config-bbbbbbb"))
    assert registered(autoscaling) == ([], []), "policies deleted, then the target deregistered"
    assert arns == ["arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-endpoint"], "the endpoint's own ARN: its region and account"
    hook(hook_args("iris-endpoint-config-bbbbbbb", "iris-endpoint-config-ccccccc"))  # already gone: no error


def test_hook_leaves_scaling_alone_when_the_config_stays(autoscaling):
    hook = before_update_deregistering("primary", lambda arn: pytest.fail("no AWS call for a tags-only update"))
    hook(hook_args("iris-endpoint-config-aaaaaaa", "iris-endpoint-config-aaaaaaa"))
    assert registered(autoscaling) == ([RESOURCE_ID], ["iris-endpoint-invocations-per-instance"])


def test_deregistering_an_unregistered_variant_is_a_no_op(autoscaling):
    assert deregister_scaling(autoscaling, "endpoint/other/variant/primary") is False
    assert deregister_scaling(autoscaling, RESOURCE_ID) is True
    assert deregister_scaling(autoscaling, RESOURCE_ID) is False


# --- the hook acts only in the stack's account and region (moto's STS: account 123456789012) ------


def provider(**settings) -> ProviderSettings:
    config = {"region": "eu-west-1", "accessKey": "x", "secretKey": "x", **settings}
    return ProviderSettings.from_config(config.get)


def test_hook_deregisters_in_the_stacks_own_account_and_region(autoscaling):
    hook = before_update_deregistering("primary", autoscaling_for_endpoint(provider()))
    hook(hook_args("iris-endpoint-config-aaaaaaa", "iris-endpoint-config-bbbbbbb"))
    assert registered(autoscaling) == ([], [])


def test_hook_refuses_an_endpoint_in_another_account(autoscaling):
    hook = before_update_deregistering("primary", autoscaling_for_endpoint(provider()))
    args = hook_args("iris-endpoint-config-aaaaaaa", "iris-endpoint-config-bbbbbbb")
    args.old_outputs["arn"] = "arn:aws:sagemaker:eu-west-1:999999999999:endpoint/iris-endpoint"
    with pytest.raises(IdentityMismatch, match="account 123456789012, but the endpoint .* is in account 999999999999"):
        hook(args)
    assert registered(autoscaling) == ([RESOURCE_ID], ["iris-endpoint-invocations-per-instance"]), "nothing touched"


def test_hook_refuses_an_endpoint_outside_the_stacks_region(autoscaling):
    hook = before_update_deregistering("primary", autoscaling_for_endpoint(provider(region="us-east-1")))
    with pytest.raises(IdentityMismatch, match="is in region eu-west-1 but the stack's aws:region is us-east-1"):
        hook(hook_args("iris-endpoint-config-aaaaaaa", "iris-endpoint-config-bbbbbbb"))
    assert registered(autoscaling)[0] == [RESOURCE_ID]


def test_hook_follows_the_providers_assume_roles():
    """The provider assumes a role in account 111111111111: so does the hook, and then that account is the stack's."""
    role = "arn:aws:iam::111111111111:role/deployer"
    chained = provider(assumeRoles=json.dumps([{"roleArn": role, "sessionName": "deploy", "externalId": "ext-1"}]))
    with mock_aws():
        client = autoscaling_for_endpoint(chained)
        assert client("arn:aws:sagemaker:eu-west-1:111111111111:endpoint/iris-endpoint").meta.region_name == "eu-west-1"
        with pytest.raises(IdentityMismatch, match="account 111111111111"):
            client("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-endpoint")


def test_hook_refuses_clearly_what_it_cannot_follow():
    with mock_aws():
        client = autoscaling_for_endpoint(provider(assumeRoleWithWebIdentity=json.dumps({"roleArn": "arn:aws:iam::1:role/r"})))
        with pytest.raises(BundleError, match="cannot follow the provider setting.*aws:assumeRoleWithWebIdentity"):
            client("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-endpoint")
        missing = autoscaling_for_endpoint(ProviderSettings.from_config({"region": "eu-west-1", "profile": "no-such-profile"}.get))
        with pytest.raises(BundleError, match="cannot take the provider's identity.*no-such-profile"):
            missing("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/iris-endpoint")


def test_the_program_hands_the_stacks_aws_config_to_the_hook(monkeypatch):
    seen = []
    import bundle.deploy.rollout as rollout

    real = rollout.scaling_hook
    monkeypatch.setattr(rollout, "scaling_hook", lambda name, variant, settings: seen.append(settings) or real(name, variant, settings))
    evaluate(validate({}), region="eu-west-1", config={"aws:profile": "deploy", "aws:assumeRoles": json.dumps([{"roleArn": "arn:aws:iam::111111111111:role/d"}])})
    assert seen == [ProviderSettings(region="eu-west-1", profile="deploy", assume_roles=(AssumedRole("arn:aws:iam::111111111111:role/d", session_name=SESSION_NAME),))]
