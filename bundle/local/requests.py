"""The offline plan as AWS API requests: what `pulumi up` would ask AWS for, derived from the planned resources.

Each planned resource's state (its inputs as the program set them, plus what the mocks invented: auto-names,
ARNs) becomes the create call AWS would receive. Member names come from botocore's service model of that call:
Pulumi's camelCase input names match AWS's member names but for case, and the few that do not are listed per
resource type (RENAMED). Values are shaped by the model too (tag and dimension maps become lists, numbers
that Pulumi carries as floats become integers where AWS wants integers). An input that maps to no member and
is not one of Pulumi's own settings (PULUMI_ONLY) is an error: the emulator never drops a setting silently.

The emulator (bundle/local/emulator.py) replays these requests in moto, so the deployment the guide and the
smoke test meet is the stack's own description, not a copy written by hand.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from bundle.errors import BundleError
from bundle.local.plan import AUTONAMED

# Settings of Pulumi or of the provider, not of the AWS call.
PULUMI_ONLY = {"arn", "id", "urn", "tagsAll", "forceDestroy", "namePrefix", "source", "region"}


@dataclass(frozen=True)
class Translation:
    service: str
    operation: str
    renamed: dict[str, str] = field(default_factory=dict)  # state key -> member path ("A.B" nests under A)


TRANSLATIONS: dict[str, Translation] = {
    "aws:s3/bucket:Bucket": Translation("s3", "CreateBucket", {"tags": ""}),  # tags: PutBucketTagging (below)
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": Translation(
        "s3",
        "PutPublicAccessBlock",
        {k: f"PublicAccessBlockConfiguration.{k[0].upper()}{k[1:]}" for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")},
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": Translation(
        "s3", "PutBucketEncryption", {"rules": "ServerSideEncryptionConfiguration.Rules"}
    ),
    "aws:s3/bucketVersioning:BucketVersioning": Translation("s3", "PutBucketVersioning"),
    "aws:s3/bucketPolicy:BucketPolicy": Translation("s3", "PutBucketPolicy"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": Translation(
        "s3", "PutBucketLifecycleConfiguration", {"rules": "LifecycleConfiguration.Rules"}
    ),
    "aws:s3/bucketObjectv2:BucketObjectv2": Translation("s3", "PutObject", {"tags": "Tagging"}),
    "aws:s3/objectCopy:ObjectCopy": Translation("s3", "CopyObject", {"tags": "Tagging", "source": "CopySource"}),
    "aws:iam/role:Role": Translation("iam", "CreateRole", {"name": "RoleName", "assumeRolePolicy": "AssumeRolePolicyDocument"}),
    "aws:iam/rolePolicy:RolePolicy": Translation("iam", "PutRolePolicy", {"role": "RoleName", "name": "PolicyName", "policy": "PolicyDocument"}),
    "aws:sagemaker/model:Model": Translation("sagemaker", "CreateModel", {"name": "ModelName"}),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": Translation(
        "sagemaker", "CreateEndpointConfig", {"name": "EndpointConfigName", "kmsKeyArn": "KmsKeyId"}
    ),
    "aws:sagemaker/endpoint:Endpoint": Translation("sagemaker", "CreateEndpoint", {"name": "EndpointName"}),
    "aws:appautoscaling/target:Target": Translation("application-autoscaling", "RegisterScalableTarget"),
    "aws:appautoscaling/policy:Policy": Translation("application-autoscaling", "PutScalingPolicy", {"name": "PolicyName"}),
    "aws:cloudwatch/metricAlarm:MetricAlarm": Translation(
        "cloudwatch", "PutMetricAlarm", {"name": "AlarmName", "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile"}
    ),
    "aws:cloudwatch/dashboard:Dashboard": Translation("cloudwatch", "PutDashboard"),
    "aws:sns/topic:Topic": Translation("sns", "CreateTopic"),
    "aws:sns/topicSubscription:TopicSubscription": Translation("sns", "Subscribe", {"topic": "TopicArn"}),
    # The REST front's (bundle/deploy/api.py): retention is PutRetentionPolicy's (below); the key's value is AWS's.
    "aws:cloudwatch/logGroup:LogGroup": Translation("logs", "CreateLogGroup", {"name": "logGroupName", "retentionInDays": ""}),
    "aws:apigateway/apiKey:ApiKey": Translation("apigateway", "CreateApiKey"),
    # Model quality (bundle/deploy/monitoring.py): shaped and checked like every request; moto has no monitoring
    # schedules, so the emulator does not replay these two (bundle/local/emulator.py NOT_REPLAYED).
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": Translation("sagemaker", "CreateDataQualityJobDefinition", {"name": "JobDefinitionName"}),
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": Translation("sagemaker", "CreateMonitoringSchedule", {"name": "MonitoringScheduleName"}),
}
SKIPPED_TYPES = ("pulumi:providers:",)  # providers are no AWS resources
# The REST front (bundle/deploy/api.py): what moto cannot stand in for is not replayed, and says why. Its log groups
# and API key are replayed (the guide reads them); its IAM roles and policies are, as every role is.
_REST_FRONT = (
    "API Gateway's ids are the service's own (the plan's are invented, and the API's resources refer to each other by "
    "them), and moto does not run integrations: the local endpoint serves the REST front's contract instead "
    "(bundle/local/rest.py, from bundle/api/contract.py, the table the integration responses are built from)"
)
_LAMBDA = (
    "moto runs Lambda code only in Docker, which these machines do not have: the handler itself is run with API "
    "Gateway proxy events against the local endpoint (tests/api/test_rest_front.py)"
)
NOT_EMULATED: dict[str, str] = {
    **{
        f"aws:apigateway/{kind}": _REST_FRONT
        for kind in (
            "restApi:RestApi", "resource:Resource", "method:Method", "methodResponse:MethodResponse", "integration:Integration",
            "integrationResponse:IntegrationResponse", "deployment:Deployment", "stage:Stage", "methodSettings:MethodSettings",
            "usagePlan:UsagePlan", "usagePlanKey:UsagePlanKey",
        )
    },  # fmt: skip
    "aws:lambda/function:Function": _LAMBDA,
    "aws:lambda/permission:Permission": _LAMBDA,
}


@dataclass(frozen=True)
class ApiRequest:
    resource: str  # the planned resource's logical name
    service: str
    operation: str
    params: dict

    @property
    def method(self) -> str:
        """boto3's method name: CreateEndpointConfig -> create_endpoint_config."""
        return botocore.xform_name(self.operation)


@functools.lru_cache(maxsize=None)
def _input_shape(service: str, operation: str) -> StructureShape:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape


def api_requests(resources, artifact_bytes: bytes | None = None) -> list[ApiRequest]:
    """The create calls for `resources` (the plan's PlannedResource list, in dependency order)."""
    requests: list[ApiRequest] = []
    for resource in resources:
        if resource.type.startswith(SKIPPED_TYPES) or resource.type in NOT_EMULATED:
            continue
        translation = TRANSLATIONS.get(resource.type)
        if translation is None:
            raise BundleError(f"no AWS request is known for {resource.type} ({resource.name}): add it to bundle/local/requests.py")
        # The inputs the program set, and the physical name Pulumi would generate (nothing else AWS answers).
        values = dict(resource.inputs)
        if resource.type in AUTONAMED:
            values[AUTONAMED[resource.type]] = resource.state[AUTONAMED[resource.type]]
        params = shaped(values, _input_shape(translation.service, translation.operation), translation.renamed, resource.name)
        if resource.type == "aws:s3/bucketObjectv2:BucketObjectv2":
            params["Body"] = _asset_bytes(resource.inputs.get("source"), artifact_bytes)
        requests.append(ApiRequest(resource.name, translation.service, translation.operation, params))
        if resource.type == "aws:cloudwatch/logGroup:LogGroup" and values.get("retentionInDays"):
            retention = {"logGroupName": params["logGroupName"], "retentionInDays": int(values["retentionInDays"])}
            requests.append(ApiRequest(resource.name, "logs", "PutRetentionPolicy", retention))
        if resource.type == "aws:s3/bucket:Bucket" and values.get("tags"):
            tagging = {"TagSet": [{"Key": k, "Value": v} for k, v in sorted(values["tags"].items())]}
            requests.append(ApiRequest(resource.name, "s3", "PutBucketTagging", {"Bucket": params["Bucket"], "Tagging": tagging}))
    return requests


def shaped(state: dict, shape: StructureShape, renamed: dict[str, str], where: str) -> dict:
    """The state as the operation's input: member names and value shapes from botocore's model."""
    request: dict = {}
    members = {name.lower(): name for name in shape.members}
    for key, value in state.items():
        if (key in PULUMI_ONLY and key not in renamed) or value is None:
            continue
        target = renamed.get(key, members.get(key.lower()))
        if target == "":  # sent by another call
            continue
        if target is None:
            raise BundleError(f"{where}: input {key!r} has no member in {shape.name}: map it in bundle/local/requests.py")
        head, _, rest = target.partition(".")
        if rest:  # nested under a member the Pulumi resource flattens
            inner = shape.members[head]
            request[head] = {**request.get(head, {}), **shaped({_lower_first(rest): value}, inner, {_lower_first(rest): rest}, where)}
            continue
        request[head] = _value(value, shape.members[head], f"{where}.{key}")
    return request


def _value(value: Any, shape: Shape, where: str) -> Any:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            raise BundleError(f"{where}: expected an object for {shape.name}")
        return shaped(value, shape, {}, where)
    if isinstance(shape, ListShape):
        if isinstance(value, dict) and not _is_pair(shape.member):  # a one-item block Pulumi flattens (MonitoringOutputs)
            return [_value(value, shape.member, where)]
        if isinstance(value, dict):  # tags and dimensions: Pulumi's maps are AWS's lists of pairs
            key, val = _pair_names(shape.member)
            return [{key: k, val: v} for k, v in sorted(value.items())]
        return [_value(item, shape.member, where) for item in value]
    if isinstance(shape, MapShape):
        return {k: _value(v, shape.value, where) for k, v in value.items()}
    if shape.type_name in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    if shape.type_name == "double" and isinstance(value, int):
        return float(value)
    if shape.type_name == "double" and isinstance(value, str):  # the provider carries step bounds as strings ("0")
        return float(value)
    if shape.type_name == "string" and isinstance(value, dict) and shape.name == "TaggingHeader":
        return urlencode(sorted(value.items()))
    if shape.type_name == "string" and isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _asset_bytes(source, fallback: bytes | None) -> bytes:
    """What the object's asset holds: the file Pulumi would upload (a FileAsset's path), else the given bytes."""
    path = getattr(source, "path", None)
    if path:
        with open(path, "rb") as f:
            return f.read()
    return fallback if fallback is not None else b""


def _is_pair(shape: Shape) -> bool:
    names = list(getattr(shape, "members", {}))
    return any(all(n in names for n in pair) for pair in (("Key", "Value"), ("Name", "Value")))


def _pair_names(shape: Shape) -> tuple[str, str]:
    names = list(shape.members)
    for pair in (("Key", "Value"), ("Name", "Value")):
        if all(n in names for n in pair):
            return pair
    raise BundleError(f"{shape.name} is not a key/value pair")


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]
