"""The REST front's resources (bundle/deploy/api.py), evaluated with the mock runtime (preview=False)."""
from __future__ import annotations

import json
import re
import zipfile

import pytest

from bundle.api import contract
from bundle.api.package import FIXED_TIME, SOURCES, build_package, package_bytes
from bundle.deploy.api import definition_hash
from bundle.local.plan import evaluate, plan_document
from bundle.params.model import InvalidParams
from bundle.params.rules import validate

REST_API = "aws:apigateway/restApi:RestApi"
METHOD = "aws:apigateway/method:Method"
INTEGRATION = "aws:apigateway/integration:Integration"
RESPONSE = "aws:apigateway/integrationResponse:IntegrationResponse"
DEPLOYMENT = "aws:apigateway/deployment:Deployment"
STAGE = "aws:apigateway/stage:Stage"
SETTINGS = "aws:apigateway/methodSettings:MethodSettings"
API_KEY = "aws:apigateway/apiKey:ApiKey"
USAGE_PLAN = "aws:apigateway/usagePlan:UsagePlan"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def plan(**api):
    return evaluate(validate({"api": {"enabled": True, **api}}))


@pytest.fixture(scope="module")
def direct():
    return plan()


@pytest.fixture(scope="module")
def keyed_lambda():
    return plan(integration="lambda", auth="api_key", quota_per_day=5000, throttle={"rate_limit": 20, "burst_limit": 40})


def policies_of(evaluation, trusted: str) -> list[dict]:
    """The inline policies of the role that `trusted` (a service principal) may assume."""
    roles = [r for r in evaluation.of_type(ROLE) if trusted in r.inputs["assumeRolePolicy"]]
    assert len(roles) == 1
    role_name = roles[0].name
    return [json.loads(p.inputs["policy"]) for p in evaluation.of_type(ROLE_POLICY) if role_name in p.depends_on]


def test_off_by_default_and_an_explicit_off_creates_nothing():
    for raw in ({}, {"api": {"enabled": False, "integration": "lambda"}}):
        evaluation = evaluate(validate(raw))
        assert not [r for r in evaluation.resources if r.type.startswith(("aws:apigateway/", "aws:lambda/"))]
        assert "api" not in evaluation.outputs and "api_url" not in evaluation.outputs["endpoint"]
    assert "api" not in validate({}).document, "a deployment without the API keeps its params document as before"


def test_direct_integration_calls_this_endpoint_as_a_role_scoped_to_it(direct):
    integration = direct.one(INTEGRATION).inputs
    assert integration["type"] == "AWS" and integration["integrationHttpMethod"] == "POST"
    assert integration["uri"] == "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/iris-endpoint/invocations"
    endpoint_arn = direct.outputs["endpoint"]["endpoint_arn"]
    (policy,) = policies_of(direct, "apigateway.amazonaws.com")
    assert policy["Statement"] == [
        {"Sid": "InvokeThisEndpoint", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint_arn}
    ]
    role = next(r for r in direct.of_type(ROLE) if "apigateway.amazonaws.com" in r.inputs["assumeRolePolicy"])
    assert integration["credentials"].endswith("/" + role.inputs.get("name", role.name)) or role.name in integration["credentials"]
    for header in ("X-Amzn-SageMaker-Target-Model", "X-Amzn-SageMaker-Target-Variant", "Content-Type", "Accept"):
        assert integration["requestParameters"][f"integration.request.header.{header}"] == f"method.request.header.{header}"


def test_every_error_has_an_integration_response_so_none_comes_back_as_200(direct):
    responses = {r.inputs["statusCode"]: r.inputs for r in direct.of_type(RESPONSE)}
    patterns = {code: inputs.get("selectionPattern") for code, inputs in responses.items()}
    assert patterns == {"200": None, "424": "424", "429": "429", "400": "400", "413": "413", "500": r"4(?!00|13|24|29)\d{2}", "502": r"5\d{2}"}
    assert responses["424"]["responseTemplates"]["application/json"] == contract.MODEL_ERROR_TEMPLATE
    assert "$context.responseOverride.status" in contract.MODEL_ERROR_TEMPLATE
    # Every status SageMaker can answer with an error is caught by exactly one pattern other than the default.
    for status in range(400, 600):
        assert contract.select(status).status != 200, status
    assert responses["200"]["responseParameters"][f"method.response.header.{contract.VARIANT_HEADER}"] == (
        f"integration.response.header.{contract.VARIANT_HEADER}"
    )


def test_iam_auth_stage_logging_throttling_and_redeploy_trigger(direct):
    assert direct.one(METHOD).inputs["authorization"] == "AWS_IAM" and not direct.one(METHOD).inputs.get("apiKeyRequired")
    stage, log = direct.one(STAGE).inputs, direct.one(LOG_GROUP).inputs
    assert stage["stageName"] == contract.STAGE
    assert stage["accessLogSettings"]["destinationArn"].endswith(log["name"]) and '"status"' in stage["accessLogSettings"]["format"]
    settings = direct.one(SETTINGS).inputs
    assert (settings["methodPath"], settings["settings"]["throttlingRateLimit"], settings["settings"]["throttlingBurstLimit"]) == ("*/*", 50, 100)
    deployment = direct.one(DEPLOYMENT)
    assert deployment.inputs["triggers"] == {"definition_sha256": definition_hash(validate({"api": {"enabled": True}}).api, "iris-endpoint")}
    assert {direct.one(METHOD).name, direct.one(INTEGRATION).name} <= deployment.depends_on
    assert {r.name for r in direct.of_type(RESPONSE)} <= deployment.depends_on
    assert direct.one(STAGE).depends_on >= {deployment.name}
    api = direct.outputs["api"]
    assert api["invoke_policy"]["Statement"][0]["Action"] == "execute-api:Invoke"
    assert api["invoke_policy"]["Statement"][0]["Resource"] == api["method_arn"]
    assert api["method_arn"].endswith("/v1/POST/invocations") and api["api_key_id"] is None
    assert direct.outputs["endpoint"]["api_url"] == api["invocations_url"] == api["url"] + "/invocations"


def test_the_trigger_changes_with_the_definition_only():
    iam = validate({"api": {"enabled": True}}).api
    keyed = validate({"api": {"enabled": True, "auth": "api_key"}}).api
    throttled = validate({"api": {"enabled": True, "throttle": {"rate_limit": 5}}}).api
    assert definition_hash(iam, "a") != definition_hash(keyed, "a") != definition_hash(iam, "b")
    assert definition_hash(iam, "a") == definition_hash(throttled, "a"), "throttling is a stage setting, no redeploy"


def test_api_key_usage_plan_quota_and_the_key_id_never_its_value(keyed_lambda):
    assert keyed_lambda.one(METHOD).inputs["apiKeyRequired"] is True and keyed_lambda.one(METHOD).inputs["authorization"] == "NONE"
    usage = keyed_lambda.one(USAGE_PLAN).inputs
    assert usage["throttleSettings"] == {"rateLimit": 20, "burstLimit": 40}
    assert usage["quotaSettings"] == {"limit": 5000, "period": "DAY"}
    assert "value" not in keyed_lambda.one(API_KEY).inputs
    api = keyed_lambda.outputs["api"]
    assert api["api_key_id"] and api["invoke_policy"] is None
    assert "value" not in json.dumps(api).lower().replace("throttle", "")


def test_lambda_integration_is_a_proxy_to_the_bundles_handler_scoped_to_the_endpoint(keyed_lambda):
    integration = keyed_lambda.one(INTEGRATION).inputs
    function = keyed_lambda.one(FUNCTION).inputs
    assert integration["type"] == "AWS_PROXY" and "lambda:path" in integration["uri"]
    assert function["handler"] == "bundle.api.lambda_handler.handler" and function["environment"]["variables"]["ENDPOINT_NAME"] == "iris-endpoint"
    package = build_package()
    assert function["code"].path == str(package.path) and function["sourceCodeHash"] == package.source_code_hash
    (policy,) = policies_of(keyed_lambda, "lambda.amazonaws.com")
    actions = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"]}
    assert actions["InvokeThisEndpoint"] == ("sagemaker:InvokeEndpoint", keyed_lambda.outputs["endpoint"]["endpoint_arn"])
    assert actions["WriteOwnLogs"][1].startswith("arn:") and set(actions) == {"InvokeThisEndpoint", "WriteOwnLogs"}
    assert keyed_lambda.one(PERMISSION).inputs["sourceArn"].endswith("/*/POST/invocations")
    assert not keyed_lambda.of_type(RESPONSE), "a proxy integration answers with the Lambda's own status"


def test_lambda_package_is_deterministic_and_holds_only_the_handler_and_the_client():
    first, second = package_bytes(), package_bytes()
    assert first == second
    with zipfile.ZipFile(build_package().path) as archive:
        assert sorted(archive.namelist()) == sorted(SOURCES)
        assert {info.date_time for info in archive.infolist()} == {FIXED_TIME}
        client = archive.read("bundle/ops/client.py").decode()
    imports = set(re.findall(r"^(?:from|import) ([\w.]+)", client, re.M))
    assert imports <= {"__future__", "json", "random", "time", "dataclasses", "typing", "boto3", "botocore.config", "botocore.exceptions", "botocore.retries.standard"}


def test_the_plan_prints_for_every_integration_and_auth():
    for integration in ("direct", "lambda"):
        for auth in ("iam", "api_key"):
            document = plan_document(plan(integration=integration, auth=auth))
            json.dumps(document)  # serialisable: `plan --json`
            assert any(r["type"] == REST_API for r in document["resources"])


def test_a_quota_needs_an_api_key():
    with pytest.raises(InvalidParams, match=r"api.quota_per_day: a daily quota \(10\) is counted per API key"):
        validate({"api": {"enabled": True, "quota_per_day": 10}})
    with pytest.raises(InvalidParams, match=r'api.integration: must be one of \["direct", "lambda"\]'):
        validate({"api": {"enabled": True, "integration": "http"}})
