"""The AWS API requests the params imply (CreateModel, CreateEndpointConfig, CreateEndpoint/UpdateEndpoint,
RegisterScalableTarget, PutScalingPolicy, PutMetricAlarm, PutDashboard, CreateRole, PutRolePolicy, S3, SNS), built from
the validated params document; every value that comes from a param is wrapped in `From(value, field)`, so a violation
of botocore's shapes (bundle/params/shapes.py) is reported under that field.

Auto-generated physical names (Pulumi adds `-` and 7 random characters) are built at their full length.
"""
from __future__ import annotations

import json
from typing import Any

from bundle.names import (
    PIPELINE_STAGES,
    PREPROCESSING_ENVIRONMENT,
    SCALABLE_DIMENSION,
    alarm_names,
    alarm_topic_name,
    dashboard_name,
    scaling_policy_name,
    scaling_resource_id,
    split_s3_uri,
)
from bundle.params import feature_requests
from bundle.params.request_names import ACCOUNT, AUTONAME, SHA256, auto, tag_list, tag_pairs
from bundle.params.shapes import From, Request

SAGEMAKER_RUNTIME = "sagemaker-runtime"

def _multi_model_requests(d: dict, multi: dict, bundle_bucket: str, endpoint: From) -> list[Request]:
    """A multi-model endpoint's uploads and copies under its prefix, and the InvokeEndpoint that names each model."""
    from bundle.deploy.model import copied_archive_name  # the name the stack gives a copy (pure: no AWS call)

    tagging = "&".join(f"{k.value}={v.value}" for k, v in tag_pairs(d))
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
    preprocessing = bool((d.get("preprocessing") or {}).get("enabled"))
    needs_bucket = poc or multi_model or preprocessing or (capturing and not capture.get("destination_s3_uri"))
    model_name, config_name = auto(d, "model"), auto(d, "config")
    role_name = auto(d, "role", limit=64)
    role_arn = From(f"arn:{partition}:iam::{ACCOUNT}:role/{role_name.value}", "endpoint_name")
    image_tag = f"{d['serving_image_version']}-cpu-py3"
    image = From(f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:{image_tag}", "serving_image_version")
    if multi_model:
        model_url = From(f"s3://{bundle_bucket}/multi-model/models/", "(derived)")
    elif poc:
        model_url = From(f"s3://{bundle_bucket}/models/{SHA256}/model.tar.gz", "(derived)")
    else:
        model_url = From(d["custom_model_s3_uri"], "custom_model_s3_uri")
    tags = tag_list(d)
    requests: list[Request] = []
    package = d.get("model_package") if d["model_source"] == "model-package" else None
    if package:
        requests += feature_requests.registry_requests(package)

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
        tagging = "&".join(f"{k.value}={v.value}" for k, v in tag_pairs(d))
        requests.append(
            Request("s3", "PutObject", {"Bucket": bundle_bucket, "Key": f"models/{SHA256}/model.tar.gz", "ContentType": "application/gzip", "Tagging": From(tagging, "tags")})
        )
    if multi_model:
        requests += _multi_model_requests(d, multi, bundle_bucket, endpoint)
    if preprocessing:  # the inference pipeline's preprocessing code (bundle/deploy/pipeline.py)
        tagging = "&".join(f"{k.value}={v.value}" for k, v in tag_pairs(d))
        requests.append(
            Request("s3", "PutObject", {"Bucket": bundle_bucket, "Key": f"preprocessing/{SHA256}/preprocessing.tar.gz", "ContentType": "application/gzip", "Tagging": From(tagging, "tags")})
        )

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
            {"RoleName": role_name, "PolicyName": auto(d, "execution", limit=128), "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})},
        )
    )

    # --- SageMaker: model, endpoint configuration, endpoint ---
    # AWS's rule, in no service model: a container naming a model package takes its image and data from the package,
    # so it must not also give Image or ModelDataUrl.
    container = (
        {"ModelPackageName": feature_requests.package_version_arn(package, region, partition), "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}
        if package
        else {"Image": image, "ModelDataUrl": model_url, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}
    )
    model = {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": container,
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
    if preprocessing:  # one Model, two containers run in series: the preprocessing stage, then the model's container
        served = model.pop("PrimaryContainer")
        code = From(f"s3://{bundle_bucket}/preprocessing/{SHA256}/preprocessing.tar.gz", "(derived)")
        model["Containers"] = [
            {"ContainerHostname": PIPELINE_STAGES[0], "Image": image, "ModelDataUrl": code, "Environment": dict(PREPROCESSING_ENVIRONMENT)},
            {"ContainerHostname": PIPELINE_STAGES[1], **served},
        ]
        model["InferenceExecutionConfig"] = {"Mode": "Serial"}
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
    deployment: dict[str, Any] = _rolling_update(rollout) if rollout["strategy"] == "ROLLING" else _blue_green_update(rollout)
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
    requests += feature_requests.monitoring_requests(d, endpoint, bundle_bucket, region, partition)
    return requests


def _blue_green_update(rollout: dict) -> dict:
    routing: dict[str, Any] = {
        "Type": From(rollout["strategy"], "deployment.strategy"),
        "WaitIntervalInSeconds": From(rollout["wait_interval_seconds"], "deployment.wait_interval_seconds"),
    }
    if rollout["strategy"] == "CANARY":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": From(rollout["canary_size_percent"], "deployment.canary_size_percent")}
    if rollout["strategy"] == "LINEAR":
        routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": From(rollout["linear_step_percent"], "deployment.linear_step_percent")}
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": From(rollout["termination_wait_seconds"], "deployment.termination_wait_seconds"),
            "MaximumExecutionTimeoutInSeconds": From(rollout["maximum_execution_timeout_seconds"], "deployment.maximum_execution_timeout_seconds"),
        }
    }


def _rolling_update(rollout: dict) -> dict:
    """DeploymentConfig.RollingUpdatePolicy as bundle/deploy/rollout.py builds it."""
    r = rollout["rolling"]
    policy: dict[str, Any] = {
        "MaximumBatchSize": {"Type": From(r["batch_type"], "deployment.rolling.batch_type"), "Value": From(r["batch_size"], "deployment.rolling.batch_size")},
        "WaitIntervalInSeconds": From(rollout["wait_interval_seconds"], "deployment.wait_interval_seconds"),
        "MaximumExecutionTimeoutInSeconds": From(rollout["maximum_execution_timeout_seconds"], "deployment.maximum_execution_timeout_seconds"),
    }
    if r["rollback_batch_size"]:
        policy["RollbackMaximumBatchSize"] = {
            "Type": From(r["rollback_batch_type"], "deployment.rolling.rollback_batch_type"),
            "Value": From(r["rollback_batch_size"], "deployment.rolling.rollback_batch_size"),
        }
    return {"RollingUpdatePolicy": policy}


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
