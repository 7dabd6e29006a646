"""params.schema.json and bundle/params.py: defaults, every rule with its field named, and the sources."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bundle.errors import BundleError
from bundle.params.model import InvalidParams
from bundle.params.rules import problems_in, validate
from bundle.params.schema import load_schema
from bundle.params.sources import params_from_config, resolve
from conftest import REPO

CUSTOM = {"model_source": "custom-s3", "custom_model_s3_uri": "s3://my-models/iris/v2/model.tar.gz"}


def test_every_property_has_a_title_a_description_and_a_default():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            yield f"{path}{key}", sub
            yield from walk(sub, f"{path}{key}.")

    for path, sub in walk(load_schema(), ""):
        assert sub.get("title") and sub.get("description") and "default" in sub, path


def test_instance_types_are_a_pattern_with_examples_for_a_catalog_ui():
    schema = load_schema()["properties"]["instance_type"]
    assert schema["pattern"] and len(schema["examples"]) >= 5 and "oneOf" not in schema


def test_defaults_come_from_the_schema():
    params = validate({})
    assert (params.endpoint_name, params.primary.name, params.model_source) == ("iris-endpoint", "primary", "poc-sklearn")
    assert params.enable_network_isolation is True
    assert params.primary.autoscaling.enabled and params.primary.autoscaling.min_capacity <= params.primary.initial_instance_count <= params.primary.autoscaling.max_capacity
    assert params.document["autoscaling"]["scale_in_cooldown"] == load_schema()["properties"]["autoscaling"]["properties"]["scale_in_cooldown"]["default"]


@pytest.mark.parametrize(
    "raw, path, words",
    [
        ({"autoscaling": {"min_capacity": 3, "max_capacity": 2}}, "autoscaling.min_capacity", "greater than max_capacity"),
        ({"initial_instance_count": 5}, "initial_instance_count", "outside the autoscaling range [1, 4]"),
        ({"initial_instance_count": 1, "autoscaling": {"min_capacity": 2}}, "initial_instance_count", "min <= initial <= max"),
        ({"model_source": "custom-s3"}, "custom_model_s3_uri", "required when model_source is custom-s3"),
        ({"model_source": "custom-s3", "custom_model_s3_uri": "s3://b/model.zip"}, "custom_model_s3_uri", "s3://bucket/key.tar.gz"),
        ({"model_source": "custom-s3", "custom_model_s3_uri": "https://b/m.tar.gz"}, "custom_model_s3_uri", "s3://bucket/key.tar.gz"),
        ({"custom_model_s3_uri": "s3://bucket/m.tar.gz"}, "custom_model_s3_uri", "must be empty unless model_source is custom-s3"),
        ({"instance_type": "ml.t2.medium"}, "autoscaling.enabled", "not supported on burstable instance types"),
        ({"endpoint_name": "-starts-with-hyphen"}, "endpoint_name", "SageMaker endpoint names"),
        ({"endpoint_name": "has_underscore"}, "endpoint_name", "SageMaker endpoint names"),
        ({"endpoint_name": "x" * 64}, "endpoint_name", "1-63 characters"),
        ({"variant_name": "all traffic"}, "variant_name", "variant names"),
        ({"instance_type": "ml.p9.huge"}, "instance_type", "not an instance type AWS offers"),
        ({"model_source": "huggingface"}, "model_source", 'must be one of ["poc-sklearn", "custom-s3", "model-package"] (got "huggingface")'),
        ({"kms_key_arn": "alias/mine"}, "kms_key_arn", "KMS key ARN"),
        ({"vpc": {"subnet_ids": ["subnet-0123abcd"]}}, "vpc.security_group_ids", "both subnet_ids and security_group_ids"),
        ({"vpc": {"subnet_ids": ["subnet-0123abcd"], "security_group_ids": ["default"]}}, "vpc.security_group_ids.0", "does not match"),
        ({"tags": {"aws:owner": "me"}}, "tags", "must not start with 'aws:'"),
        ({"autoscaling": {"enabled": "yes"}}, "autoscaling.enabled", 'must be a boolean, got "yes" (a string)'),
        ({"autoscaling": {"target_invocations_per_instance": 0}}, "autoscaling.target_invocations_per_instance", "less than or equal to the minimum"),
        ({"instance_count": 2}, "(root)", 'unknown parameter "instance_count" (did you mean "initial_instance_count"?)'),
    ],
)
def test_each_rule_names_the_field_and_the_rule(raw, path, words):
    found = problems_in(raw)
    assert any(p.path == path and words in p.message for p in found), found


SERVERLESS = {"deployment_mode": "serverless"}


@pytest.mark.parametrize(
    "raw, path, words",
    [
        # serverless: what belongs to instances is named, and the message says what to do
        ({**SERVERLESS, "instance_type": "ml.m5.large"}, "instance_type", "does not apply to serverless endpoints (they have no instances): remove it"),
        ({**SERVERLESS, "initial_instance_count": 1}, "initial_instance_count", "does not apply to serverless endpoints: remove it"),
        ({**SERVERLESS, "autoscaling": {"enabled": True}}, "autoscaling", "does not apply to serverless endpoints"),
        ({**SERVERLESS, "autoscaling": {"enabled": False}}, "autoscaling", "remove autoscaling"),
        ({**SERVERLESS, "enable_network_isolation": True}, "enable_network_isolation", "do not support network isolation"),
        ({**SERVERLESS, "vpc": {"subnet_ids": ["subnet-0123abcd"], "security_group_ids": ["sg-0123abcd"]}}, "vpc", "do not support a VPC"),
        ({**SERVERLESS, "data_capture": {"enabled": True}}, "data_capture", "do not support data capture"),
        ({**SERVERLESS, "deployment": {"strategy": "CANARY"}}, "deployment.strategy", "ALL_AT_ONCE only: set deployment.strategy to ALL_AT_ONCE"),
        ({**SERVERLESS, "serverless": {"provisioned_concurrency": 6, "max_concurrency": 5}}, "serverless.provisioned_concurrency", "greater than max_concurrency 5"),
        ({**SERVERLESS, "serverless": {"memory_size_mb": 1500}}, "serverless.memory_size_mb", "1 GB steps"),
        ({**SERVERLESS, "serverless": {"max_concurrency": 201}}, "serverless.max_concurrency", "greater than the maximum of 200"),
        ({"serverless": {"memory_size_mb": 2048}}, "serverless", "apply only with deployment_mode serverless"),
        ({"deployment_mode": "batch"}, "deployment_mode", 'must be one of ["realtime", "serverless", "async"]'),
        # guardrails
        ({"deployment": {"strategy": "CANARY"}}, "deployment.strategy", "needs at least 2 instances (initial_instance_count is 1)"),
        ({"deployment": {"strategy": "BLUE_GREEN"}}, "deployment.strategy", 'must be one of ["ALL_AT_ONCE", "CANARY", "LINEAR", "ROLLING"]'),
        ({"deployment": {"canary_size_percent": 60}}, "deployment.canary_size_percent", "greater than the maximum of 50"),
        ({"deployment": {"linear_step_percent": 5}}, "deployment.linear_step_percent", "less than the minimum of 10"),
        ({"deployment": {"maximum_execution_timeout_seconds": 599}}, "deployment.maximum_execution_timeout_seconds", "less than the minimum of 600"),
        (
            {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "deployment": {"strategy": "LINEAR", "linear_step_percent": 10}},
            "deployment.maximum_execution_timeout_seconds",
            "must exceed the rollout's waiting: 10 baking period(s) of 600 s plus a termination wait of 0 s = 6000 s",
        ),
        ({"deployment": {"wait_interval_seconds": 600, "termination_wait_seconds": 3000}}, "deployment.maximum_execution_timeout_seconds", "= 3600 s"),
        ({"deployment": {"wait_interval_seconds": 60}}, "deployment.wait_interval_seconds", "shorter than the alarms' window"),
        ({"alarms": {"period_seconds": 300, "evaluation_periods": 3}}, "deployment.wait_interval_seconds", "= 900 s"),
        # alarms
        ({"alarms": {"email": "oncall@example.com", "topic_arn": "arn:aws:sns:us-east-1:123456789012:pager"}}, "alarms.topic_arn", "not both"),
        ({"alarms": {"email": "not-an-address"}}, "alarms.email", "an email address"),
        ({"alarms": {"topic_arn": "pager"}}, "alarms.topic_arn", "SNS topic ARN"),
        ({"alarms": {"period_seconds": 90}}, "alarms.period_seconds", "multiple of 60"),
        ({"alarms": {"model_latency_percentile": "p100"}}, "alarms.model_latency_percentile", "must be one of"),
        ({"alarms": {"model_latency_threshold_ms": 0}}, "alarms.model_latency_threshold_ms", "less than or equal to the minimum"),
        # data capture
        ({"data_capture": {"destination_s3_uri": "https://bucket/prefix"}}, "data_capture.destination_s3_uri", "s3://bucket/prefix"),
        ({"data_capture": {"kms_key_arn": "alias/capture"}}, "data_capture.kms_key_arn", "KMS key ARN"),
        ({"data_capture": {"sampling_percentage": 0}}, "data_capture.sampling_percentage", "less than the minimum of 1"),
    ],
)
def test_each_safe_update_rule_names_the_field_and_the_fix(raw, path, words):
    found = problems_in(raw)
    assert any(p.path == path and words in p.message for p in found), found


@pytest.mark.parametrize(
    "raw",
    [
        SERVERLESS,
        {**SERVERLESS, "serverless": {"memory_size_mb": 6144, "max_concurrency": 200, "provisioned_concurrency": 200}},
        {**SERVERLESS, "deployment": {"strategy": "ALL_AT_ONCE", "auto_rollback": False}, "alarms": {"email": "oncall@example.com"}},
        {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "deployment": {"strategy": "CANARY"}},
        {"initial_instance_count": 2, "autoscaling": {"enabled": False}, "deployment": {"strategy": "LINEAR", "maximum_execution_timeout_seconds": 7200}},
        {"deployment": {"wait_interval_seconds": 0, "auto_rollback": False}},
        {"data_capture": {"enabled": True, "destination_s3_uri": "s3://audit-bucket", "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/abc-123"}},
    ],
)
def test_sensible_safe_update_combinations_are_valid(raw):
    assert problems_in(raw) == []


def test_serverless_defaults_fill_only_what_applies():
    params = validate(SERVERLESS)
    assert params.is_serverless and params.primary.serverless.memory_size_mb == 2048 and params.primary.serverless.provisioned_concurrency == 0
    assert (params.primary.instance_type, params.primary.initial_instance_count) == (None, None)
    assert params.primary.autoscaling.enabled is False and params.enable_network_isolation is False and not params.vpc.enabled
    assert params.data_capture.enabled is False and params.deployment.strategy == "ALL_AT_ONCE"
    left_out = {"instance_type", "initial_instance_count", "autoscaling", "enable_network_isolation", "vpc", "data_capture"}
    assert not left_out & set(params.document) and "serverless" in params.document
    assert "serverless" not in validate({}).document


def test_safe_update_defaults_are_a_guarded_all_at_once_rollout():
    params = validate({})
    assert (params.deployment.strategy, params.deployment.auto_rollback, params.deployment.wait_interval_seconds) == ("ALL_AT_ONCE", True, 600)
    assert params.deployment.wait_interval_seconds >= params.alarms.window_seconds
    assert (params.alarms.email, params.alarms.topic_arn, params.data_capture.enabled) == ("", "", False)


def test_burstable_instance_without_autoscaling_is_valid():
    assert validate({"instance_type": "ml.t2.medium", "autoscaling": {"enabled": False}}).primary.instance_type == "ml.t2.medium"


def test_all_problems_are_reported_at_once():
    with pytest.raises(InvalidParams) as raised:
        validate({"endpoint_name": "bad name", "instance_type": "ml.t2.medium", "model_source": "custom-s3", "colour": "red"})
    paths = [p.path for p in raised.value.problems]
    assert paths == ["(root)", "autoscaling.enabled", "custom_model_s3_uri", "endpoint_name"]
    assert "4 problems" in str(raised.value)


def test_pulumi_config_strings_are_read_as_the_schemas_types():
    config = {
        "instance_type": "ml.m5.xlarge",
        "initial_instance_count": "2",
        "enable_network_isolation": "false",
        "autoscaling": json.dumps({"max_capacity": "6", "enabled": "true", "target_invocations_per_instance": 250.5}),
        "tags": '{"team": "ml"}',
    }
    params = resolve(config_get=config.get)
    assert (params.primary.instance_type, params.primary.initial_instance_count, params.enable_network_isolation) == ("ml.m5.xlarge", 2, False)
    assert (params.primary.autoscaling.max_capacity, params.primary.autoscaling.target_invocations_per_instance) == (6, 250.5)
    assert params.tags == {"team": "ml"}


def test_unparseable_config_is_reported_not_guessed():
    with pytest.raises(InvalidParams) as raised:
        resolve(config_get={"initial_instance_count": "two"}.get)
    assert raised.value.problems[0].path == "initial_instance_count"


def test_params_file_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "params.json"
    path.write_text(json.dumps(CUSTOM))
    monkeypatch.setenv("BUNDLE_PARAMS_FILE", str(path))
    assert resolve().model_source == "custom-s3"


def test_a_params_file_and_pulumi_config_together_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "params.json"
    path.write_text("{}")
    monkeypatch.setenv("BUNDLE_PARAMS_FILE", str(path))
    with pytest.raises(BundleError, match=r"Pulumi config also sets \['instance_type'\]"):
        resolve(config_get={"instance_type": "ml.m5.large"}.get)


def test_config_keys_outside_the_schema_are_not_read():
    assert params_from_config({"aws:region": "eu-west-1", "unrelated": "x"}.get) == {}


def run_validate(path):
    return subprocess.run([sys.executable, "-m", "bundle", "validate", str(path)], cwd=REPO, capture_output=True, text=True)


def test_cli_validate_exit_codes(tmp_path):
    good, bad, broken = tmp_path / "good.json", tmp_path / "bad.json", tmp_path / "broken.json"
    good.write_text(json.dumps(CUSTOM))
    bad.write_text(json.dumps({"initial_instance_count": 9, "endpoint_name": "no_underscores"}))
    broken.write_text("{not json")
    ok = run_validate(good)
    assert ok.returncode == 0 and "valid" in ok.stdout
    rejected = run_validate(bad)
    assert rejected.returncode == 2
    assert "endpoint_name:" in rejected.stderr and "initial_instance_count:" in rejected.stderr
    unreadable = run_validate(broken)
    assert unreadable.returncode == 2 and "not valid JSON" in unreadable.stderr
    missing = run_validate(tmp_path / "absent.json")
    assert missing.returncode == 2 and "cannot read params file" in missing.stderr
    assert all("Traceback" not in r.stderr for r in (rejected, unreadable, missing))


# --- JSON's words, the nearest key, duplicate keys, one error for a wrong mode ----------


@pytest.mark.parametrize(
    "raw, path, message",
    [
        ({"autoscaling": {"enabled": None}}, "autoscaling.enabled", "must be a boolean, got null"),
        ({"autoscaling": {"min_capacity": True}}, "autoscaling.min_capacity", "must be an integer, got true"),
        ({"tags": []}, "tags", "must be an object, got [] (an array)"),
        ({"endpoint_name": True}, "endpoint_name", "(got true)"),
        ({"autoscaling": {"max_capcity": 2}}, "autoscaling", 'unknown parameter "max_capcity" (did you mean "max_capacity"?)'),
        ({"zzz": 1}, "(root)", 'unknown parameter "zzz"'),
    ],
)
def test_messages_speak_json_and_suggest_the_nearest_key(raw, path, message):
    found = problems_in(raw)
    assert any(p.path == path and message in p.message for p in found), found
    text = " ".join(p.message for p in found)
    assert not any(word in text for word in ("True", "False", "None", "'yes'", "dict", "list", "NoneType")), text


def test_a_wrong_mode_is_one_error_not_two():
    assert [str(p) for p in problems_in({"deployment_mode": "Serverless", "instance_type": "ml.m5.large"})] == [
        'deployment_mode: must be one of ["realtime", "serverless", "async"] (got "Serverless")'
    ]


def test_duplicate_keys_and_nan_in_a_params_file_are_refused(tmp_path):
    from bundle.params.sources import read_params_file

    path = tmp_path / "p.json"
    path.write_text('{"endpoint_name": "a", "autoscaling": {"max_capacity": 2, "max_capacity": 8}}')
    with pytest.raises(BundleError, match='the key "max_capacity" appears twice'):
        read_params_file(path)
    path.write_text('{"autoscaling": {"target_invocations_per_instance": NaN}}')
    with pytest.raises(BundleError, match="NaN is not a JSON number"):
        read_params_file(path)
