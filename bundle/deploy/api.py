"""The optional REST front (`api.enabled`): an API Gateway REST API with one method, POST /invocations.

  integration direct   API Gateway's AWS service integration to the SageMaker runtime
                       (arn:<partition>:apigateway:<region>:runtime.sagemaker:path/endpoints/<name>/invocations),
                       as a role trusted by apigateway.amazonaws.com that may only sagemaker:InvokeEndpoint this
                       endpoint. Integration responses from bundle/api/contract.py: without them every error would
                       come back as 200.
  integration lambda   an AWS_PROXY integration to the bundle's Lambda (bundle/api/lambda_handler.py, packaged
                       deterministically by bundle/api/package.py), whose role may only invoke this endpoint and
                       write its own log group.
  auth iam             the method needs SigV4 (AWS_IAM): callers need execute-api:Invoke on it (`invoke_policy`).
  auth api_key         the method needs an API key; a usage plan meters it, throttles it and applies the daily quota.

The stage logs each request (JSON access logs) to its own log group and is throttled by method settings. The
Deployment's `triggers` hold the sha256 of the API's definition: Pulumi redeploys the stage whenever the
method, integration or responses change (it does not otherwise).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.api import contract
from bundle.api.lambda_handler import HANDLER
from bundle.api.package import build_package
from bundle.names import logical_name
from bundle.params.model import Api

APIGATEWAY_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
LAMBDA_RUNTIME = "python3.12"
LAMBDA_TIMEOUT = 28  # seconds: under API Gateway's 29 s integration timeout
INTEGRATION_TIMEOUT_MS = 29_000
LOG_RETENTION_DAYS = 30
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "apiKeyId": "$context.identity.apiKeyId",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "integrationStatus": "$context.integration.status",
        "integrationLatency": "$context.integration.latency",
        "responseLength": "$context.responseLength",
        "error": "$context.error.message",
    },
    sort_keys=True,
)


def runtime_uri(partition: str, region: str, endpoint_name: str) -> str:
    return f"arn:{partition}:apigateway:{region}:runtime.sagemaker:path/endpoints/{endpoint_name}/invocations"


def invoke_endpoint_policy(endpoint_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "InvokeThisEndpoint", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint_arn}],
    }


def execute_api_policy(method_arn: str) -> dict:
    """What a caller of an `auth: iam` API needs: execute-api:Invoke on this one method."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "InvokeTheApi", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": method_arn}],
    }


def definition(settings: Api, endpoint_name: str) -> dict:
    """What the stage serves, as data: its hash is the Deployment's trigger."""
    return {
        "path": contract.REST_PATH,
        "endpoint_name": endpoint_name,
        "integration": settings.integration,
        "auth": settings.auth,
        "passed_headers": list(contract.PASSED_HEADERS),
        "responses": [[r.pattern, r.status, r.from_model] for r in contract.INTEGRATION_RESPONSES],
        "model_error_template": contract.MODEL_ERROR_TEMPLATE,
        "lambda_package": build_package().sha256 if settings.integration == "lambda" else None,
    }


def definition_hash(settings: Api, endpoint_name: str) -> str:
    return hashlib.sha256(json.dumps(definition(settings, endpoint_name), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class RestFront:
    rest_api: aws.apigateway.RestApi
    stage: aws.apigateway.Stage
    url: pulumi.Output[str]  # the stage's invoke URL; POST {url}/invocations
    method_arn: pulumi.Output[str]
    api_key: aws.apigateway.ApiKey | None
    access_log_group: aws.cloudwatch.LogGroup
    function: aws.lambda_.Function | None
    definition_hash: str

    def outputs(self, settings: Api) -> dict:
        return {
            "integration": settings.integration,
            "auth": settings.auth,
            "url": self.url,
            "invocations_url": self.url.apply(lambda u: u + "/" + contract.RESOURCE),
            "rest_api_id": self.rest_api.id,
            "stage": contract.STAGE,
            "method_arn": self.method_arn,
            "api_key_id": self.api_key.id if self.api_key else None,  # the key's id, never its value
            "access_log_group": self.access_log_group.name,
            "function_name": self.function.name if self.function else None,
            "throttle": {"rate_limit": settings.throttle.rate_limit, "burst_limit": settings.throttle.burst_limit},
            "quota_per_day": settings.quota_per_day or None,
            "definition_sha256": self.definition_hash,
            "invoke_policy": self.method_arn.apply(execute_api_policy) if settings.auth == "iam" else None,
        }


def create_rest_front(
    settings: Api,
    endpoint_name: str,
    endpoint_arn: pulumi.Output[str],
    environment,  # bundle.deploy.component.AwsEnvironment
    tags: dict,
    parent: pulumi.Resource,
) -> RestFront:
    child = pulumi.ResourceOptions(parent=parent)
    name = logical_name(endpoint_name, "api", limit=64)
    rest_api = aws.apigateway.RestApi(
        name,
        name=name,
        description=f"REST front of SageMaker endpoint {endpoint_name}: POST /{contract.STAGE}/{contract.RESOURCE}",
        endpoint_configuration={"types": "REGIONAL"},
        tags=tags,
        opts=child,
    )
    resource = aws.apigateway.Resource(
        logical_name(endpoint_name, "api-invocations"), rest_api=rest_api.id, parent_id=rest_api.root_resource_id, path_part=contract.RESOURCE, opts=child
    )
    method = aws.apigateway.Method(
        logical_name(endpoint_name, "api-post"),
        rest_api=rest_api.id,
        resource_id=resource.id,
        http_method="POST",
        authorization="AWS_IAM" if settings.auth == "iam" else "NONE",
        api_key_required=settings.auth == "api_key",
        request_parameters={f"method.request.header.{h}": False for h in contract.PASSED_HEADERS},
        opts=child,
    )
    function = None
    if settings.integration == "direct":
        integration, responses = _direct_integration(endpoint_name, endpoint_arn, rest_api, resource, method, environment, tags, child)
    else:
        function, integration = _lambda_integration(endpoint_name, endpoint_arn, rest_api, resource, method, environment, tags, child)
        responses = []
    digest = definition_hash(settings, endpoint_name)
    deployment = aws.apigateway.Deployment(
        logical_name(endpoint_name, "api-deployment"),
        rest_api=rest_api.id,
        description=f"definition sha256 {digest}",
        triggers={"definition_sha256": digest},
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[method, integration, *responses]),
    )
    access_log_group = aws.cloudwatch.LogGroup(
        logical_name(endpoint_name, "api-access-log"),
        name=f"/aws/apigateway/{name}/access",
        retention_in_days=LOG_RETENTION_DAYS,
        tags=tags,
        opts=child,
    )
    stage = aws.apigateway.Stage(
        logical_name(endpoint_name, "api-stage"),
        rest_api=rest_api.id,
        deployment=deployment.id,
        stage_name=contract.STAGE,
        access_log_settings={"destination_arn": access_log_group.arn, "format": ACCESS_LOG_FORMAT},
        tags=tags,
        opts=child,
    )
    aws.apigateway.MethodSettings(
        logical_name(endpoint_name, "api-throttle"),
        rest_api=rest_api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": settings.throttle.rate_limit,
            "throttling_burst_limit": settings.throttle.burst_limit,
            "metrics_enabled": True,
        },
        opts=child,
    )
    api_key = _api_key(settings, endpoint_name, rest_api, stage, tags, child) if settings.auth == "api_key" else None
    execution_arn = pulumi.Output.all(environment.partition, environment.region, environment.account, rest_api.id).apply(
        lambda v: f"arn:{v[0]}:execute-api:{v[1]}:{v[2]}:{v[3]}"
    )
    method_arn = execution_arn.apply(lambda arn: f"{arn}/{contract.STAGE}/POST/{contract.RESOURCE}")
    if function is not None:
        aws.lambda_.Permission(
            logical_name(endpoint_name, "api-invokes-lambda"),
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            source_arn=execution_arn.apply(lambda arn: f"{arn}/*/POST/{contract.RESOURCE}"),
            opts=child,
        )
    dns_suffix = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=parent)).dns_suffix
    url = pulumi.Output.all(rest_api.id, environment.region, dns_suffix).apply(
        lambda v: f"https://{v[0]}.execute-api.{v[1]}.{v[2]}/{contract.STAGE}"
    )
    return RestFront(rest_api, stage, url, method_arn, api_key, access_log_group, function, digest)


def _direct_integration(endpoint_name, endpoint_arn, rest_api, resource, method, environment, tags, child):
    role = aws.iam.Role(
        logical_name(endpoint_name, "api-role", limit=64),
        assume_role_policy=json.dumps(APIGATEWAY_TRUST),
        description=f"API Gateway calls SageMaker endpoint {endpoint_name}",
        tags=tags,
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        logical_name(endpoint_name, "api-invoke", limit=128),
        role=role.id,
        policy=endpoint_arn.apply(lambda arn: json.dumps(invoke_endpoint_policy(arn), sort_keys=True)),
        opts=child,
    )
    integration = aws.apigateway.Integration(
        logical_name(endpoint_name, "api-integration"),
        rest_api=rest_api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="AWS",
        integration_http_method="POST",
        uri=pulumi.Output.all(environment.partition, environment.region).apply(lambda v: runtime_uri(v[0], v[1], endpoint_name)),
        credentials=role.arn,
        request_parameters={f"integration.request.header.{h}": f"method.request.header.{h}" for h in contract.PASSED_HEADERS},
        passthrough_behavior="WHEN_NO_MATCH",
        timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
        opts=pulumi.ResourceOptions(parent=child.parent, depends_on=[policy]),
    )
    method_responses = {
        status: aws.apigateway.MethodResponse(
            logical_name(endpoint_name, f"api-method-{status}"),
            rest_api=rest_api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=str(status),
            response_parameters=(
                {f"method.response.header.{contract.VARIANT_HEADER}": False, "method.response.header.Content-Type": False} if status == 200 else None
            ),
            opts=child,
        )
        for status in contract.METHOD_STATUSES
    }
    responses = []
    for row in contract.INTEGRATION_RESPONSES:
        responses.append(
            aws.apigateway.IntegrationResponse(
                logical_name(endpoint_name, f"api-response-{row.status}"),
                rest_api=rest_api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=str(row.status),
                selection_pattern=row.pattern or None,
                response_parameters=(
                    {
                        f"method.response.header.{contract.VARIANT_HEADER}": f"integration.response.header.{contract.VARIANT_HEADER}",
                        "method.response.header.Content-Type": "integration.response.header.Content-Type",
                    }
                    if row.status == 200
                    else None
                ),
                response_templates={"application/json": contract.MODEL_ERROR_TEMPLATE} if row.from_model else None,
                opts=pulumi.ResourceOptions(parent=child.parent, depends_on=[integration, method_responses[row.status]]),
            )
        )
    return integration, responses


def _lambda_integration(endpoint_name, endpoint_arn, rest_api, resource, method, environment, tags, child):
    package = build_package()
    function_name = logical_name(endpoint_name, "api", limit=64 + 8)  # a fixed name (no suffix): its log group is known
    log_group = aws.cloudwatch.LogGroup(
        logical_name(endpoint_name, "api-lambda-log"), name=f"/aws/lambda/{function_name}", retention_in_days=LOG_RETENTION_DAYS, tags=tags, opts=child
    )
    role = aws.iam.Role(
        logical_name(endpoint_name, "api-lambda-role", limit=64),
        assume_role_policy=json.dumps(LAMBDA_TRUST),
        description=f"The REST front's Lambda of SageMaker endpoint {endpoint_name}",
        tags=tags,
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        logical_name(endpoint_name, "api-lambda-policy", limit=128),
        role=role.id,
        policy=pulumi.Output.all(endpoint_arn, log_group.arn).apply(lambda v: json.dumps(lambda_policy(v[0], v[1]), sort_keys=True)),
        opts=child,
    )
    function = aws.lambda_.Function(
        logical_name(endpoint_name, "api-lambda"),
        name=function_name,
        role=role.arn,
        runtime=LAMBDA_RUNTIME,
        handler=HANDLER,
        code=pulumi.FileArchive(str(package.path)),
        source_code_hash=package.source_code_hash,
        timeout=LAMBDA_TIMEOUT,
        memory_size=256,
        environment={"variables": {"ENDPOINT_NAME": endpoint_name, "READ_TIMEOUT": "25", "NOT_READY_ATTEMPTS": "3"}},
        tags=tags,
        opts=pulumi.ResourceOptions(parent=child.parent, depends_on=[policy, log_group]),
    )
    integration = aws.apigateway.Integration(
        logical_name(endpoint_name, "api-integration"),
        rest_api=rest_api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="AWS_PROXY",
        integration_http_method="POST",
        uri=function.invoke_arn,
        timeout_milliseconds=INTEGRATION_TIMEOUT_MS,
        opts=child,
    )
    return function, integration


def lambda_policy(endpoint_arn: str, log_group_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "InvokeThisEndpoint", "Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": endpoint_arn},
            {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"{log_group_arn}:*"},
        ],
    }


def _api_key(settings: Api, endpoint_name, rest_api, stage, tags, child):
    key = aws.apigateway.ApiKey(logical_name(endpoint_name, "api-key"), name=logical_name(endpoint_name, "api-key"), enabled=True, tags=tags, opts=child)
    plan = aws.apigateway.UsagePlan(
        logical_name(endpoint_name, "api-usage-plan"),
        name=logical_name(endpoint_name, "api-usage-plan"),
        api_stages=[{"api_id": rest_api.id, "stage": stage.stage_name}],
        throttle_settings={"rate_limit": settings.throttle.rate_limit, "burst_limit": settings.throttle.burst_limit},
        quota_settings={"limit": settings.quota_per_day, "period": "DAY"} if settings.quota_per_day else None,
        tags=tags,
        opts=child,
    )
    aws.apigateway.UsagePlanKey(logical_name(endpoint_name, "api-usage-plan-key"), key_id=key.id, key_type="API_KEY", usage_plan_id=plan.id, opts=child)
    return key
