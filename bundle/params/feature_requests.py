"""The requests of the optional features that add their own calls: what the plan asks the Model Registry
(model_package), and model quality's job definition, schedule and accuracy alarm (monitoring). aws_requests.py adds them
to the rest; every value from a param is wrapped in `From(value, field)`, as there."""
from __future__ import annotations

from bundle.names import (
    MODEL_QUALITY_NAMESPACE,
    MONITORING_BASELINE_PREFIX,
    MONITORING_REPORTS_PREFIX,
    MONITORING_SCHEDULES,
    PREDICTION_ACCURACY_METRIC,
    accuracy_alarm_name,
    model_quality_dimensions,
    monitoring_schedule_name,
)
from bundle.params.request_names import ACCOUNT, SHA256, auto, tag_list
from bundle.params.shapes import From, Request


def registry_requests(package: dict) -> list[Request]:
    """What the plan asks the Model Registry (bundle/ops/registry.py), and the guide's rollback of the deployed version."""
    if package["group"]:
        group = From(package["group"], "model_package.group")
        return [
            Request("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": group}),
            Request(
                "sagemaker",
                "ListModelPackages",
                {"ModelPackageGroupName": group, "ModelApprovalStatus": "Approved", "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 1},
            ),
        ]
    arn = From(package["arn"], "model_package.arn")
    return [
        Request("sagemaker", "DescribeModelPackage", {"ModelPackageName": arn}),
        # The guide's way back from a bad version: reject it (`aws sagemaker update-model-package`), which takes an ARN.
        Request("sagemaker", "UpdateModelPackage", {"ModelPackageArn": arn, "ModelApprovalStatus": "Rejected"}),
    ]


def package_version_arn(package: dict, region: str, partition: str) -> From:
    """CreateModel's ModelPackageName: the pinned ARN, or a version of the group at its longest (a 9-digit version)."""
    if package["arn"]:
        return From(package["arn"], "model_package.arn")
    group = package["group"]
    if group.startswith("arn:"):
        return From(group.replace(":model-package-group/", ":model-package/", 1) + "/" + "9" * 9, "model_package.group")
    return From(f"arn:{partition}:sagemaker:{region}:{ACCOUNT}:model-package/{group}/{'9' * 9}", "model_package.group")


def monitoring_requests(d: dict, endpoint: From, bucket: str, region: str, partition: str) -> list[Request]:
    """Model quality (monitoring.enabled): the data-quality job definition and its schedule (their limits are botocore's:
    ProcessingInstanceType, ProcessingVolumeSizeInGB, MonitoringMaxRuntimeInSeconds), and the accuracy alarm."""
    m = d.get("monitoring") or {}
    if not m.get("enabled"):
        return []
    baseline = f"s3://{bucket}/{MONITORING_BASELINE_PREFIX}/{SHA256[:12]}"
    definition = auto(d, "data-quality")
    role = f"arn:{partition}:iam::{ACCOUNT}:role/" + auto(d, "monitor-role", limit=64).value
    job = {
        "JobDefinitionName": definition,
        "DataQualityBaselineConfig": {
            "ConstraintsResource": {"S3Uri": f"{baseline}/constraints.json"},
            "StatisticsResource": {"S3Uri": f"{baseline}/statistics.json"},
        },
        "DataQualityAppSpecification": {"ImageUri": f"000000000000.dkr.ecr.{region}.amazonaws.com/sagemaker-model-monitor-analyzer:latest"},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input/endpoint"}},
        "DataQualityJobOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": f"s3://{bucket}/{MONITORING_REPORTS_PREFIX}/{d['endpoint_name']}", "LocalPath": "/opt/ml/processing/output"}}]
        },
        "JobResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": From(m["instance_type"], "monitoring.instance_type"),
                "VolumeSizeInGB": From(m["volume_size_gb"], "monitoring.volume_size_gb"),
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": From(m["max_runtime_seconds"], "monitoring.max_runtime_seconds")},
        "RoleArn": role,
        "Tags": tag_list(d),
    }
    schedule = {
        "MonitoringScheduleName": From(monitoring_schedule_name(d["endpoint_name"]), "endpoint_name"),
        "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": MONITORING_SCHEDULES[m["schedule"]]},
            "MonitoringJobDefinitionName": definition,
            "MonitoringType": "DataQuality",
        },
        "Tags": tag_list(d),
    }
    alarm = {
        "AlarmName": From(accuracy_alarm_name(d["endpoint_name"]), "endpoint_name"),
        "Namespace": MODEL_QUALITY_NAMESPACE,
        "MetricName": PREDICTION_ACCURACY_METRIC,
        "Dimensions": [{"Name": k, "Value": From(v, "endpoint_name")} for k, v in model_quality_dimensions(d["endpoint_name"], d["variant_name"]).items()],
        "Statistic": "Average",
        "Period": From(m["accuracy_period_seconds"], "monitoring.accuracy_period_seconds"),
        "EvaluationPeriods": 1,
        "Threshold": From(float(m["accuracy_threshold"] or 1.0), "monitoring.accuracy_threshold"),  # 0: derived when built
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    return [
        Request("sagemaker", "CreateDataQualityJobDefinition", job),
        Request("sagemaker", "CreateMonitoringSchedule", schedule),
        Request("cloudwatch", "PutMetricAlarm", alarm),
    ]
