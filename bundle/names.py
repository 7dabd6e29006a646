"""Names derived from the endpoint's name: logical names that keep physical names within AWS limits, and AWS ids."""
from __future__ import annotations

from dataclasses import dataclass

# Physical names are <logical name>-<7 random chars>; SageMaker and IAM allow 63/64, S3 63 (lowercase).
AUTONAME_SUFFIX = 8
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# The container finds the shipped code/inference.py through these (code inside model.tar.gz: no S3 fetch).
MODEL_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
}
# The inference pipeline's first container (preprocessing.enabled): its handlers, and the CSV it answers the model with
# (the image's default Accept, as AWS's own scikit-learn preprocessing examples set it).
PREPROCESSING_ENVIRONMENT = {
    "SAGEMAKER_PROGRAM": "preprocessing.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
    "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv",
}
# The pipeline's containers in the order they run (their ContainerHostname): a bad request's error names its stage.
PIPELINE_STAGES = ("preprocessing", "model")
SAGEMAKER_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SCALING_METRIC = "SageMakerVariantInvocationsPerInstance"
BUNDLE_TAG = "sagemaker-endpoint-bundle"  # the value of the `bundle` tag on every resource


def logical_name(endpoint_name: str, suffix: str, limit: int = 63, lower: bool = False) -> str:
    """`<endpoint>-<suffix>`, cut so that the auto-named physical name fits `limit`."""
    room = limit - AUTONAME_SUFFIX - len(suffix) - 1
    base = endpoint_name[:room].rstrip("-")
    name = f"{base}-{suffix}"
    return name.lower() if lower else name


def log_group_name(endpoint_name: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def scaling_resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


def scaling_policy_name(endpoint_name: str, variant_name: str | None = None) -> str:
    """The primary's policy keeps the endpoint's name; another variant's is named by it too."""
    base = f"{endpoint_name}-{variant_name}" if variant_name else endpoint_name
    return f"{base}-invocations-per-instance"


def arn_region(arn: str) -> str:
    """The region field of an ARN ("" when it has none)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class AlarmNames:
    invocation_5xx: str
    model_latency: str

    def all(self) -> list[str]:
        return [self.invocation_5xx, self.model_latency]


def alarm_names(endpoint_name: str, variant_name: str | None = None) -> AlarmNames:
    """The primary's alarms keep the endpoint's names; an extra variant's are named by it too."""
    base = f"{endpoint_name}-{variant_name}" if variant_name else endpoint_name
    return AlarmNames(f"{base}-invocation-5xx", f"{base}-model-latency")


def dashboard_name(endpoint_name: str) -> str:
    return f"sagemaker-endpoint-{endpoint_name}"


def alarm_topic_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-alarms"


# --- asynchronous inference (deployment_mode async) ---------------------------------------------------
# Where requests, answers and failures live in the bundle's bucket when the params name no other place.
BATCH_PREFIXES = {"input": "batch/input", "output": "batch/output"}  # batch transform, likewise
ASYNC_PREFIXES = {"input": "async-inference/input", "output": "async-inference/output", "failure": "async-inference/failures"}
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"  # async endpoints publish no invocations per instance


def backlog_policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-backlog-per-instance"


def wake_policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-wake-from-zero"


def async_topic_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-async-results"


@dataclass(frozen=True)
class AsyncAlarmNames:
    oldest_request_age: str
    backlog: str
    invocation_failures: str
    notification_failures: str
    backlog_without_capacity: str  # drives the step policy that wakes a fleet at zero; notifies nobody

    def all(self) -> list[str]:
        return [self.oldest_request_age, self.backlog, self.invocation_failures, self.notification_failures]


def async_alarm_names(endpoint_name: str) -> AsyncAlarmNames:
    return AsyncAlarmNames(
        f"{endpoint_name}-oldest-request-age",
        f"{endpoint_name}-backlog",
        f"{endpoint_name}-invocation-failures",
        f"{endpoint_name}-notification-failures",
        f"{endpoint_name}-backlog-without-capacity",
    )


# --- model quality (monitoring.enabled) ---------------------------------------------------------------
# `python -m bundle monitor accuracy --publish` and `monitor drift --publish` put these; the stack's alarm watches the first.
MODEL_QUALITY_NAMESPACE = "SageMakerBundle/ModelQuality"
PREDICTION_ACCURACY_METRIC = "PredictionAccuracy"  # captured predictions that match their ground truth, 0 to 1
FEATURE_DRIFT_METRIC = "FeatureDriftPSIMax"  # the worst feature's population stability index against the training data
# Where Model Monitor reads and writes in the bundle's bucket (the ground truth's prefix is the params').
MONITORING_BASELINE_PREFIX = "monitoring/baseline"  # <prefix>/<sha256[:12] of the baseline>/statistics.json, constraints.json
MONITORING_REPORTS_PREFIX = "monitoring/reports"  # <prefix>/<endpoint name>/: the data-quality job's reports
# Model Monitor's schedules: cron expressions it accepts (hourly, daily at midnight UTC).
MONITORING_SCHEDULES = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}


def model_quality_dimensions(endpoint_name: str, variant_name: str) -> dict[str, str]:
    return {"EndpointName": endpoint_name, "VariantName": variant_name}


def accuracy_alarm_name(endpoint_name: str, variant_name: str | None = None) -> str:
    """The primary's alarm keeps the endpoint's name; another production variant's is named by it too."""
    base = f"{endpoint_name}-{variant_name}" if variant_name else endpoint_name
    return f"{base}-prediction-accuracy"


def monitoring_schedule_name(endpoint_name: str) -> str:
    return f"{endpoint_name[:50].rstrip('-')}-data-quality"


def ground_truth_location(bucket: str, prefix: str, endpoint_name: str) -> str:
    """Where labels go: Model Monitor reads <location>yyyy/mm/dd/hh/*.jsonl, as captured data is laid out."""
    return f"s3://{bucket}/{prefix.strip('/')}/{endpoint_name}/"
