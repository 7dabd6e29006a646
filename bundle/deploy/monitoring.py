"""Model quality in production (monitoring.enabled): what watches the model's answers, not only its latency.

  - the data-quality baseline (bundle/artifact/baseline.py: statistics.json and constraints.json from the training data,
    in Model Monitor's formats), uploaded under `monitoring/baseline/<sha256[:12]>/` in the bundle's bucket, next to the
    content-addressed artifact: a new baseline is a new key, never an overwrite;
  - Model Monitor's DataQualityJobDefinition (the captured data against that baseline, reports under
    `monitoring/reports/<endpoint>/`) and its MonitoringSchedule (hourly by default), run as a role of their own that may
    read only the capture, baseline and ground-truth prefixes and write only the reports prefix;
  - an alarm per production variant on PredictionAccuracy (names.py's namespace and dimensions), under the threshold, on
    the alarms' topic. `python -m bundle monitor accuracy --publish` publishes the metric from the captured predictions
    and the labels under the ground-truth prefix (bundle/ops/monitor.py): nothing in AWS computes it for this stack.

The job's image is the region's `sagemaker-model-monitor-analyzer` from the provider's prebuilt-image table
(get_prebuilt_ecr_image, tag `latest`, as the SageMaker Python SDK's DefaultModelMonitor uses it). It cannot run here:
no PyPI package holds Model Monitor's analyzer and moto has no monitoring schedules (shared FACTS.md), so the job
definition and the schedule are proven at plan level and against botocore's shapes, not executed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.artifact.baseline import Baseline
from bundle.deploy.fleet import suffix
from bundle.deploy.iam import ContainerGrants, container_statements, vpc_statements
from bundle.deploy.storage import STABLE_PREFIX, BundleBucket
from bundle.names import (
    MODEL_QUALITY_NAMESPACE,
    MONITORING_REPORTS_PREFIX,
    MONITORING_SCHEDULES,
    PREDICTION_ACCURACY_METRIC,
    SAGEMAKER_TRUST_POLICY,
    accuracy_alarm_name,
    logical_name,
    model_quality_dimensions,
    monitoring_schedule_name,
    split_s3_uri,
)
from bundle.params.model import Monitoring, Variant, Vpc

MONITOR_REPOSITORY = "sagemaker-model-monitor-analyzer"
MONITOR_IMAGE_TAG = "latest"
PROCESSING_INPUT = "/opt/ml/processing/input/endpoint"  # where the job sees the captured data
PROCESSING_OUTPUT = "/opt/ml/processing/output"  # what it uploads to the reports prefix
# Model Monitor writes its per-feature metrics into this CloudWatch namespace.
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


@dataclass(frozen=True)
class QualityReferences:
    """What the artifact's build gives monitoring: the baseline files and the accuracy the alarm defends."""

    baseline: Baseline
    accuracy_threshold: float  # the params' value, else derived from the model's cross-validated accuracy


@dataclass(frozen=True)
class MonitoringSettings:
    endpoint_name: str
    monitoring: Monitoring
    variants: tuple[Variant, ...]  # each production variant gets an accuracy alarm
    kms_key_arn: str  # the bundle's key ("" for none): reports and the job's volume
    capture_key: str  # the key captured data is encrypted with ("" for none)
    vpc: Vpc
    alarm_period_seconds: int


@dataclass(frozen=True)
class ModelQuality:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    job_definition: aws.sagemaker.DataQualityJobDefinition
    schedule: aws.sagemaker.MonitoringSchedule
    alarms: dict[str, aws.cloudwatch.MetricAlarm]  # by production variant, the primary's first
    locations: pulumi.Output  # {capture, ground_truth, baseline_statistics, baseline_constraints, reports}
    image_uri: pulumi.Output[str]
    threshold: float

    def outputs(self, settings: MonitoringSettings) -> dict:
        """The `monitoring` stack output: where labels go, what is watched, and how (the guide's Model quality section)."""
        return {
            "enabled": True,
            "accuracy_threshold": self.threshold,
            "accuracy_period_seconds": settings.monitoring.accuracy_period_seconds,
            "metric": {"namespace": MODEL_QUALITY_NAMESPACE, "name": PREDICTION_ACCURACY_METRIC, "dimensions": ["EndpointName", "VariantName"]},
            "alarms": [{"variant": variant, "name": alarm.name} for variant, alarm in self.alarms.items()],
            "schedule_name": self.schedule.name,
            "schedule_expression": MONITORING_SCHEDULES[settings.monitoring.schedule],
            "job_definition_name": self.job_definition.name,
            "role_arn": self.role.arn,
            "image_uri": self.image_uri,
            **{key: self.locations[key] for key in ("capture", "ground_truth", "baseline_statistics", "baseline_constraints", "reports")},
        }


def locations(bucket_name: pulumi.Output[str], capture_prefix: pulumi.Output[str], settings: MonitoringSettings, baseline: Baseline) -> pulumi.Output:
    m = settings.monitoring
    return pulumi.Output.all(bucket_name, capture_prefix).apply(
        lambda v: {
            "capture": v[1],
            "ground_truth": f"s3://{v[0]}/{m.ground_truth_prefix.strip('/')}/{settings.endpoint_name}/",
            "baseline_statistics": f"s3://{v[0]}/{baseline.key_prefix}/statistics.json",
            "baseline_constraints": f"s3://{v[0]}/{baseline.key_prefix}/constraints.json",
            "reports": f"s3://{v[0]}/{MONITORING_REPORTS_PREFIX}/{settings.endpoint_name}/",
        }
    )


def create_monitoring(
    settings: MonitoringSettings,
    references: QualityReferences | None,
    bucket: BundleBucket | None,
    capture_prefix: pulumi.Output[str] | None,
    environment,  # bundle.deploy.component.AwsEnvironment
    topic_arn: pulumi.Output[str] | None,
    endpoint: aws.sagemaker.Endpoint,
    tags: dict,
    parent: pulumi.Resource,
) -> ModelQuality | None:
    """Nothing unless monitoring.enabled (the params' rules ensure capture is on and the bucket exists then)."""
    if not settings.monitoring.enabled:
        return None
    assert references is not None and bucket is not None and capture_prefix is not None, "monitoring needs the baseline, the bucket and capture"
    child = pulumi.ResourceOptions(parent=parent)
    name = settings.endpoint_name
    where = locations(bucket.bucket.bucket, capture_prefix, settings, references.baseline)
    uploaded = [
        aws.s3.BucketObjectv2(
            f"{STABLE_PREFIX}-baseline-{kind}",
            bucket=bucket.bucket.id,
            key=f"{references.baseline.key_prefix}/{kind}.json",
            source=pulumi.FileAsset(str(path)),
            content_type="application/json",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=bucket.hardening),
        )
        for kind, path in (("statistics", references.baseline.statistics), ("constraints", references.baseline.constraints))
    ]
    invoke = pulumi.InvokeOptions(parent=parent)
    image = aws.sagemaker.get_prebuilt_ecr_image_output(repository_name=MONITOR_REPOSITORY, image_tag=MONITOR_IMAGE_TAG, opts=invoke)
    role = aws.iam.Role(
        logical_name(name, "monitor-role", limit=64),
        assume_role_policy=json.dumps(SAGEMAKER_TRUST_POLICY),
        description=f"Model Monitor's data-quality job of endpoint {name}",
        tags=tags,
        opts=child,
    )
    document = pulumi.Output.all(
        where=where, region=environment.region, account=environment.account, partition=environment.partition, registry=image.registry_id
    ).apply(lambda v: json.dumps(monitor_policy(settings, **v), sort_keys=True))
    policy = aws.iam.RolePolicy(logical_name(name, "monitor", limit=128), role=role.id, policy=document, opts=child)
    m = settings.monitoring
    job = aws.sagemaker.DataQualityJobDefinition(
        logical_name(name, "data-quality"),
        data_quality_app_specification=aws.sagemaker.DataQualityJobDefinitionDataQualityAppSpecificationArgs(image_uri=image.registry_path),
        data_quality_baseline_config=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigArgs(
            constraints_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigConstraintsResourceArgs(s3_uri=where["baseline_constraints"]),
            statistics_resource=aws.sagemaker.DataQualityJobDefinitionDataQualityBaselineConfigStatisticsResourceArgs(s3_uri=where["baseline_statistics"]),
        ),
        data_quality_job_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputArgs(
            endpoint_input=aws.sagemaker.DataQualityJobDefinitionDataQualityJobInputEndpointInputArgs(endpoint_name=endpoint.name, local_path=PROCESSING_INPUT)
        ),
        data_quality_job_output_config=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigArgs(
            kms_key_id=settings.kms_key_arn or None,
            monitoring_outputs=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsArgs(
                s3_output=aws.sagemaker.DataQualityJobDefinitionDataQualityJobOutputConfigMonitoringOutputsS3OutputArgs(
                    s3_uri=where["reports"].apply(lambda u: u.rstrip("/")), local_path=PROCESSING_OUTPUT
                )
            ),
        ),
        job_resources=aws.sagemaker.DataQualityJobDefinitionJobResourcesArgs(
            cluster_config=aws.sagemaker.DataQualityJobDefinitionJobResourcesClusterConfigArgs(
                instance_count=1, instance_type=m.instance_type, volume_size_in_gb=m.volume_size_gb, volume_kms_key_id=settings.kms_key_arn or None
            )
        ),
        stopping_condition=aws.sagemaker.DataQualityJobDefinitionStoppingConditionArgs(max_runtime_in_seconds=m.max_runtime_seconds),
        network_config=_network(settings.vpc),
        role_arn=role.arn,
        tags=tags,
        # SageMaker checks the role's access and the baseline's objects when it creates the definition.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, *uploaded]),
    )
    schedule = aws.sagemaker.MonitoringSchedule(
        logical_name(name, "data-quality-schedule"),
        name=monitoring_schedule_name(name),
        monitoring_schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigArgs(
            monitoring_job_definition_name=job.name,
            monitoring_type="DataQuality",
            schedule_config=aws.sagemaker.MonitoringScheduleMonitoringScheduleConfigScheduleConfigArgs(schedule_expression=MONITORING_SCHEDULES[m.schedule]),
        ),
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[endpoint]),
    )
    alarms = accuracy_alarms(settings, references.accuracy_threshold, topic_arn, tags, child)
    return ModelQuality(role, policy, job, schedule, alarms, where, image.registry_path, references.accuracy_threshold)


def _network(vpc: Vpc):
    if not vpc.enabled:
        return None
    return aws.sagemaker.DataQualityJobDefinitionNetworkConfigArgs(
        vpc_config=aws.sagemaker.DataQualityJobDefinitionNetworkConfigVpcConfigArgs(subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids))
    )


def accuracy_alarms(settings: MonitoringSettings, threshold: float, topic_arn, tags: dict, child: pulumi.ResourceOptions) -> dict[str, aws.cloudwatch.MetricAlarm]:
    """PredictionAccuracy under the threshold, per production variant. A period without a value (no labels yet) is no
    evidence, so it does not breach; the alarm does not roll deployments back (labels arrive long after a rollout)."""
    actions = [topic_arn] if topic_arn is not None else []
    alarms = {}
    for index, variant in enumerate(settings.variants):
        if variant.is_shadow:
            continue  # its predictions reach no caller: compared for agreement (`monitor drift --agreement`), not alarmed
        alarms[variant.name] = aws.cloudwatch.MetricAlarm(
            logical_name(settings.endpoint_name, "alarm-accuracy") + suffix(index, variant.name),
            name=accuracy_alarm_name(settings.endpoint_name, variant.name if index else None),
            alarm_description=f"{settings.endpoint_name}/{variant.name}: PredictionAccuracy under {threshold:g} (captured predictions against ground truth).",
            namespace=MODEL_QUALITY_NAMESPACE,
            metric_name=PREDICTION_ACCURACY_METRIC,
            dimensions=model_quality_dimensions(settings.endpoint_name, variant.name),
            statistic="Average",
            comparison_operator="LessThanThreshold",
            threshold=threshold,
            period=settings.alarm_period_seconds,
            evaluation_periods=1,
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=tags,
            opts=child,
        )
    return alarms


def _object_arn(partition: str, uri: str) -> str:
    bucket, key = split_s3_uri(uri)
    return f"arn:{partition}:s3:::{bucket}/{key}*"


def monitor_policy(settings: MonitoringSettings, where: dict, region: str, account: str, partition: str, registry: str) -> dict:
    """The monitoring job's only permissions: read the captured data, the baseline and the ground truth, write the
    reports, pull the analyzer image, write its logs and its metrics."""
    baseline = where["baseline_statistics"].rsplit("/", 1)[0] + "/"
    readable = [where["capture"], baseline, where["ground_truth"]]
    buckets: dict[str, list[str]] = {}
    for uri in [*readable, where["reports"]]:
        bucket, key = split_s3_uri(uri)
        buckets.setdefault(bucket, []).append(f"{key}*")
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:{PROCESSING_LOG_GROUP}"
    statements = [
        {"Sid": "ReadCaptureBaselineGroundTruth", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [_object_arn(partition, u) for u in readable]},
        *(
            {
                "Sid": f"ListMonitoredPrefixes{i}",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:{partition}:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": prefixes}},
            }
            for i, (bucket, prefixes) in enumerate(sorted(buckets.items()))
        ),
        {"Sid": "WriteReports", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [_object_arn(partition, where["reports"])]},
        *container_statements(
            ContainerGrants(f"arn:{partition}:ecr:{region}:{registry}:repository/{MONITOR_REPOSITORY}", log_group, DATA_METRICS_NAMESPACE, "Analyzer", "Job", "DataQuality")
        ),
    ]
    if settings.capture_key:
        statements.append({"Sid": "DecryptCapturedData", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [settings.capture_key]})
    if settings.kms_key_arn:
        statements.append(
            {"Sid": "UseBundleKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"], "Resource": [settings.kms_key_arn]}
        )
    if settings.vpc.enabled:  # the job's instances attach network interfaces in the endpoint's subnets
        statements += vpc_statements(settings.vpc, region, account, partition)
    return {"Version": "2012-10-17", "Statement": statements}
