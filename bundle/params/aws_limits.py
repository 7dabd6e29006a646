"""Inputs AWS would refuse, refused at validation: the plan's implied API requests checked against botocore's models.

The params become AWS API requests (CreateModel, CreateEndpointConfig, CreateEndpoint/UpdateEndpoint,
RegisterScalableTarget, PutScalingPolicy, PutMetricAlarm, PutDashboard, CreateRole, PutRolePolicy, S3, SNS).
`implied_requests` builds them from the validated params document, every value that comes from a param
wrapped in `From(value, field)`; `check_request` walks each request against the operation's input shape in
botocore's own service model (the limits AWS publishes: string lengths, patterns, enums, numeric ranges,
list sizes, required members) and reports each violation under the params field it comes from. Nothing
is copied from the API reference by hand: a new botocore brings AWS's current limits.

botocore's ParamValidator checks types, required members and minimums only; this checker also reads `max`,
`pattern` and `enum` from the shapes. Patterns are Java-style (`\\p{L}`), matched whole with the `regex` module.

A few limits AWS documents are in no service model; they are rules of their own here, each with its source:
non-finite numbers (JSON has none, but Python's parser accepts NaN), S3's 10 tags per object, S3's reserved
bucket-name prefixes and suffixes, the region (botocore's partition data), the region of KMS keys and SNS
topics (they must be the stack's), and the image versions the POC model can be packaged for.

Auto-generated physical names (Pulumi adds `-` and 7 random characters) are checked at their full length.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Iterator

import botocore.session
import regex

from bundle.names import (
    BUNDLE_TAG,
    SCALABLE_DIMENSION,
    alarm_names,
    alarm_topic_name,
    dashboard_name,
    logical_name,
    scaling_policy_name,
    scaling_resource_id,
    split_s3_uri,
)

AUTONAME = "-" + "a" * 7  # what Pulumi appends to an auto-named resource's logical name
ACCOUNT = "123456789012"  # any 12 digits: no limit depends on which
SHA256 = "0" * 64
# Not in any service model. S3 user guide, "Categorizing your storage using tags": up to 10 tags per object.
S3_OBJECT_MAX_TAGS = 10
# Not in any service model. S3 user guide, "General purpose bucket naming rules": reserved prefixes and suffixes.
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
SAGEMAKER_RUNTIME = "sagemaker-runtime"


@dataclass(frozen=True)
class From:
    """A request value and the params field it comes from."""

    value: Any
    field: str


@dataclass(frozen=True)
class Request:
    service: str  # botocore's service name
    operation: str
    params: dict

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass(frozen=True)
class Violation:
    field: str  # the params field ("(derived)" when no param feeds the value)
    operation: str  # service:Operation
    member: str  # where in the request, e.g. Tags[0].Value
    rule: str

    @property
    def message(self) -> str:
        return f"AWS would refuse {self.operation}: {self.member} {self.rule}"


@functools.lru_cache(maxsize=None)
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def service_model(service: str):
    return _session().get_service_model(service)


_SURROGATE_PAIR = regex.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", regex.IGNORECASE)


def _code_point(match) -> str:
    high, low = int(match.group(1), 16), int(match.group(2), 16)
    return "\\U%08X" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


@functools.lru_cache(maxsize=None)
def _pattern(pattern: str):
    """AWS's patterns are Java's: a character beyond the BMP is written as a UTF-16 surrogate pair (\\uD800\\uDC00),
    which Python spells as one code point (\\U00010000)."""
    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


# --- the requests the plan implies -------------------------------------------------------------------


def _tags(d: dict) -> list[tuple[From, From]]:
    pairs = [(From(k, f"tags.{k}"), From(v, f"tags.{k}")) for k, v in d["tags"].items()]
    pairs += [(From("bundle", "(derived)"), From(BUNDLE_TAG, "(derived)")), (From("endpoint", "endpoint_name"), From(d["endpoint_name"], "endpoint_name"))]
    return pairs


def _tag_list(d: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in _tags(d)]


def _auto(d: dict, suffix: str, limit: int = 63, lower: bool = False) -> From:
    return From(logical_name(d["endpoint_name"], suffix, limit=limit, lower=lower) + AUTONAME, "endpoint_name")


def _multi_model_requests(d: dict, multi: dict, bundle_bucket: str, endpoint: From) -> list[Request]:
    """A multi-model endpoint's uploads and copies under its prefix, and the InvokeEndpoint that names each model."""
    from bundle.deploy.model import copied_archive_name  # the name the stack gives a copy (pure: no AWS call)

    tagging = "&".join(f"{k.value}={v.value}" for k, v in _tags(d))
    requests = []
    for i, model in enumerate(multi.get("models") or []):
        field = f"multi_model.models.{i}"
        if model.startswith("s3://"):
            source_bucket, source_key = split_s3_uri(model)
            target = From(copied_archive_name(source_key, SHA256), field)
            requests.append(
                Request("s3", "CopyObject", {"Bucket": bundle_bucket, "Key": From("multi-model/models/" + target.value, field), "CopySource": From(f"{source_bucket}/{source_key}", field)})
            )
        else:
            target = From(f"{model}-{SHA256[:12]}.tar.gz", field)
            requests.append(
                Request("s3", "PutObject", {"Bucket": bundle_bucket, "Key": "multi-model/models/" + target.value, "ContentType": "application/gzip", "Tagging": From(tagging, "tags")})
            )
        requests.append(Request(SAGEMAKER_RUNTIME, "InvokeEndpoint", {"EndpointName": endpoint, "Body": b"", "TargetModel": target}))
    return requests


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def implied_requests(d: dict, region: str = "us-east-1", partition: str = "aws") -> list[Request]:
    """The API requests `pulumi up` makes for the params document `d` (validated, defaults filled)."""
    endpoint = From(d["endpoint_name"], "endpoint_name")
    serverless = d["deployment_mode"] == "serverless"
    multi = (d.get("multi_model") or {}) if not serverless else {}
    multi_model = bool(multi.get("enabled"))
    poc = d["model_source"] == "poc-sklearn" and not multi_model
    capture = (d.get("data_capture") or {}) if not serverless else {}
    capturing = bool(capture.get("enabled"))
    bundle_bucket = "sagemaker-bundle-artifacts" + AUTONAME
    needs_bucket = poc or multi_model or (capturing and not capture.get("destination_s3_uri"))
    model_name, config_name = _auto(d, "model"), _auto(d, "config")
    role_name = _auto(d, "role", limit=64)
    role_arn = From(f"arn:{partition}:iam::{ACCOUNT}:role/{role_name.value}", "endpoint_name")
    image_tag = f"{d['serving_image_version']}-cpu-py3"
    image = From(f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{image_tag}", "serving_image_version")
    if multi_model:
        model_url = From(f"s3://{bundle_bucket}/multi-model/models/", "(derived)")
    elif poc:
        model_url = From(f"s3://{bundle_bucket}/models/{SHA256}/model.tar.gz", "(derived)")
    else:
        model_url = From(d["custom_model_s3_uri"], "custom_model_s3_uri")
    tags = _tag_list(d)
    requests: list[Request] = []

    # --- S3: the bundle's bucket and the artifact ---
    if needs_bucket:
        requests.append(Request("s3", "CreateBucket", {"Bucket": From(bundle_bucket, "(derived)")}))
        requests.append(Request("s3", "PutBucketTagging", {"Bucket": bundle_bucket, "Tagging": {"TagSet": tags}}))
        sse = {"SSEAlgorithm": "aws:kms" if d["kms_key_arn"] else "AES256"}
        if d["kms_key_arn"]:
            sse["KMSMasterKeyID"] = From(d["kms_key_arn"], "kms_key_arn")
        requests.append(
            Request(
                "s3",
                "PutBucketEncryption",
                {"Bucket": bundle_bucket, "ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": sse, "BucketKeyEnabled": bool(d["kms_key_arn"])}]}},
            )
        )
    if poc:
        tagging = "&".join(f"{k.value}={v.value}" for k, v in _tags(d))
        requests.append(
            Request("s3", "PutObject", {"Bucket": bundle_bucket, "Key": f"models/{SHA256}/model.tar.gz", "ContentType": "application/gzip", "Tagging": From(tagging, "tags")})
        )
    if multi_model:
        requests += _multi_model_requests(d, multi, bundle_bucket, endpoint)

    # --- IAM: the execution role ---
    requests.append(
        Request(
            "iam",
            "CreateRole",
            {
                "RoleName": role_name,
                "AssumeRolePolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
                "Description": From(f"SageMaker execution role of endpoint {d['endpoint_name']}", "endpoint_name"),
                "Tags": tags,
            },
        )
    )
    requests.append(
        Request(
            "iam",
            "PutRolePolicy",
            {"RoleName": role_name, "PolicyName": _auto(d, "execution", limit=128), "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})},
        )
    )

    # --- SageMaker: model, endpoint configuration, endpoint ---
    model = {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {"Image": image, "ModelDataUrl": model_url, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}},
        "EnableNetworkIsolation": bool(d.get("enable_network_isolation", False)),
        "Tags": tags,
    }
    if multi_model:
        model["PrimaryContainer"]["Mode"] = "MultiModel"
        model["PrimaryContainer"]["MultiModelConfig"] = {"ModelCacheSetting": From(multi["cache"], "multi_model.cache")}
        model["PrimaryContainer"]["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] = From(
            f"s3://{bundle_bucket}/multi-model/code/sourcedir-{SHA256[:12]}.tar.gz", "(derived)"
        )
    vpc = d.get("vpc") or {}
    if vpc.get("subnet_ids"):
        model["VpcConfig"] = {
            "Subnets": [From(s, f"vpc.subnet_ids.{i}") for i, s in enumerate(vpc["subnet_ids"])],
            "SecurityGroupIds": [From(g, f"vpc.security_group_ids.{i}") for i, g in enumerate(vpc["security_group_ids"])],
        }
    requests.append(Request("sagemaker", "CreateModel", model))

    variant: dict[str, Any] = {"VariantName": From(d["variant_name"], "variant_name"), "ModelName": model_name, "InitialVariantWeight": 1.0}
    if serverless:
        s = d["serverless"]
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": From(s["memory_size_mb"], "serverless.memory_size_mb"),
            "MaxConcurrency": From(s["max_concurrency"], "serverless.max_concurrency"),
        }
        if s["provisioned_concurrency"]:
            variant["ServerlessConfig"]["ProvisionedConcurrency"] = From(s["provisioned_concurrency"], "serverless.provisioned_concurrency")
    else:
        variant["InstanceType"] = From(d["instance_type"], "instance_type")
        variant["InitialInstanceCount"] = From(d["initial_instance_count"], "initial_instance_count")
    if not serverless:
        variant["InitialVariantWeight"] = From(float(d.get("variant_weight", 1)), "variant_weight")
    config: dict[str, Any] = {"EndpointConfigName": config_name, "ProductionVariants": [variant, *_extra_variants(d, model_name)], "Tags": tags}
    shadow = d.get("shadow") or {}
    if not serverless and shadow.get("enabled"):
        config["ShadowProductionVariants"] = [_sized_variant(shadow, "shadow", model_name)]
    if d["kms_key_arn"] and not serverless:
        config["KmsKeyId"] = From(d["kms_key_arn"], "kms_key_arn")
    if capturing:
        destination = (
            From(capture["destination_s3_uri"].rstrip("/"), "data_capture.destination_s3_uri")
            if capture.get("destination_s3_uri")
            else From(f"s3://{bundle_bucket}/data-capture", "(derived)")
        )
        capture_config: dict[str, Any] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": From(capture["sampling_percentage"], "data_capture.sampling_percentage"),
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
        }
        if capture.get("kms_key_arn"):
            capture_config["KmsKeyId"] = From(capture["kms_key_arn"], "data_capture.kms_key_arn")
        elif d["kms_key_arn"] and not capture.get("destination_s3_uri"):
            capture_config["KmsKeyId"] = From(d["kms_key_arn"], "kms_key_arn")
        config["DataCaptureConfig"] = capture_config
    if d["deployment_mode"] == "async":
        config["AsyncInferenceConfig"] = _async_inference_config(d, bundle_bucket)
    requests.append(Request("sagemaker", "CreateEndpointConfig", config))

    rollout, alarms = d["deployment"], d["alarms"]
    names = alarm_names(d["endpoint_name"])
    routing: dict[str, Any] = {
        "Type": From(rollout["strategy"], "deployment.strategy"),
        "WaitIntervalInSeconds": From(rollout["wait_interval_seconds"], "deployment.wait_interval_seconds"),
    }
    if rollout["strategy"] == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": From(rollout["canary_size_percent"], "deployment.canary_size_percent")}
    if rollout["strategy"] == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": From(rollout["linear_step_percent"], "deployment.linear_step_percent")}
    deployment: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": From(rollout["termination_wait_seconds"], "deployment.termination_wait_seconds"),
            "MaximumExecutionTimeoutInSeconds": From(rollout["maximum_execution_timeout_seconds"], "deployment.maximum_execution_timeout_seconds"),
        }
    }
    if rollout["auto_rollback"]:
        deployment["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": From(n, "endpoint_name")} for n in names.all()]}
    requests.append(Request("sagemaker", "CreateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": config_name, "DeploymentConfig": deployment, "Tags": tags}))
    requests.append(Request("sagemaker", "UpdateEndpoint", {"EndpointName": endpoint, "EndpointConfigName": config_name, "DeploymentConfig": deployment}))

    # --- autoscaling ---
    scaling = d.get("autoscaling") or {}
    if not serverless and scaling.get("enabled"):
        resource_id = From(scaling_resource_id(d["endpoint_name"], d["variant_name"]), "endpoint_name")
        keys = {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": SCALABLE_DIMENSION}
        requests.append(
            Request(
                "application-autoscaling",
                "RegisterScalableTarget",
                {**keys, "MinCapacity": From(scaling["min_capacity"], "autoscaling.min_capacity"), "MaxCapacity": From(scaling["max_capacity"], "autoscaling.max_capacity")},
            )
        )
        requests.append(
            Request(
                "application-autoscaling",
                "PutScalingPolicy",
                {
                    **keys,
                    "PolicyName": From(scaling_policy_name(d["endpoint_name"]), "endpoint_name"),
                    "PolicyType": "TargetTrackingScaling",
                    "TargetTrackingScalingPolicyConfiguration": {
                        "TargetValue": From(scaling["target_invocations_per_instance"], "autoscaling.target_invocations_per_instance"),
                        "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
                        "ScaleInCooldown": From(scaling["scale_in_cooldown"], "autoscaling.scale_in_cooldown"),
                        "ScaleOutCooldown": From(scaling["scale_out_cooldown"], "autoscaling.scale_out_cooldown"),
                    },
                },
            )
        )

    # --- alarms, their topic, the dashboard ---
    if alarms["topic_arn"]:
        topic: From | None = From(alarms["topic_arn"], "alarms.topic_arn")
    elif alarms["email"]:
        topic = From(f"arn:{partition}:sns:{region}:{ACCOUNT}:{alarm_topic_name(d['endpoint_name'])}", "endpoint_name")
        requests.append(Request("sns", "CreateTopic", {"Name": From(alarm_topic_name(d["endpoint_name"]), "endpoint_name"), "Tags": tags}))
        requests.append(Request("sns", "Subscribe", {"TopicArn": topic, "Protocol": "email", "Endpoint": From(alarms["email"], "alarms.email")}))
    else:
        topic = None
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": From(d["variant_name"], "variant_name")}]
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": dimensions,
        "Period": From(alarms["period_seconds"], "alarms.period_seconds"),
        "EvaluationPeriods": From(alarms["evaluation_periods"], "alarms.evaluation_periods"),
        "TreatMissingData": "notBreaching",
        "AlarmActions": [topic] if topic else [],
        "OKActions": [topic] if topic else [],
        "Tags": tags,
    }
    requests.append(
        Request(
            "cloudwatch",
            "PutMetricAlarm",
            {
                **common,
                "AlarmName": From(names.invocation_5xx, "endpoint_name"),
                "AlarmDescription": From(f"{d['endpoint_name']}/{d['variant_name']}: model errors (HTTP 5XX). Rolls back a deployment in progress.", "endpoint_name"),
                "MetricName": "Invocation5XXErrors",
                "Statistic": "Sum",
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "Threshold": From(float(alarms["invocation_5xx_threshold"]), "alarms.invocation_5xx_threshold"),
            },
        )
    )
    requests.append(
        Request(
            "cloudwatch",
            "PutMetricAlarm",
            {
                **common,
                "AlarmName": From(names.model_latency, "endpoint_name"),
                "AlarmDescription": From(f"{d['endpoint_name']}/{d['variant_name']}: ModelLatency above the threshold. Rolls back a deployment in progress.", "endpoint_name"),
                "MetricName": "ModelLatency",
                "ExtendedStatistic": From(alarms["model_latency_percentile"], "alarms.model_latency_percentile"),
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": From(float(alarms["model_latency_threshold_ms"]) * 1000, "alarms.model_latency_threshold_ms"),
                "EvaluateLowSampleCountPercentile": "ignore",
            },
        )
    )
    requests.append(Request("cloudwatch", "PutDashboard", {"DashboardName": From(dashboard_name(d["endpoint_name"]), "endpoint_name"), "DashboardBody": '{"widgets": []}'}))
    return requests


def _sized_variant(v: dict, where: str, model_name: From) -> dict:
    return {
        "VariantName": From(v["name"], f"{where}.name"),
        "ModelName": model_name,
        "InitialVariantWeight": From(float(v["weight"]), f"{where}.weight"),
        "InstanceType": From(v["instance_type"], f"{where}.instance_type"),
        "InitialInstanceCount": From(v["initial_instance_count"], f"{where}.initial_instance_count"),
    }


def _extra_variants(d: dict, model_name: From) -> list[dict]:
    """A/B: the extra production variants, as CreateEndpointConfig lists them (their count checked by botocore's model too)."""
    if d["deployment_mode"] == "serverless":
        return []
    return [_sized_variant(v, f"variants.{i}", model_name) for i, v in enumerate(d.get("variants") or [])]


# --- checking a request against its operation's input shape -----------------------------------------------


def _async_inference_config(d: dict, bundle_bucket: str) -> dict:
    """CreateEndpointConfig's AsyncInferenceConfig as bundle/deploy/async_inference.py builds it."""
    a = d["async_inference"]

    def path(field: str, default: str) -> From:
        return From(a[field].rstrip("/"), f"async_inference.{field}") if a[field] else From(f"s3://{bundle_bucket}/{default}", "(derived)")

    output: dict[str, Any] = {"S3OutputPath": path("output_s3_uri", "async-inference/output"), "S3FailurePath": path("failure_s3_uri", "async-inference/failures")}
    if d["kms_key_arn"]:
        output["KmsKeyId"] = From(d["kms_key_arn"], "kms_key_arn")
    topics = {}
    for key, field in (("SuccessTopic", "success_topic_arn"), ("ErrorTopic", "error_topic_arn")):
        if a[field]:
            topics[key] = From(a[field], f"async_inference.{field}")
    if topics:
        output["NotificationConfig"] = topics
    client = {"MaxConcurrentInvocationsPerInstance": From(a["max_concurrent_invocations_per_instance"], "async_inference.max_concurrent_invocations_per_instance")}
    return {"OutputConfig": output, "ClientConfig": client}


def check_request(request: Request) -> list[Violation]:
    shape = service_model(request.service).operation_model(request.operation).input_shape
    found: list[Violation] = []
    _check(shape, request.params, "(derived)", "", request.name, found)
    return found


def _check(shape, value: Any, field: str, where: str, operation: str, found: list[Violation]) -> None:
    if isinstance(value, From):
        field, value = value.field, value.value
    meta = shape.metadata

    def bad(rule: str) -> None:
        found.append(Violation(field, operation, where or "(request)", rule))

    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return bad(f"must be an object, got {type(value).__name__}")
        for name in shape.required_members:
            if name not in value:
                bad(f"misses the required member {name}")
        for name, member in value.items():
            if name not in shape.members:
                bad(f"has no member {name} in botocore's model")
                continue
            _check(shape.members[name], member, field, f"{where}.{name}" if where else name, operation, found)
    elif kind == "list":
        if not isinstance(value, list):
            return bad(f"must be a list, got {type(value).__name__}")
        _bounds(len(value), meta, "items", bad)
        for index, item in enumerate(value):
            _check(shape.member, item, field, f"{where}[{index}]", operation, found)
    elif kind == "map":
        if not isinstance(value, dict):
            return bad(f"must be a map, got {type(value).__name__}")
        _bounds(len(value), meta, "entries", bad)
        for key, item in value.items():
            _check(shape.key, key, field, f"{where} key {key!r}", operation, found)
            _check(shape.value, item, field, f"{where}[{key!r}]", operation, found)
    elif kind == "string":
        if not isinstance(value, str):
            return bad(f"must be a string, got {type(value).__name__}")
        _bounds(len(value), meta, "characters", bad)
        if "pattern" in meta and _pattern(meta["pattern"]).fullmatch(value) is None:
            bad(f"{value!r} does not match AWS's pattern {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            bad(f"{value!r} is not one of AWS's values {shape.enum}")
    elif kind in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return bad(f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            return bad(f"must be a finite number, got {value}")
        if kind in ("integer", "long") and not float(value).is_integer():
            return bad(f"must be an integer, got {value}")
        if "min" in meta and value < meta["min"]:
            bad(f"{value:g} is below AWS's minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            bad(f"{value:g} is above AWS's maximum {meta['max']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            bad(f"must be a boolean, got {type(value).__name__}")


def _bounds(size: int, meta: dict, unit: str, bad) -> None:
    if "min" in meta and size < meta["min"]:
        bad(f"has {size} {unit}, AWS's minimum is {meta['min']}")
    if "max" in meta and size > meta["max"]:
        bad(f"has {size} {unit}, AWS's maximum is {meta['max']}")


# --- the rules no service model carries ---------------------------------------------------------------------


def non_finite_numbers(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path or "(root)"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from non_finite_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from non_finite_numbers(v, f"{path}.{i}" if path else str(i))


def reserved_bucket_name(bucket: str) -> str | None:
    if bucket.startswith(S3_RESERVED_PREFIXES):
        return f"S3 reserves bucket names starting with {[p for p in S3_RESERVED_PREFIXES if bucket.startswith(p)][0]!r}"
    if bucket.endswith(S3_RESERVED_SUFFIXES):
        return f"S3 reserves bucket names ending with {[s for s in S3_RESERVED_SUFFIXES if bucket.endswith(s)][0]!r}"
    return None


def known_regions() -> set[str]:
    """Every region of every partition where botocore knows the SageMaker runtime."""
    session = _session()
    return {r for partition in session.get_available_partitions() for r in session.get_available_regions(SAGEMAKER_RUNTIME, partition)}


def partition_of(region: str) -> str:
    return _session().get_partition_for_region(region)


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def other_rules(d: dict) -> list[tuple[str, str]]:
    """(field, message) for the limits no service model carries, region aside."""
    problems = [(path, "must be a finite number (NaN and infinities are not JSON numbers and AWS refuses them)") for path in non_finite_numbers(d)]
    object_tags = len(_tags(d))
    if d["model_source"] == "poc-sklearn" and object_tags > S3_OBJECT_MAX_TAGS:
        problems.append(
            (
                "tags",
                f"the model artifact's S3 object would get {object_tags} tags ({len(d['tags'])} given + the bundle's 'bundle' and "
                f"'endpoint'), S3 allows {S3_OBJECT_MAX_TAGS} per object: give at most {S3_OBJECT_MAX_TAGS - 2}",
            )
        )
    for field, uri in (("custom_model_s3_uri", d.get("custom_model_s3_uri")), ("data_capture.destination_s3_uri", (d.get("data_capture") or {}).get("destination_s3_uri"))):
        if uri:
            reason = reserved_bucket_name(split_s3_uri(uri)[0])
            if reason:
                problems.append((field, f"bucket {split_s3_uri(uri)[0]!r}: {reason}, so no such bucket can exist"))
    if d["model_source"] == "poc-sklearn":
        from bundle.artifact.image import IMAGES  # no heavy imports: the recorded versions only

        image = IMAGES.get(d["serving_image_version"])
        if image is not None:
            mismatched = [
                f"{lib} {have} is installed, the image has {want}"
                for lib, want in (("scikit-learn", image.scikit_learn), ("numpy", image.numpy))
                if (have := installed_version(lib)) != want
            ]
            if mismatched:
                problems.append(
                    (
                        "serving_image_version",
                        f"the POC model cannot be packaged for image {image.version} here ({'; '.join(mismatched)}): a model pickled "
                        "with other versions fails to load in the container; choose the image this environment matches, or a custom model",
                    )
                )
    return problems


def region_rules(d: dict, region: str, region_source: str = "aws:region") -> list[tuple[str, str]]:
    """The stack's region must be a region, and the KMS keys and SNS topic must be in it."""
    if region not in known_regions():
        return [(region_source, f"{region!r} is not a region botocore knows for SageMaker (e.g. us-east-1, eu-west-1)")]
    problems = []
    capture = d.get("data_capture") or {}
    asynchronous = d.get("async_inference") or {}
    arns = [("kms_key_arn", d.get("kms_key_arn")), ("data_capture.kms_key_arn", capture.get("kms_key_arn")), ("alarms.topic_arn", (d.get("alarms") or {}).get("topic_arn"))]
    arns += [(f"async_inference.{f}", asynchronous.get(f)) for f in ("success_topic_arn", "error_topic_arn")]
    for field, arn in arns:
        if arn and _arn_region(arn) != region:
            problems.append((field, f"is in region {_arn_region(arn) or '(none)'} but the stack deploys to {region}: AWS needs it in the stack's region"))
    return problems


def violations(d: dict, region: str = "us-east-1") -> list[Violation]:
    partition = partition_of(region) if region in known_regions() else "aws"
    found: list[Violation] = []
    for request in implied_requests(d, region, partition):
        found += check_request(request)
    return found


def problems(d: dict, region: str | None = None, region_source: str = "aws:region") -> list[tuple[str, str]]:
    """Every limit AWS would enforce on these params, as (params field, message); with a region, the region's too."""
    found = other_rules(d)
    if region is not None:
        found += region_rules(d, region, region_source)
    if any(path in dict(found) for path in ("aws:region", "--region")):
        return found
    if not any(not math.isfinite(v) for v in _numbers(d)):
        found += _grouped(violations(d, region or "us-east-1"))
    return list(dict.fromkeys(found))


def _grouped(found: list[Violation]) -> list[tuple[str, str]]:
    """One message per field and request member, naming every operation that would refuse it."""
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in found:
        groups.setdefault((v.field, v.member), []).append(v)
    return [
        (field, f"AWS would refuse {', '.join(dict.fromkeys(v.operation for v in vs))}: {member} {vs[0].rule}")
        for (field, member), vs in groups.items()
    ]


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def check_stack_region(document: dict, region: str | None, region_source: str, source: str = "params") -> None:
    """Raise InvalidParams when the stack's region is no region, or a key or topic of the params is elsewhere."""
    from bundle.params.model import InvalidParams, Problem

    if region is None:
        return
    found = region_rules(document, region, region_source)
    if found:
        raise InvalidParams([Problem(field, message) for field, message in found], source)
