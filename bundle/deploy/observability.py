"""What operators watch: the variant's alarms (which also drive the automatic rollback), their SNS topic, the dashboard.

Everything is keyed by plain strings from the params (endpoint and variant names), not by the Endpoint's outputs:
the alarms must exist before the Endpoint, whose deployment configuration names them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.names import AlarmNames, AsyncAlarmNames, alarm_names, alarm_topic_name, async_alarm_names, dashboard_name, logical_name  # noqa: F401
from bundle.params.model import AsyncInference
from bundle.params.model import Alarms, Serverless

SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # invocation metrics
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"  # instance (utilization) metrics
MICROSECONDS_PER_MS = 1000  # ModelLatency and OverheadLatency are published in microseconds
# The console's host per partition; aws-cn and aws-us-gov have their own.
CONSOLE_HOSTS = {"aws": "{region}.console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def dashboard_url(partition: str, region: str, name: str) -> str:
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"]).format(region=region)
    return f"https://{host}/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


@dataclass(frozen=True)
class Watched:
    """What the alarms and the dashboard need to know of the stack."""

    endpoint_name: str
    variant_name: str
    alarms: Alarms
    serverless: Serverless | None  # None: real-time instances
    extra_variants: tuple[str, ...] = ()  # A/B: more production variants, each with its own alarms
    shadow_variant: str | None = None  # graphed next to the production variant; not alarmed (callers never see its answers)
    asynchronous: AsyncInference | None = None  # deployment_mode async: queue metrics instead of invocations
    multi_model: bool = False  # a multi-model endpoint: its cache, loading and loaded-model metrics too

    @property
    def graphed_variants(self) -> tuple[str, ...]:
        return (self.variant_name, *self.extra_variants, *([self.shadow_variant] if self.shadow_variant else []))


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


@dataclass(frozen=True)
class Observability:
    alarms: list[aws.cloudwatch.MetricAlarm]
    names: AlarmNames  # the primary variant's
    topic_arn: pulumi.Output[str] | None
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]
    variant_names: tuple[tuple[str, AlarmNames], ...] = ()  # the extra production variants' alarms, by variant
    async_names: AsyncAlarmNames | None = None  # deployment_mode async

    def rollback_alarm_names(self) -> list[str]:
        """The alarms that can fire because of a new fleet: every production variant's model errors and latency and,
        for async, failed requests. Not the queue's: a backlog or an old request (a fleet waking from zero) says
        nothing of the new model."""
        return (
            self.names.all()
            + [n for _, names in self.variant_names for n in names.all()]
            + ([self.async_names.invocation_failures] if self.async_names else [])
        )


def create_observability(
    w: Watched, parent: pulumi.Resource, tags: dict, region: pulumi.Output[str], partition: pulumi.Output[str]
) -> Observability:
    child = pulumi.ResourceOptions(parent=parent)
    topic_arn = _alarm_topic(w, tags, child)
    names = alarm_names(w.endpoint_name)
    actions = [topic_arn] if topic_arn is not None else []
    common = dict(
        period=w.alarms.period_seconds,
        evaluation_periods=w.alarms.evaluation_periods,
        # No traffic is no evidence: a quiet endpoint must neither alarm nor roll back.
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=tags,
        opts=child,
    )
    errors, latency = _variant_alarms(w, w.variant_name, names, "", common)
    alarms = [errors, latency]
    variant_names = []
    for variant in w.extra_variants:
        extra = alarm_names(w.endpoint_name, variant)
        alarms += _variant_alarms(w, variant, extra, f"-{variant}", common)
        variant_names.append((variant, extra))
    async_names = None
    if w.asynchronous is not None:
        async_names = async_alarm_names(w.endpoint_name)
        alarms += async_alarms(w, async_names, VariantMetrics(w.endpoint_name, w.variant_name), common)
    body = dashboard_body if not (w.extra_variants or w.shadow_variant) else variants_dashboard_body
    dashboard = aws.cloudwatch.Dashboard(
        logical_name(w.endpoint_name, "dashboard"),
        dashboard_name=dashboard_name(w.endpoint_name),
        dashboard_body=pulumi.Output.all(region, *(a.arn for a in alarms)).apply(
            lambda v: json.dumps(body(w, v[0], list(v[1:])), sort_keys=True)
        ),
        opts=child,
    )
    url = pulumi.Output.all(partition, region).apply(lambda v: dashboard_url(v[0], v[1], dashboard_name(w.endpoint_name)))
    return Observability(alarms, names, topic_arn, dashboard, url, tuple(variant_names), async_names)


def _variant_alarms(w: Watched, variant: str, names: AlarmNames, suffix: str, common: dict) -> list[aws.cloudwatch.MetricAlarm]:
    """One variant's 5XX and latency alarms; the primary's keep their logical names (suffix "")."""
    metrics = VariantMetrics(w.endpoint_name, variant)
    errors = aws.cloudwatch.MetricAlarm(
        logical_name(w.endpoint_name, "alarm-5xx") + suffix,
        name=names.invocation_5xx,
        alarm_description=f"{w.endpoint_name}/{variant}: model errors (HTTP 5XX). Rolls back a deployment in progress.",
        **metrics.alarm_source("Invocation5XXErrors"),
        statistic="Sum",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=w.alarms.invocation_5xx_threshold,
        **common,
    )
    latency = aws.cloudwatch.MetricAlarm(
        logical_name(w.endpoint_name, "alarm-latency") + suffix,
        name=names.model_latency,
        alarm_description=(
            f"{w.endpoint_name}/{variant}: ModelLatency {w.alarms.model_latency_percentile} above "
            f"{w.alarms.model_latency_threshold_ms:g} ms. Rolls back a deployment in progress."
        ),
        **metrics.alarm_source("ModelLatency"),
        extended_statistic=w.alarms.model_latency_percentile,
        comparison_operator="GreaterThanThreshold",
        threshold=w.alarms.model_latency_threshold_ms * MICROSECONDS_PER_MS,
        # A percentile of a handful of requests is noise (one cold request): such periods are not evaluated.
        evaluate_low_sample_count_percentiles="ignore",
        **common,
    )
    return [errors, latency]


def async_alarms(w: Watched, names: AsyncAlarmNames, metrics: VariantMetrics, common: dict) -> list[aws.cloudwatch.MetricAlarm]:
    """An asynchronous endpoint's alarms: requests waiting too long, a backlog the fleet cannot absorb, failed
    requests (the model's), failed notifications (SNS's). Only invocation failures also roll a deployment back."""
    queue = EndpointQueueMetrics(w.endpoint_name)
    a, where = w.asynchronous, f"{w.endpoint_name}/{w.variant_name}"
    return [
        aws.cloudwatch.MetricAlarm(
            logical_name(w.endpoint_name, "alarm-oldest-request"),
            name=names.oldest_request_age,
            alarm_description=f"{w.endpoint_name}: a queued request has waited more than {a.oldest_request_age_alarm_seconds} s.",
            **queue.alarm_source(queue.OLDEST_REQUEST_AGE),
            statistic="Maximum",
            comparison_operator="GreaterThanThreshold",
            threshold=a.oldest_request_age_alarm_seconds,
            **common,
        ),
        aws.cloudwatch.MetricAlarm(
            logical_name(w.endpoint_name, "alarm-backlog"),
            name=names.backlog,
            alarm_description=f"{w.endpoint_name}: {a.backlog_alarm_size} or more requests queued; the fleet cannot keep up.",
            **queue.alarm_source(queue.BACKLOG),
            statistic="Average",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=a.backlog_alarm_size,
            **common,
        ),
        aws.cloudwatch.MetricAlarm(
            logical_name(w.endpoint_name, "alarm-failures"),
            name=names.invocation_failures,
            alarm_description=f"{where}: failed asynchronous requests (written under the failure path). Rolls back a deployment in progress.",
            **metrics.alarm_source("InvocationFailures"),
            statistic="Sum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=w.alarms.invocation_5xx_threshold,
            **common,
        ),
        aws.cloudwatch.MetricAlarm(
            logical_name(w.endpoint_name, "alarm-notifications"),
            name=names.notification_failures,
            alarm_description=f"{where}: SageMaker could not publish result notifications to SNS.",
            **metrics.alarm_source("NotificationFailures"),
            statistic="Sum",
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            **common,
        ),
    ]


def _alarm_topic(w: Watched, tags: dict, child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
    """An email creates the bundle's topic; a topic ARN is used as it is; neither: alarms notify nobody."""
    if w.alarms.topic_arn:
        return pulumi.Output.from_input(w.alarms.topic_arn)
    if not w.alarms.email:
        return None
    # Not encrypted: CloudWatch cannot publish to a topic under the AWS-managed aws/sns key.
    topic = aws.sns.Topic(logical_name(w.endpoint_name, "alarms"), name=alarm_topic_name(w.endpoint_name), tags=tags, opts=child)
    aws.sns.TopicSubscription(
        logical_name(w.endpoint_name, "alarms-email"), topic=topic.arn, protocol="email", endpoint=w.alarms.email, opts=child
    )
    return topic.arn


# --- the dashboard ----------------------------------------------------------------------------------


def _graph(title: str, metrics: list, region: str, **properties) -> dict:
    return {"type": "metric", "properties": {"title": title, "metrics": metrics, "region": region, "view": "timeSeries", "period": 60, **properties}}


def dashboard_body(w: Watched, region: str, alarm_arns: list[str]) -> dict:
    """The dashboard: the same widgets in the same places every time, only metrics that exist for the mode."""
    m = VariantMetrics(w.endpoint_name, w.variant_name)
    stat = w.alarms.model_latency_percentile
    threshold = {"horizontal": [{"label": f"alarm: {w.alarms.invocation_5xx_threshold} per {w.alarms.period_seconds}s", "value": w.alarms.invocation_5xx_threshold}]}
    latency_line = {"horizontal": [{"label": f"alarm: {stat} {w.alarms.model_latency_threshold_ms:g} ms", "value": w.alarms.model_latency_threshold_ms}]}
    if w.asynchronous is not None:
        widgets = async_widgets(w, m, region, threshold, latency_line)
    else:
        widgets = realtime_widgets(w, m, region, threshold, latency_line, stat)
    widgets.append({"type": "alarm", "properties": {"title": "Alarms (they roll back a deployment in progress)", "alarms": alarm_arns}})
    width, height = 12, 6
    placed = [{**w, "x": (i % 2) * width, "y": (i // 2) * height, "width": width, "height": height} for i, w in enumerate(widgets)]
    return {"widgets": placed}


def async_widgets(w: Watched, m: VariantMetrics, region: str, threshold: dict, latency_line: dict) -> list[dict]:
    """No Invocations, InvocationsPerInstance or OverheadLatency for async endpoints: the queue and the outcomes instead."""
    q = EndpointQueueMetrics(w.endpoint_name)
    stat = w.alarms.model_latency_percentile
    return [
        _graph("Backlog: queued requests, and per instance (the scaling metric)", [q.graphed(q.BACKLOG, stat="Average"), q.graphed(q.BACKLOG_PER_INSTANCE, stat="Average")], region),
        _graph(
            "Failures: requests (alarmed), notifications; 4XX, 5XX",
            [m.invocation_failures(stat="Sum"), m.notification_failures(stat="Sum"), m.errors_4xx(stat="Sum"), m.errors_5xx(stat="Sum")],
            region,
            annotations=threshold,
        ),
        _graph("Latency (ms): model", m.latency_ms("ModelLatency", stat, "model"), region, annotations=latency_line),
        _graph("Age of the oldest queued request (s)", [q.graphed(q.OLDEST_REQUEST_AGE, stat="Maximum")], region),
        _graph(
            "Instances (CPUUtilization samples per minute), and backlog without capacity",
            [m.instance("CPUUtilization", stat="SampleCount", label="instances"), q.graphed(q.BACKLOG_WITHOUT_CAPACITY, stat="Maximum")],
            region,
        ),
        _graph("CPU and memory (%; CPU is summed over cores)", [m.instance("CPUUtilization", stat="Average"), m.instance("MemoryUtilization", stat="Average")], region),
    ]


def realtime_widgets(w: Watched, m: VariantMetrics, region: str, threshold: dict, latency_line: dict, stat: str) -> list[dict]:
    widgets = [
        _graph("Invocations (per minute)", [m.invocations(stat="Sum")], region),
        _graph("Errors: 4XX (client input), 5XX (model; alarmed)", [m.errors_4xx(stat="Sum"), m.errors_5xx(stat="Sum")], region, annotations=threshold),
        _graph(
            "Latency (ms): model, and SageMaker's overhead",
            m.latency_ms("ModelLatency", stat, "model") + m.latency_ms("OverheadLatency", stat, "overhead"),
            region,
            annotations=latency_line,
        ),
    ]
    if w.serverless is not None:
        concurrency = [m.serverless("ServerlessConcurrentExecutionsUtilization", stat="Maximum")]
        if w.serverless.provisioned_concurrency:
            concurrency += [
                m.serverless("ServerlessProvisionedConcurrencyUtilization", stat="Maximum"),
                m.serverless("ServerlessProvisionedConcurrencySpilloverInvocations", stat="Sum"),
            ]
        widgets += [
            _graph("Concurrency (share of max_concurrency in use)", concurrency, region),
            _graph("Cold starts: ModelSetupTime (µs)", [m.serverless("ModelSetupTime", stat="Maximum")], region),
            _graph("Memory (%)", [m.instance("MemoryUtilization", stat="Average")], region),
        ]
    else:
        widgets += [
            # No metric counts instances; every instance reports CPUUtilization once a minute, so the samples do.
            _graph("Instances (CPUUtilization samples per minute)", [m.instance("CPUUtilization", stat="SampleCount", label="instances")], region),
            _graph(
                "CPU and memory (%; CPU is summed over cores)",
                [m.instance("CPUUtilization", stat="Average"), m.instance("MemoryUtilization", stat="Average")],
                region,
            ),
        ]
    if w.multi_model:
        widgets += [
            # Average of ModelCacheHit = the share of invocations whose model was already loaded.
            _graph("Multi-model: cache hits (share of invocations served by a loaded model)", [m.multi_model("ModelCacheHit", stat="Average")], region, yAxis={"left": {"min": 0, "max": 1}}),
            _graph(
                "Multi-model: cold starts (ms waiting for, downloading and loading a model)",
                m.multi_model_ms("ModelLoadingWaitTime", "Maximum", "wait")
                + m.multi_model_ms("ModelDownloadingTime", "Maximum", "download")
                + m.multi_model_ms("ModelLoadingTime", "Maximum", "load"),
                region,
            ),
            _graph(
                "Multi-model: loaded models (per instance) and unloads",
                [m.instance("LoadedModelCount", stat="Maximum"), m.multi_model("ModelUnloadingTime", stat="SampleCount", label="unloads")],
                region,
            ),
        ]
    return widgets


def variants_dashboard_body(w: Watched, region: str, alarm_arns: list[str]) -> dict:
    """Several variants (A/B, or a shadow): each graph has one line per variant, so they read side by side."""
    variants = w.graphed_variants
    metrics = [VariantMetrics(w.endpoint_name, v) for v in variants]
    stat = w.alarms.model_latency_percentile
    latency: list = []
    for i, m in enumerate(metrics):
        hidden, shown = m.latency_ms("ModelLatency", stat, f"model{i}")
        latency += [hidden, [{**shown[0], "label": f"{m.variant_name}: ModelLatency {stat} (ms)"}]]
    widgets = [
        _graph("Invocations per variant (per minute): the traffic split", [m.invocations(stat="Sum", label=m.variant_name) for m in metrics], region),
        _graph("5XX errors per variant (alarmed per production variant)", [m.errors_5xx(stat="Sum", label=m.variant_name) for m in metrics], region),
        _graph("4XX errors per variant (client input)", [m.errors_4xx(stat="Sum", label=m.variant_name) for m in metrics], region),
        _graph(f"Model latency per variant (ms, {stat})", latency, region),
        _graph("Instances per variant (CPUUtilization samples per minute)", [m.instance("CPUUtilization", stat="SampleCount", label=m.variant_name) for m in metrics], region),
        {"type": "alarm", "properties": {"title": "Alarms of every production variant (they roll back a deployment in progress)", "alarms": alarm_arns}},
    ]
    width, height = 12, 6
    return {"widgets": [{**g, "x": (i % 2) * width, "y": (i // 2) * height, "width": width, "height": height} for i, g in enumerate(widgets)]}
