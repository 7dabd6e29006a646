"""The offline plan: the real program evaluated under Pulumi's in-process mock runtime.

No Pulumi CLI, no credentials, no network. The mocks stand in for AWS: they echo each resource's
inputs and invent what only AWS (or the provider) would know — ARNs, auto-generated names, the
account id, the prebuilt image's registry. Those invented values are deterministic (so two runs are
identical and tests can follow links between resources) and the printed plan shows them as
`(known after apply)`. `preview=False`, so every `apply` runs and every output resolves.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pulumi
import pulumi.runtime
from google.protobuf import json_format
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from bundle.params.model import Params

if TYPE_CHECKING:
    from bundle.catalog.connections import Connections

PROJECT = "sagemaker-endpoint-bundle"
STACK = "plan"
ACCOUNT = "123456789012"
ECR_REGISTRY = "000000000000"  # the provider resolves the real one per region from its own table
KNOWN_AFTER_APPLY = "(known after apply)"
SECRET = "[secret]"  # what `pulumi stack output` prints for a secret
# Resources whose physical name Pulumi generates from the logical name (and the input that holds it).
AUTONAMED = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:iam/role:Role": "name",
    "aws:iam/rolePolicy:RolePolicy": "name",
    "aws:sagemaker/model:Model": "name",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": "name",
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": "name",
}


@dataclass(frozen=True)
class PlannedResource:
    type: str
    name: str
    inputs: dict
    parent: str  # logical name of the parent ("" for the stack)
    depends_on: frozenset[str]  # logical names of every resource this one waits for (inputs and depends_on)
    # Resource options the engine acts on during updates (only those set): deleteBeforeReplace,
    # replaceOnChanges, replacementTrigger, deletedWith (a logical name), hooks ({"beforeUpdate": [names]}),
    # retainOnDelete, aliases (the former names a resource answers to).
    options: dict = field(default_factory=dict)
    provider: str = ""  # logical name of an explicit provider ("" for the default provider)
    # What the mocks answered: the inputs plus what AWS would know (auto-names, ARNs). The emulator creates the
    # resource in moto from this (bundle/local/requests.py), so the guide and the smoke test meet the stack's own values.
    state: dict = field(default_factory=dict)


def _urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def provider_name(reference: str | None) -> str:
    """A provider reference is `<urn>::<id>`: its logical name ("" for the default provider)."""
    return reference.rsplit("::", 2)[-2] if reference else ""


def update_options(request) -> dict:
    """The options of a RegisterResource request that change what an update does, as plain data."""
    options = {
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "replaceOnChanges": list(request.replaceOnChanges),
        "replacementTrigger": json_format.MessageToDict(request.replacement_trigger) if request.HasField("replacement_trigger") else None,
        "deletedWith": _urn_name(request.deletedWith) if request.deletedWith else None,
        "hooks": json_format.MessageToDict(request.hooks),
        "retainOnDelete": request.retainOnDelete,
        "aliases": [json_format.MessageToDict(alias) for alias in request.aliases],
    }
    return {k: v for k, v in options.items() if v}


class RecordingMonitor(MockMonitor):
    """The mock monitor, also keeping each registration's parent, dependencies (the graph's edges) and update options."""

    def __init__(self, mocks: "RecordingMocks"):
        super().__init__(mocks)
        self.edges: dict[str, tuple[str, frozenset[str], dict, str]] = {}

    def RegisterResource(self, request):
        parent_is_stack = not request.parent or request.parent.split("::")[-2].endswith("pulumi:pulumi:Stack")
        parent = "" if parent_is_stack else _urn_name(request.parent)
        self.edges[request.name] = (
            parent, frozenset(_urn_name(u) for u in request.dependencies), update_options(request), provider_name(request.provider)
        )
        return super().RegisterResource(request)


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    region: str = "us-east-1"
    registered: list[tuple[str, str, dict, bool]] = field(default_factory=list)  # type, name, inputs, custom
    states: dict[str, dict] = field(default_factory=dict)  # logical name -> the state answered
    invokes: list[tuple[str, dict]] = field(default_factory=list)
    invoke_providers: list[tuple[str, str]] = field(default_factory=list)  # token, provider's logical name ("" = default)
    # invented value -> what to print instead; no <, >, & or " (mustache would HTML-escape them in the guide)
    invented: dict[str, str] = field(default_factory=dict)

    def _invent(self, value: str, label: str = KNOWN_AFTER_APPLY) -> str:
        self.invented[value] = label
        return value

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        self.registered.append((args.typ, args.name, inputs, bool(args.custom)))
        suffix = hashlib.sha256(f"{args.typ}/{args.name}".encode()).hexdigest()[:7]
        state = dict(inputs)
        name_key = AUTONAMED.get(args.typ)
        if name_key and not state.get(name_key):  # Pulumi's auto-name: the logical name and a random suffix
            state[name_key] = self._invent(f"{args.name}-{suffix}", f"{args.name}-[random]")
        physical = state.get(name_key or "name") or args.name
        service = args.typ.split(":")[1].split("/")[0]
        kind = args.typ.rsplit(":", 1)[1].lower()
        if service == "s3":  # an S3 ARN is its name: printed with the name's placeholder inside
            state["arn"] = f"arn:aws:s3:::{physical}"
        elif args.typ == "aws:sns/topic:Topic":  # AWS's formats where something resolves the ARN (the emulator)
            state["arn"] = self._invent(f"arn:aws:sns:{self.region}:{ACCOUNT}:{physical}")
        elif service == "iam":
            state["arn"] = self._invent(f"arn:aws:iam::{ACCOUNT}:{kind}/{physical}")
        else:
            state["arn"] = self._invent(f"arn:aws:{service}:{self.region}:{ACCOUNT}:{kind}/{physical}")
        if args.typ == "aws:iam/role:Role":
            state["uniqueId"] = self._invent(f"AROA{suffix.upper()}")
        resource_id = physical if name_key or "name" in inputs else self._invent(f"{args.name}-id-{suffix}")
        if args.typ.startswith("aws:apigateway/"):  # API Gateway makes up its ids (a REST API's, a key's), never the name
            resource_id = self._invent(f"{args.name}-id-{suffix}")
            if args.typ == "aws:apigateway/restApi:RestApi":
                state["rootResourceId"] = self._invent(f"{args.name}-root-{suffix}")
        if args.typ == "aws:lambda/function:Function":
            state["invokeArn"] = self._invent(f"arn:aws:apigateway:{self.region}:lambda:path/2015-03-31/functions/{state['arn']}/invocations")
        self.states[args.name] = {**state, "id": resource_id}
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        self.invoke_providers.append((args.token, provider_name(args.provider)))
        if args.token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region, "description": self.region}
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            self._invent(ACCOUNT, "[account-id]")
            return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/plan", "userId": "plan", "id": ACCOUNT}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
        if args.token == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage":
            self._invent(ECR_REGISTRY, "[ecr-registry-of-region]")
            repository, tag = args.args["repositoryName"], args.args.get("imageTag", "1")
            path = f"{ECR_REGISTRY}.dkr.ecr.{self.region}.amazonaws.com/{repository}:{tag}"
            return {"registryId": ECR_REGISTRY, "registryPath": path, "repositoryName": repository, "imageTag": tag, "id": path}
        if args.token == "aws:s3/getObject:getObject":  # the user's archive a multi-model endpoint copies
            from bundle.deploy.model import copied_archive_name

            bucket, key = args.args["bucket"], args.args["key"]
            etag = hashlib.md5(f"{bucket}/{key}".encode()).hexdigest()
            self._invent(copied_archive_name(key, etag), copied_archive_name(key, "").replace("-.tar.gz", "-[etag].tar.gz"))
            return {"bucket": bucket, "key": key, "etag": f'"{etag}"', "id": f"{bucket}/{key}", "contentType": "application/gzip"}
        return {}


@dataclass(frozen=True)
class Evaluation:
    resources: list[PlannedResource]
    invokes: list[tuple[str, dict]]
    outputs: dict
    invented: dict[str, str]
    invoke_providers: list[tuple[str, str]] = field(default_factory=list)
    secret_outputs: frozenset[str] = frozenset()  # top-level outputs Pulumi holds as secrets

    def of_type(self, token: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str) -> PlannedResource:
        found = self.of_type(token)
        assert len(found) == 1, f"expected one {token}, found {len(found)}"
        return found[0]


def evaluate(
    params: Params | None, region: str = "us-east-1", config: dict[str, str] | None = None, connections: "Connections | None" = None
) -> Evaluation:
    """Run the program once under mocks (preview=False) and return what it registered and exported.

    With `params`, the stack is defined from them; with None, `main()` reads them as `pulumi up` does
    (BUNDLE_PARAMS_FILE, else the `config` given here as Pulumi config).
    """
    from bundle.deploy.program import define_stack, main  # imported late: the mocks must be set before resources exist

    return evaluate_program(lambda: define_stack(params, connections) if params is not None else main(), region, config)


def evaluate_program(define: Callable[[], dict], region: str = "us-east-1", config: dict[str, str] | None = None) -> Evaluation:
    """Run any program under the mocks: `define()` creates resources and returns the outputs to resolve.
    The stack is one such program; a test can construct a component alone, without the stack's artifact or guide."""
    mocks = RecordingMocks(region=region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({"aws:region": region, **(config or {})})
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    resolved: dict = {}
    secrets: set[str] = set()

    def program():
        outputs = define()
        resolved.update(_sync_await(pulumi.Output.from_input(outputs).future()))
        secrets.update(k for k, v in outputs.items() if isinstance(v, pulumi.Output) and _sync_await(v.is_secret()))

    _sync_await(run_pulumi_func(program))
    resources = [
        PlannedResource(typ, name, inputs, *monitor.edges[name], state=mocks.states.get(name, {}))
        for typ, name, inputs, custom in mocks.registered
        if custom
    ]
    # Registration order depends on asyncio scheduling: list in dependency order, ties by name.
    depth: dict[str, int] = {}

    def level(r: PlannedResource) -> int:
        if r.name not in depth:
            depth[r.name] = 1 + max((level(by_name[d]) for d in r.depends_on if d in by_name), default=-1)
        return depth[r.name]

    by_name = {r.name: r for r in resources}
    resources.sort(key=lambda r: (level(r), r.name))
    return Evaluation(resources, list(mocks.invokes), resolved, dict(mocks.invented), list(mocks.invoke_providers), frozenset(secrets))


# --- printing --------------------------------------------------------------------------------------


# An invented value is replaced only where it stands whole: the string itself, or a field of an ARN, URI or
# host name (between ':', '/', '.' or the string's ends). Digits inside a name (an endpoint called
# "team-123456789012") are the user's, never the mock's.
_FIELD_EDGE = r"(?:^|(?<=[:/.]))"
_FIELD_END = r"(?=$|[:/.])"


def _mask(value: Any, invented: dict[str, str]) -> Any:
    if isinstance(value, str):
        if not invented:
            return value
        pattern = re.compile(
            _FIELD_EDGE + "(" + "|".join(re.escape(v) for v in sorted(invented, key=len, reverse=True)) + ")" + _FIELD_END
        )
        return pattern.sub(lambda m: invented[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _mask(v, invented) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, invented) for v in value]
    return value


def plan_document(evaluation: Evaluation) -> dict:
    """`plan --json`: every resource with its type token, logical name and inputs, then the outputs."""
    return {
        "resources": [
            {"type": r.type, "name": r.name, "inputs": _mask(_readable(r.inputs), evaluation.invented), **_options(r, evaluation.invented)}
            for r in evaluation.resources
        ],
        "outputs": _mask({k: SECRET if k in evaluation.secret_outputs else v for k, v in evaluation.outputs.items()}, evaluation.invented),
    }


def _options(resource: PlannedResource, invented: dict[str, str]) -> dict:
    return {"options": _mask(resource.options, invented)} if resource.options else {}


def _readable(inputs: dict) -> dict:
    """Policies arrive as JSON strings: show them as JSON. Numbers arrive as floats: show integers as such."""
    shown = {}
    for key, value in inputs.items():
        if isinstance(value, str) and value.startswith("{") and key in ("policy", "assumeRolePolicy", "dashboardBody"):
            value = json.loads(value)
        if isinstance(value, str) and value.startswith("[") and key == "assumeRoles":  # provider inputs arrive as JSON
            value = json.loads(value)
        shown[key] = _ints(value)
    return shown


def _ints(value: Any) -> Any:
    if isinstance(value, pulumi.FileAsset):
        return {"fileAsset": str(value.path)}
    if isinstance(value, pulumi.FileArchive):
        return {"fileArchive": str(value.path)}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return value


# What the text plan shows of each resource type: the settings an operator checks before `pulumi up`.
KEY_SETTINGS = {
    "aws:s3/bucket:Bucket": ["bucket", "forceDestroy"],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ["rules"],
    "aws:s3/bucketVersioning:BucketVersioning": ["versioningConfiguration"],
    "aws:s3/bucketPolicy:BucketPolicy": [],
    "aws:s3/bucketObjectv2:BucketObjectv2": ["key"],
    "aws:s3/objectCopy:ObjectCopy": ["source", "key"],
    "aws:iam/role:Role": ["name"],
    "aws:iam/rolePolicy:RolePolicy": [],
    "pulumi:providers:aws": ["region", "profile", "assumeRoles"],
    "aws:sagemaker/model:Model": ["name", "primaryContainer", "containers", "inferenceExecutionConfig", "enableNetworkIsolation", "vpcConfig"],
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ["name", "productionVariants", "shadowProductionVariants", "kmsKeyArn", "dataCaptureConfig"],
    "aws:sagemaker/endpoint:Endpoint": ["name", "endpointConfigName", "deploymentConfig"],
    "aws:cloudwatch/metricAlarm:MetricAlarm": ["name", "metricName", "dimensions", "statistic", "extendedStatistic", "threshold", "period", "evaluationPeriods", "treatMissingData"],
    "aws:cloudwatch/dashboard:Dashboard": ["dashboardName"],
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": ["name", "dataQualityBaselineConfig", "jobResources", "stoppingCondition"],
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ["name", "monitoringScheduleConfig"],
    "aws:sns/topic:Topic": ["name"],
    "aws:sns/topicSubscription:TopicSubscription": ["protocol", "endpoint"],
    "aws:appautoscaling/target:Target": ["resourceId", "scalableDimension", "minCapacity", "maxCapacity"],
    "aws:appautoscaling/policy:Policy": ["name", "targetTrackingScalingPolicyConfiguration"],
    "aws:apigateway/restApi:RestApi": ["name"],
    "aws:apigateway/method:Method": ["httpMethod", "authorization", "apiKeyRequired"],
    "aws:apigateway/integration:Integration": ["type", "uri", "credentials"],
    "aws:apigateway/integrationResponse:IntegrationResponse": ["statusCode", "selectionPattern"],
    "aws:apigateway/deployment:Deployment": ["triggers"],
    "aws:apigateway/stage:Stage": ["stageName", "accessLogSettings"],
    "aws:apigateway/methodSettings:MethodSettings": ["methodPath", "settings"],
    "aws:apigateway/usagePlan:UsagePlan": ["throttleSettings", "quotaSettings"],
    "aws:lambda/function:Function": ["name", "runtime", "handler", "code", "sourceCodeHash"],
}


def plan_text(evaluation: Evaluation) -> str:
    document = plan_document(evaluation)
    lines = [f"pulumi up would create {len(document['resources']) + 1} resources (1 component):", ""]
    lines.append("  + sagemaker-bundle:index:Endpoint (component)")
    for resource in document["resources"]:
        lines.append(f"  + {resource['type']}  {resource['name']}")
        for key in KEY_SETTINGS.get(resource["type"], []):
            if key in resource["inputs"]:
                lines.append(f"      {key}: {json.dumps(resource['inputs'][key], sort_keys=True)}")
        if resource.get("options"):
            lines.append(f"      options: {json.dumps(resource['options'], sort_keys=True)}")
        if isinstance(resource["inputs"].get("policy"), dict):
            for statement in resource["inputs"]["policy"]["Statement"]:
                actions, targets = _as_list(statement["Action"]), _as_list(statement["Resource"])
                lines.append(f"      {statement['Sid']}: {statement['Effect']} {', '.join(actions)} on {', '.join(targets)}")
    lines += ["", "Outputs:"]
    for key, value in document["outputs"].items():
        if key == "operator_guide":
            value = f"(rendered: {len(value.splitlines())} lines; `python -m bundle guide` writes it)"
        lines.append(f"  {key}: {json.dumps(value, sort_keys=True)}")
    return "\n".join(lines)


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]
