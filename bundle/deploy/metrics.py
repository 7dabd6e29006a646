"""The endpoint's CloudWatch metrics, next to what they measure (as aws-cdk's sagemaker Endpoint has metricInvocations,
metricModelLatency, ...): the alarms, the scaling policies and the dashboard name metrics only through these.
"""
from __future__ import annotations

from dataclasses import dataclass

from bundle.params.model import Alarms, AsyncInference, Variant

SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # invocation metrics
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"  # instance (utilization) metrics
MICROSECONDS_PER_MS = 1000  # ModelLatency and OverheadLatency are published in microseconds
@dataclass(frozen=True)
class Watched:
    """What the alarms and the dashboard need to know of the stack."""

    endpoint_name: str
    variants: tuple[Variant, ...]  # the primary first; each production variant is alarmed, the shadow only graphed
    alarms: Alarms
    asynchronous: AsyncInference | None = None  # deployment_mode async: queue metrics instead of invocations
    multi_model: bool = False  # a multi-model endpoint: its cache, loading and loaded-model metrics too
    accuracy_threshold: float | None = None  # monitoring.enabled: PredictionAccuracy and drift graphed, this line drawn

    @property
    def variant_name(self) -> str:
        """The primary's."""
        return self.variants[0].name


@dataclass(frozen=True)
class VariantMetrics:
    """The variant's CloudWatch metrics, next to what they measure (as aws-cdk's sagemaker Endpoint has
    metricInvocations, metricModelLatency, ...): the alarms and the dashboard name them only through these."""

    endpoint_name: str
    variant_name: str

    @property
    def dimensions(self) -> dict[str, str]:
        return {"EndpointName": self.endpoint_name, "VariantName": self.variant_name}

    def graphed(self, namespace: str, name: str, **options) -> list:
        """A dashboard metric line: [namespace, name, dimension, value, ..., options]."""
        return [namespace, name, "EndpointName", self.endpoint_name, "VariantName", self.variant_name, options]

    def invocations(self, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, "Invocations", **options)

    def errors_4xx(self, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, "Invocation4XXErrors", **options)

    def errors_5xx(self, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, "Invocation5XXErrors", **options)

    def latency_ms(self, name: str, stat: str, ref: str) -> list[list]:
        """ModelLatency or OverheadLatency in milliseconds: the raw metric (microseconds) hidden, shown through metric math."""
        hidden = self.graphed(SAGEMAKER_NAMESPACE, name, stat=stat, id=ref, visible=False)
        return [hidden, [{"expression": f"{ref}/{MICROSECONDS_PER_MS}", "label": f"{name} {stat} (ms)", "id": f"{ref}ms"}]]

    def instance(self, name: str, **options) -> list:
        """CPUUtilization, MemoryUtilization, ...: the instances' (or serverless containers') own metrics."""
        return self.graphed(ENDPOINT_NAMESPACE, name, **options)

    def serverless(self, name: str, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, name, **options)

    def multi_model(self, name: str, **options) -> list:
        """ModelCacheHit, ModelLoadingWaitTime, ... (AWS/SageMaker); LoadedModelCount is an instance metric (instance())."""
        return self.graphed(SAGEMAKER_NAMESPACE, name, **options)

    def multi_model_ms(self, name: str, stat: str, ref: str) -> list[list]:
        """A multi-model timing (published in microseconds) in milliseconds."""
        hidden = self.graphed(SAGEMAKER_NAMESPACE, name, stat=stat, id=ref, visible=False)
        return [hidden, [{"expression": f"{ref}/{MICROSECONDS_PER_MS}", "label": f"{name} {stat} (ms)", "id": f"{ref}ms"}]]

    def alarm_source(self, name: str) -> dict:
        """The arguments a MetricAlarm on one of the variant's invocation metrics takes."""
        return {"namespace": SAGEMAKER_NAMESPACE, "metric_name": name, "dimensions": self.dimensions}

    # Asynchronous endpoints: per-variant outcomes of queued requests (they publish no Invocations).
    def invocation_failures(self, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, "InvocationFailures", **options)

    def notification_failures(self, **options) -> list:
        return self.graphed(SAGEMAKER_NAMESPACE, "NotificationFailures", **options)


@dataclass(frozen=True)
class EndpointQueueMetrics:
    """An asynchronous endpoint's queue metrics: AWS/SageMaker with the EndpointName dimension only (the queue is the
    endpoint's, not a variant's). The sibling of VariantMetrics; the scaling policies, the alarms and the dashboard
    name them only through these."""

    endpoint_name: str

    BACKLOG = "ApproximateBacklogSize"
    BACKLOG_PER_INSTANCE = "ApproximateBacklogSizePerInstance"
    OLDEST_REQUEST_AGE = "ApproximateAgeOfOldestRequest"
    BACKLOG_WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"

    @property
    def dimensions(self) -> dict[str, str]:
        return {"EndpointName": self.endpoint_name}

    def graphed(self, name: str, **options) -> list:
        return [SAGEMAKER_NAMESPACE, name, "EndpointName", self.endpoint_name, options]

    def alarm_source(self, name: str) -> dict:
        return {"namespace": SAGEMAKER_NAMESPACE, "metric_name": name, "dimensions": self.dimensions}

    def customized_metric(self, name: str, statistic: str = "Average") -> dict:
        """Application Auto Scaling's CustomizedMetricSpecification (snake_case, as pulumi-aws takes it)."""
        return {
            "metric_name": name,
            "namespace": SAGEMAKER_NAMESPACE,
            "statistic": statistic,
            "dimensions": [{"name": k, "value": v} for k, v in self.dimensions.items()],
        }
