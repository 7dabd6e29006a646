"""Rolling updates (deployment.strategy ROLLING): the typed settings, every refusal named by its field, and the limits
read from botocore's SageMaker model rather than copied."""
from __future__ import annotations

import json

import pytest

from bundle.params.aws_limits import violations
from bundle.params.aws_requests import implied_requests
from bundle.params.rolling_rules import capacity_size_types
from bundle.params.rules import problems_in, validate
from bundle.params.schema import load_schema
from bundle.params.shapes import service_model

FLEET = {"initial_instance_count": 4, "autoscaling": {"min_capacity": 2, "max_capacity": 6}}


def rolling(**settings) -> dict:
    return {**FLEET, "deployment": {"strategy": "ROLLING", **settings}}


def messages(raw) -> dict[str, str]:
    return {p.path: p.message for p in problems_in(raw)}


def test_rolling_alone_takes_its_defaults_half_the_fleet_and_a_rollback_at_once():
    d = validate(rolling()).deployment
    assert d.is_rolling and (d.rolling.batch.type, d.rolling.batch.value, d.rolling.rollback_batch, d.rolling.fleet) == ("CAPACITY_PERCENT", 50, None, 4)
    assert d.baking_periods == 2 and d.total_wait_seconds == 1200, "two batches of 2 instances, 600 s each, no termination wait"


def test_an_instance_count_batch_counts_steps_against_the_fleet():
    d = validate(rolling(rolling={"batch_type": "INSTANCE_COUNT", "batch_size": 1, "rollback_batch_type": "INSTANCE_COUNT", "rollback_batch_size": 2})).deployment
    assert d.baking_periods == 4 and (d.rolling.rollback_batch.type, d.rolling.rollback_batch.value) == ("INSTANCE_COUNT", 2)


def test_other_strategies_have_no_rolling_settings_and_their_documents_are_unchanged():
    params = validate({})
    assert params.deployment.rolling is None and "rolling" not in params.document["deployment"]


@pytest.mark.parametrize(
    "raw, path, words",
    [
        ({"deployment": {"strategy": "ROLLING"}}, "deployment.strategy", "a single instance cannot be (initial_instance_count is 1)"),
        ({"deployment_mode": "serverless", "deployment": {"strategy": "ROLLING"}}, "deployment.strategy", "neither canary, linear nor rolling"),
        (rolling(rolling={"batch_type": "INSTANCE_COUNT", "batch_size": 4}), "deployment.rolling.batch_size", "not smaller than the fleet (initial_instance_count 4)"),
        (rolling(rolling={"batch_type": "INSTANCE_COUNT", "batch_size": 3}), "deployment.rolling.batch_size", "75% of the fleet: AWS wants 5% to 50%"),
        (rolling(rolling={"batch_size": 60}), "deployment.rolling.batch_size", "60% of the fleet"),
        (rolling(rolling={"batch_size": 4}), "deployment.rolling.batch_size", "4% of the fleet"),
        (rolling(rolling={"batch_type": "SOME"}), "deployment.rolling.batch_type", 'must be one of ["CAPACITY_PERCENT", "INSTANCE_COUNT"]'),
        (rolling(rolling={"rollback_batch_size": 120}), "deployment.rolling.rollback_batch_size", "more than the whole fleet"),
        (rolling(rolling={"rollback_batch_type": "INSTANCE_COUNT", "rollback_batch_size": 5}), "deployment.rolling.rollback_batch_size", "more than the whole fleet (4 instances)"),
        (rolling(termination_wait_seconds=300), "deployment.termination_wait_seconds", "does not apply to ROLLING"),
        (rolling(wait_interval_seconds=3000), "deployment.maximum_execution_timeout_seconds", "2 baking period(s) of 3000 s (one per batch of 50% of 4 instances) = 6000 s"),
        (rolling(wait_interval_seconds=60), "deployment.wait_interval_seconds", "shorter than the alarms' window"),
        ({**rolling(), "variants": [{"name": "b", "initial_instance_count": 2, "autoscaling": {"min_capacity": 2}}]}, "deployment.strategy", "conflicts with variants"),
        ({**rolling(), "shadow": {"enabled": True}}, "deployment.strategy", "conflicts with shadow.enabled true"),
        ({"deployment": {"rolling": {"batch_size": 25}}}, "deployment.rolling", "applies only with deployment.strategy ROLLING (deployment.strategy is ALL_AT_ONCE)"),
    ],
)
def test_each_rolling_rule_names_its_field(raw, path, words):
    found = messages(raw)
    assert path in found and words in found[path], found


def test_a_valid_rolling_update_on_two_instances_and_on_an_async_fleet():
    assert messages(rolling(rolling={"batch_type": "INSTANCE_COUNT", "batch_size": 1}) | {"initial_instance_count": 2}) == {}
    assert messages({"deployment_mode": "async", **rolling()}) == {}


def test_the_batch_types_are_botocores():
    schema = load_schema()["properties"]["deployment"]["properties"]["rolling"]["properties"]
    for field in ("batch_type", "rollback_batch_type"):
        assert sorted(c["const"] for c in schema[field]["oneOf"]) == sorted(capacity_size_types())
    assert set(capacity_size_types()) == set(service_model("sagemaker").shape_for("CapacitySize").members["Type"].enum)


def test_the_implied_update_is_a_rolling_policy_checked_against_botocore():
    d = validate(rolling(rolling={"rollback_batch_size": 25})).document
    (update,) = [r for r in implied_requests(d) if r.operation == "UpdateEndpoint"]
    policy = update.params["DeploymentConfig"]
    assert set(policy) == {"RollingUpdatePolicy", "AutoRollbackConfiguration"}
    assert policy["RollingUpdatePolicy"]["MaximumBatchSize"]["Value"].field == "deployment.rolling.batch_size"
    assert violations(d) == []
    # AWS's range of a rolling update's numbers comes from the model: a wait beyond it is named by its field.
    model_max = service_model("sagemaker").shape_for("RollingUpdatePolicy").members["WaitIntervalInSeconds"].metadata["max"]
    d["deployment"]["wait_interval_seconds"] = model_max + 1
    found = [v for v in violations(d) if v.member == "DeploymentConfig.RollingUpdatePolicy.WaitIntervalInSeconds"]
    assert found and found[0].field == "deployment.wait_interval_seconds" and f"above AWS's maximum {model_max}" in found[0].rule


def test_the_rolling_block_round_trips_from_pulumi_config_strings():
    from bundle.params.sources import params_from_config

    raw = params_from_config({"initial_instance_count": "2", "deployment": json.dumps({"strategy": "ROLLING", "rolling": {"batch_type": "INSTANCE_COUNT", "batch_size": "1"}})}.get)
    assert validate(raw).deployment.rolling.batch.value == 1
