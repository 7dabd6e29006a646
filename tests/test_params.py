"""params.schema.json and bundle/params.py: defaults, every rule with its field named, and the sources."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bundle.errors import BundleError
from bundle.params import InvalidParams, load_schema, params_from_config, problems_in, resolve, validate
from conftest import REPO

CUSTOM = {"model_source": "custom-s3", "custom_model_s3_uri": "s3://my-models/iris/v2/model.tar.gz"}


def test_every_property_has_a_title_a_description_and_a_default():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            yield f"{path}{key}", sub
            yield from walk(sub, f"{path}{key}.")

    for path, sub in walk(load_schema(), ""):
        assert sub.get("title") and sub.get("description") and "default" in sub, path


def test_instance_types_are_a_labelled_one_of():
    choices = load_schema()["properties"]["instance_type"]["oneOf"]
    assert len(choices) >= 5
    assert all(set(c) == {"const", "title"} and c["const"] in c["title"] for c in choices)


def test_defaults_come_from_the_schema():
    params = validate({})
    assert (params.endpoint_name, params.variant_name, params.model_source) == ("iris-endpoint", "primary", "poc-sklearn")
    assert params.enable_network_isolation is True
    assert params.autoscaling.enabled and params.autoscaling.min_capacity <= params.initial_instance_count <= params.autoscaling.max_capacity
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
        ({"instance_type": "ml.p9.huge"}, "instance_type", "must be one of"),
        ({"model_source": "huggingface"}, "model_source", "must be one of ['poc-sklearn', 'custom-s3']"),
        ({"kms_key_arn": "alias/mine"}, "kms_key_arn", "KMS key ARN"),
        ({"vpc": {"subnet_ids": ["subnet-0123abcd"]}}, "vpc.security_group_ids", "both subnet_ids and security_group_ids"),
        ({"vpc": {"subnet_ids": ["subnet-0123abcd"], "security_group_ids": ["default"]}}, "vpc.security_group_ids.0", "does not match"),
        ({"tags": {"aws:owner": "me"}}, "tags", "must not start with 'aws:'"),
        ({"autoscaling": {"enabled": "yes"}}, "autoscaling.enabled", "is not of type 'boolean'"),
        ({"autoscaling": {"target_invocations_per_instance": 0}}, "autoscaling.target_invocations_per_instance", "less than or equal to the minimum"),
        ({"instance_count": 2}, "(root)", "unknown parameter 'instance_count'"),
    ],
)
def test_each_rule_names_the_field_and_the_rule(raw, path, words):
    found = problems_in(raw)
    assert any(p.path == path and words in p.message for p in found), found


def test_burstable_instance_without_autoscaling_is_valid():
    assert validate({"instance_type": "ml.t2.medium", "autoscaling": {"enabled": False}}).instance_type == "ml.t2.medium"


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
    assert (params.instance_type, params.initial_instance_count, params.enable_network_isolation) == ("ml.m5.xlarge", 2, False)
    assert (params.autoscaling.max_capacity, params.autoscaling.target_invocations_per_instance) == (6, 250.5)
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
