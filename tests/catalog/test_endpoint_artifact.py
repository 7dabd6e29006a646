"""The `endpoint` artifact against its schema (schemas/artifacts/endpoint.schema.json): every scenario the
tests plan validates, a document missing a field is refused by name, and the guide reads the same document."""
from __future__ import annotations

import copy
import re

import pytest

from bundle.ops.aws import AssumedRole
from bundle.catalog.connections import Connections
from bundle.catalog.documents import InvalidDocuments, load_schema
from bundle.catalog.endpoint_artifact import SCHEMA, artifact_problems, check_artifact, endpoint_document
from bundle.guide.render import TEMPLATE_PATH, guide_context
from bundle.params.rules import validate
from bundle.local.plan import evaluate

SUBNETS, GROUPS = ["subnet-0a1b2c3d4e5f60718"], ["sg-0a1b2c3d4e5f60718"]
KMS = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The scenarios the other test modules plan (test_program, test_rollout, test_capture, test_observability, test_guide).
SCENARIOS = {
    "defaults": {},
    "custom-model": {"model_source": "custom-s3", "custom_model_s3_uri": "s3://my-models/iris/v2/model.tar.gz", "endpoint_name": "custom-ep"},
    "serverless": {"deployment_mode": "serverless", "serverless": {"memory_size_mb": 3072, "max_concurrency": 8, "provisioned_concurrency": 2}},
    "autoscaling-off": {"autoscaling": {"enabled": False}, "initial_instance_count": 7},
    "canary": {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "deployment": {"strategy": "CANARY"}},
    "linear": {"initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "deployment": {"strategy": "LINEAR", "linear_step_percent": 50}},
    "vpc-kms-capture": {"vpc": {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}, "kms_key_arn": KMS, "data_capture": {"enabled": True}},
    "alarm-email": {"alarms": {"email": "ops@example.com"}},
    "long-name": {"endpoint_name": "E" * 63},
}
REGIONS = {"serverless": "eu-west-1"}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_scenarios_endpoint_output_validates(scenario):
    run = evaluate(validate(SCENARIOS[scenario]), region=REGIONS.get(scenario, "us-east-1"))
    artifact = run.outputs["endpoint"]
    assert artifact_problems(artifact) == []
    assert artifact["invoke_policy"]["Statement"] == [
        {"Sid": "InvokeEndpoint", "Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Resource": [artifact["endpoint_arn"]]}
    ]
    assert artifact["region"] == REGIONS.get(scenario, "us-east-1") and "api_url" not in artifact


def test_with_an_assumed_role_too():
    role = Connections(AssumedRole("arn:aws:iam::111122223333:role/deployer"), None, "test")
    assert artifact_problems(evaluate(validate({}), connections=role).outputs["endpoint"]) == []


@pytest.fixture(scope="module")
def good():
    return evaluate(validate({})).outputs["endpoint"]


@pytest.mark.parametrize("field", ["endpoint_name", "endpoint_arn", "region", "model_name", "invoke_policy"])
def test_a_document_missing_a_field_is_refused_naming_it(good, field):
    broken = {k: v for k, v in good.items() if k != field}
    problems = artifact_problems(broken)
    assert [(p.path, p.message) for p in problems] == [("(root)", f"'{field}' is a required property")]
    with pytest.raises(InvalidDocuments, match=f"'{field}' is a required property"):
        check_artifact(broken)


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda d: d.update(endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:model/x"), "endpoint_arn"),
        (lambda d: d.update(region="Mars"), "region"),
        (lambda d: d["invoke_policy"]["Statement"][0].update(Action=["sagemaker:*"]), "invoke_policy.Statement.0.Action.0"),
        (lambda d: d["invoke_policy"]["Statement"][0].update(Effect="Deny"), "invoke_policy.Statement.0.Effect"),
        (lambda d: d.update(api_url="http://insecure.example.com"), "api_url"),
        (lambda d: d.update(extra=1), "(root)"),
    ],
)
def test_wrong_values_are_refused_naming_the_field(good, change, where):
    broken = copy.deepcopy(good)
    change(broken)
    assert [p.path for p in artifact_problems(broken)] == [where]


def test_an_api_url_is_optional_and_carried(good):
    document = endpoint_document(good["endpoint_name"], good["endpoint_arn"], good["region"], good["model_name"], "https://abc.execute-api.us-east-1.amazonaws.com/prod")
    assert document["api_url"].startswith("https://") and artifact_problems(document) == []


def test_the_program_refuses_to_export_an_invalid_artifact(monkeypatch):
    import bundle.catalog.endpoint_artifact as module

    monkeypatch.setattr(module, "invoke_policy", lambda arn: {"Version": "2012-10-17", "Statement": []})
    with pytest.raises(Exception, match=r"invoke_policy\.Statement: \[\] should be non-empty"):
        evaluate(validate({}))


def test_the_guides_artifacts_endpoint_is_the_artifact_document(good):
    outputs = evaluate(validate({})).outputs
    context = guide_context(validate({}), outputs)
    assert context["artifacts"]["endpoint"] is outputs["endpoint"]
    used = set(re.findall(r"\{\{[#^/]?artifacts\.endpoint\.(\w+)", TEMPLATE_PATH.read_text()))
    assert used and used <= set(load_schema(SCHEMA)["properties"]), "the guide reads only fields the schema specifies"
