"""Connections and metadata: the assumed role in the plan's provider and in every boto3 session of the
bundle (against moto's STS), the network filling `vpc`, the metadata's name and tags, named errors."""
from __future__ import annotations

import json

import boto3
import pulumi
import pytest
from moto import mock_aws

from bundle.ops import aws
from bundle.ops.aws import AssumedRole
from bundle.catalog.connections import Connections
from bundle.deploy.hook_identity import IdentityMismatch, ProviderSettings
from bundle.catalog.documents import InvalidDocuments
from bundle.catalog.inputs import resolve_inputs
from bundle.params.rules import validate
from bundle.local.plan import evaluate, plan_document
from tokens import ENDPOINT, MODEL

PROVIDER = "pulumi:providers:aws"
ROLE = "arn:aws:iam::111122223333:role/catalog-deployer"
OTHER_ACCOUNT = "111122223333"
SUBNETS, GROUPS = ["subnet-0a1b2c3d4e5f60718"], ["sg-0a1b2c3d4e5f60718"]


@pytest.fixture(autouse=True)
def ambient_identity():
    """Each test starts and ends with the ambient identity (use_role is process-wide)."""
    aws.use_role(None)
    yield
    aws.use_role(None)


def write(tmp_path, name, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def connections(role=ROLE, external_id="ext-42", network=None) -> Connections:
    return Connections(AssumedRole(role, external_id), network, "test connections")


# --- the plan's provider --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def assumed():
    run = evaluate(validate({}), connections=connections())
    aws.use_role(None)
    return run


def test_the_plans_provider_assumes_the_connections_role(assumed):
    provider = assumed.one(PROVIDER)
    assert provider.name == "aws-connection"
    assert json.loads(provider.inputs["assumeRoles"]) == [
        {"roleArn": ROLE, "externalId": "ext-42", "sessionName": "sagemaker-endpoint-bundle"}
    ]
    assert provider.inputs["region"] == "us-east-1", "the stack's aws:region still applies"
    shown = next(r for r in plan_document(assumed)["resources"] if r["type"] == PROVIDER)
    assert shown["inputs"]["assumeRoles"][0]["roleArn"] == ROLE, "plan --json shows the role"


def test_every_aws_resource_and_invoke_goes_through_that_provider(assumed):
    aws_resources = [r for r in assumed.resources if r.type.startswith("aws:")]
    assert len(aws_resources) > 10
    assert {r.provider for r in aws_resources} == {"aws-connection"}
    assert {provider for _, provider in assumed.invoke_providers} == {"aws-connection"}, "region, account, image lookups too"


def test_without_connections_the_default_provider_is_used():
    run = evaluate(validate({}))
    assert not run.of_type(PROVIDER)
    assert {r.provider for r in run.resources} == {""} and {p for _, p in run.invoke_providers} == {""}


# --- every boto3 session assumes the role (moto's STS) -----------------------------------------------------


@pytest.fixture
def moto_account(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def test_clients_act_as_the_assumed_role(moto_account):
    assert ":user/" in aws.client("sts", "eu-west-1").get_caller_identity()["Arn"], "ambient identity first"
    aws.use_role(AssumedRole(ROLE, "ext-42"))
    identity = aws.client("sts", "eu-west-1").get_caller_identity()
    assert identity["Arn"] == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/catalog-deployer/sagemaker-endpoint-bundle"
    assert identity["Account"] == OTHER_ACCOUNT


def test_a_role_that_cannot_be_assumed_is_a_message(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # nothing listens: STS unreachable
    aws.use_role(AssumedRole(ROLE))
    with pytest.raises(aws.BundleError, match="cannot assume the role arn:aws:iam::111122223333:role/catalog-deployer"):
        aws.client("sagemaker", "eu-west-1")


RESOURCE_ID = "endpoint/iris-endpoint/variant/primary"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"


def registered_in(account_session) -> list[str]:
    autoscaling = account_session.client("application-autoscaling", region_name="eu-west-1")
    return [t["ResourceId"] for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]]


def test_the_update_hook_acts_in_the_roles_account(moto_account):
    """The variant is registered only in the role's account (moto keeps accounts apart): the hook finds and
    deregisters it only when its session assumed the role."""
    from bundle.deploy.rollout import scaling_hook

    creds = boto3.client("sts", region_name="eu-west-1").assume_role(RoleArn=ROLE, RoleSessionName="setup")["Credentials"]
    role_account = boto3.Session(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    role_account.client("application-autoscaling", region_name="eu-west-1").register_scalable_target(
        ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID, ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=4
    )
    args = pulumi.ResourceHookArgs(
        urn="urn:pulumi:dev::p::aws:sagemaker/endpoint:Endpoint::iris-endpoint-endpoint",
        id="iris-endpoint",
        name="iris-endpoint-endpoint",
        type="aws:sagemaker/endpoint:Endpoint",
        old_inputs={"endpointConfigName": "iris-endpoint-config-aaaaaaa"},
        new_inputs={"endpointConfigName": "iris-endpoint-config-bbbbbbb"},
        old_outputs={"name": "iris-endpoint", "arn": f"arn:aws:sagemaker:eu-west-1:{OTHER_ACCOUNT}:endpoint/iris-endpoint"},
    )
    ambient = scaling_hook("iris-endpoint", "primary", ProviderSettings())
    with pytest.raises(IdentityMismatch, match=f"in account {OTHER_ACCOUNT}"):
        ambient.callback(args)  # the ambient identity is another account: it refuses, and touches nothing
    assert registered_in(role_account) == [RESOURCE_ID]
    as_connection = scaling_hook("iris-endpoint", "primary", ProviderSettings().with_role(AssumedRole(ROLE)))
    as_connection.callback(args)
    assert registered_in(role_account) == [], "deregistered in the role's account"


def test_the_program_hands_its_role_to_the_hook():
    evaluate(validate({}), connections=connections())
    assert aws.current_role() == AssumedRole(ROLE, "ext-42"), "the hook runs in the program's process, after define_stack"
    evaluate(validate({}))
    assert aws.current_role() is None


# --- network ------------------------------------------------------------------------------------------


def test_network_connection_fills_vpc(tmp_path):
    conns = write(tmp_path, "c.json", {"aws_authentication": {"arn": ROLE}, "network": {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}})
    inputs = resolve_inputs(params_file=write(tmp_path, "p.json", {}), connections=conns)
    assert inputs.params.vpc.subnet_ids == tuple(SUBNETS) and inputs.params.document["vpc"] == {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}
    run = evaluate(inputs.params, connections=inputs.connections)
    assert run.one(MODEL).inputs["vpcConfig"] == {"subnets": SUBNETS, "securityGroupIds": GROUPS}


def test_network_and_the_same_vpc_param_agree(tmp_path):
    conns = write(tmp_path, "c.json", {"aws_authentication": {"arn": ROLE}, "network": {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}})
    same = write(tmp_path, "p.json", {"vpc": {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}})
    assert resolve_inputs(params_file=same, connections=conns).params.vpc.security_group_ids == tuple(GROUPS)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"vpc": {"subnet_ids": ["subnet-0fffffffffffffff0"], "security_group_ids": GROUPS}}, "differs from the network connection"),
        ({"deployment_mode": "serverless"}, "serverless endpoints do not run in a VPC"),
    ],
)
def test_network_conflicts_are_refused_by_name(tmp_path, params, message):
    conns = write(tmp_path, "c.json", {"aws_authentication": {"arn": ROLE}, "network": {"subnet_ids": SUBNETS, "security_group_ids": GROUPS}})
    with pytest.raises(InvalidDocuments) as caught:
        resolve_inputs(params_file=write(tmp_path, "p.json", params), connections=conns)
    (problem,) = caught.value.problems
    assert problem.path == "network" and message in problem.message and "c.json" in problem.source


# --- metadata -----------------------------------------------------------------------------------------


def test_metadata_names_the_endpoint_and_its_tags_go_under_the_users(tmp_path):
    metadata = write(tmp_path, "m.json", {"name_prefix": "ml-prod-iris-a1b2", "default_tags": {"md-target": "prod", "team": "platform"}})
    params = write(tmp_path, "p.json", {"tags": {"team": "ml"}})
    inputs = resolve_inputs(params_file=params, metadata=metadata)
    assert inputs.params.endpoint_name == "ml-prod-iris-a1b2"
    assert inputs.params.tags == {"md-target": "prod", "team": "ml"}, "the user's tag wins"
    run = evaluate(inputs.params)
    assert run.one(ENDPOINT).inputs["name"] == "ml-prod-iris-a1b2"
    assert run.one(MODEL).inputs["tags"]["md-target"] == "prod" and run.one(MODEL).inputs["tags"]["team"] == "ml"


def test_an_explicit_endpoint_name_beats_the_prefix(tmp_path):
    metadata = write(tmp_path, "m.json", {"name_prefix": "ml-prod-iris-a1b2", "extra": "ignored"})
    inputs = resolve_inputs(params_file=write(tmp_path, "p.json", {"endpoint_name": "mine"}), metadata=metadata)
    assert inputs.params.endpoint_name == "mine" and inputs.params.tags == {}


def test_environment_variables_are_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("BUNDLE_PARAMS_FILE", write(tmp_path, "p.json", {}))
    monkeypatch.setenv("BUNDLE_CONNECTIONS_FILE", write(tmp_path, "c.json", {"aws_authentication": {"arn": ROLE}}))
    monkeypatch.setenv("BUNDLE_METADATA_FILE", write(tmp_path, "m.json", {"name_prefix": "from-env"}))
    run = evaluate(None)  # as `pulumi up` reads them
    assert run.one(ENDPOINT).inputs["name"] == "from-env"
    assert json.loads(run.one(PROVIDER).inputs["assumeRoles"])[0]["roleArn"] == ROLE


# --- every problem named --------------------------------------------------------------------------------


def test_every_problem_of_the_three_documents_is_named(tmp_path):
    conns = write(
        tmp_path,
        "c.json",
        {"aws_authentication": {"arn": "arn:aws:iam::1234:user/me", "external_id": "x", "role_arn": "typo"}, "network": {"subnet_ids": ["vpc-1"]}},
    )
    metadata = write(tmp_path, "m.json", {"name_prefix": "-bad-", "default_tags": {"aws:reserved": "x"}})
    params = write(tmp_path, "p.json", {"instance_type": "ml.x1.huge"})
    with pytest.raises(InvalidDocuments) as caught:
        resolve_inputs(params_file=params, connections=conns, metadata=metadata)
    text = str(caught.value)
    for expected in (
        "connections in " + conns + ": aws_authentication: unknown key 'role_arn'",
        "aws_authentication.arn: must be an IAM role ARN",
        "aws_authentication.external_id: an STS external id is 2-1224 characters",
        "network: 'security_group_ids' is a required property",
        "network.subnet_ids.0: a subnet id is subnet- and 8-17 hex digits (got 'vpc-1')",
        "metadata in " + metadata + ": name_prefix: the name prefix becomes the endpoint's name",
        "default_tags: tag keys are 1-128 characters",
        "params in " + params + ": instance_type:",
    ):
        assert expected in text, f"{expected!r} not in\n{text}"
    assert "Traceback" not in text


def test_missing_and_malformed_files_are_problems_not_tracebacks(tmp_path):
    broken = tmp_path / "c.json"
    broken.write_text("{not json")
    with pytest.raises(InvalidDocuments) as caught:
        resolve_inputs(params_file=write(tmp_path, "p.json", {}), connections=str(broken), metadata=str(tmp_path / "absent.json"))
    paths = {(p.source.split(" in ")[0], p.path) for p in caught.value.problems}
    assert paths == {("connections", "(file)"), ("metadata", "(file)")}
    assert "is not valid JSON" in str(caught.value) and "cannot read" in str(caught.value)


def test_a_catalog_run_requires_connections(tmp_path):
    with pytest.raises(InvalidDocuments, match="needs --connections FILE"):
        resolve_inputs(params_file=write(tmp_path, "p.json", {}), require_connections=True)
