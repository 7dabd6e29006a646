"""What operators watch: the variant's alarms (which also drive the automatic rollback), their SNS topic, the dashboard.

Everything is keyed by plain strings from the params (endpoint and variant names), not by the Endpoint's outputs:
the alarms must exist before the Endpoint, whose deployment configuration names them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.naming import AlarmNames, alarm_names, alarm_topic_name, dashboard_name, logical_name  # noqa: F401 (re-exported)
from bundle.params import Params

SAGEMAKER_NAMESPACE = "AWS/SageMaker"  # invocation metrics
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"  # instance (utilization) metrics
MICROSECONDS_PER_MS = 1000  # ModelLatency and OverheadLatency are published in microseconds
# The console's host per partition; aws-cn and aws-us-gov have their own.
CONSOLE_HOSTS = {"aws": "{region}.console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def dashboard_url(partition: str, region: str, name: str) -> str:
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"]).format(region=region)
    return f"https://{host}/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


def variant_dimensions(p: Params) -> dict[str, str]:
    return {"EndpointName": p.endpoint_name, "VariantName": p.variant_name}


@dataclass(frozen=True)
class Observability:
    alarms: list[aws.cloudwatch.MetricAlarm]
    names: AlarmNames
    topic_arn: pulumi.Output[str] | None
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]


def create_observability(
    p: Params, parent: pulumi.Resource, tags: dict, region: pulumi.Output[str], partition: pulumi.Output[str]
) -> Observability:
    child = pulumi.ResourceOptions(parent=parent)
    topic_arn = _alarm_topic(p, tags, child)
    names = alarm_names(p.endpoint_name)
    actions = [topic_arn] if topic_arn is not None else []
    common = dict(
        namespace=SAGEMAKER_NAMESPACE,
        dimensions=variant_dimensions(p),
        period=p.alarms.period_seconds,
        evaluation_periods=p.alarms.evaluation_periods,
        # No traffic is no evidence: a quiet endpoint must neither alarm nor roll back.
        treat_missing_data="notBreaching",
        alarm_actions=actions,
        ok_actions=actions,
        tags=tags,
        opts=child,
    )
    errors = aws.cloudwatch.MetricAlarm(
        logical_name(p.endpoint_name, "alarm-5xx"),
        name=names.invocation_5xx,
        alarm_description=f"{p.endpoint_name}/{p.variant_name}: model errors (HTTP 5XX). Rolls back a deployment in progress.",
        metric_name="Invocation5XXErrors",
        statistic="Sum",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=p.alarms.invocation_5xx_threshold,
        **common,
    )
    latency = aws.cloudwatch.MetricAlarm(
        logical_name(p.endpoint_name, "alarm-latency"),
        name=names.model_latency,
        alarm_description=(
            f"{p.endpoint_name}/{p.variant_name}: ModelLatency {p.alarms.model_latency_percentile} above "
            f"{p.alarms.model_latency_threshold_ms:g} ms. Rolls back a deployment in progress."
        ),
        metric_name="ModelLatency",
        extended_statistic=p.alarms.model_latency_percentile,
        comparison_operator="GreaterThanThreshold",
        threshold=p.alarms.model_latency_threshold_ms * MICROSECONDS_PER_MS,
        # A percentile of a handful of requests is noise (one cold request): such periods are not evaluated.
        evaluate_low_sample_count_percentiles="ignore",
        **common,
    )
    dashboard = aws.cloudwatch.Dashboard(
        logical_name(p.endpoint_name, "dashboard"),
        dashboard_name=dashboard_name(p.endpoint_name),
        dashboard_body=pulumi.Output.all(region, errors.arn, latency.arn).apply(
            lambda v: json.dumps(dashboard_body(p, v[0], list(v[1:])), sort_keys=True)
        ),
        opts=child,
    )
    url = pulumi.Output.all(partition, region).apply(lambda v: dashboard_url(v[0], v[1], dashboard_name(p.endpoint_name)))
    return Observability([errors, latency], names, topic_arn, dashboard, url)


def _alarm_topic(p: Params, tags: dict, child: pulumi.ResourceOptions) -> pulumi.Output[str] | None:
    """An email creates the bundle's topic; a topic ARN is used as it is; neither: alarms notify nobody."""
    if p.alarms.topic_arn:
        return pulumi.Output.from_input(p.alarms.topic_arn)
    if not p.alarms.email:
        return None
    # Not encrypted: CloudWatch cannot publish to a topic under the AWS-managed aws/sns key.
    topic = aws.sns.Topic(logical_name(p.endpoint_name, "alarms"), name=alarm_topic_name(p.endpoint_name), tags=tags, opts=child)
    aws.sns.TopicSubscription(
        logical_name(p.endpoint_name, "alarms-email"), topic=topic.arn, protocol="email", endpoint=p.alarms.email, opts=child
    )
    return topic.arn


# --- the dashboard ----------------------------------------------------------------------------------


def _metric(namespace: str, name: str, p: Params, **options) -> list:
    return [namespace, name, "EndpointName", p.endpoint_name, "VariantName", p.variant_name, options]


def _graph(title: str, metrics: list, region: str, **properties) -> dict:
    return {"type": "metric", "properties": {"title": title, "metrics": metrics, "region": region, "view": "timeSeries", "period": 60, **properties}}


def _latency_ms(name: str, stat: str, p: Params, ref: str) -> list[list]:
    """A latency in milliseconds: the raw metric (microseconds) hidden, shown through metric math."""
    hidden = _metric(SAGEMAKER_NAMESPACE, name, p, stat=stat, id=ref, visible=False)
    return [hidden, [{"expression": f"{ref}/{MICROSECONDS_PER_MS}", "label": f"{name} {stat} (ms)", "id": f"{ref}ms"}]]


def dashboard_body(p: Params, region: str, alarm_arns: list[str]) -> dict:
    """The dashboard: the same widgets in the same places every time, only metrics that exist for the mode."""
    stat = p.alarms.model_latency_percentile
    threshold = {"horizontal": [{"label": f"alarm: {p.alarms.invocation_5xx_threshold} per {p.alarms.period_seconds}s", "value": p.alarms.invocation_5xx_threshold}]}
    latency_line = {"horizontal": [{"label": f"alarm: {stat} {p.alarms.model_latency_threshold_ms:g} ms", "value": p.alarms.model_latency_threshold_ms}]}
    widgets = [
        _graph("Invocations (per minute)", [_metric(SAGEMAKER_NAMESPACE, "Invocations", p, stat="Sum")], region),
        _graph(
            "Errors: 4XX (client input), 5XX (model; alarmed)",
            [
                _metric(SAGEMAKER_NAMESPACE, "Invocation4XXErrors", p, stat="Sum"),
                _metric(SAGEMAKER_NAMESPACE, "Invocation5XXErrors", p, stat="Sum"),
            ],
            region,
            annotations=threshold,
        ),
        _graph(
            "Latency (ms): model, and SageMaker's overhead",
            _latency_ms("ModelLatency", stat, p, "model") + _latency_ms("OverheadLatency", stat, p, "overhead"),
            region,
            annotations=latency_line,
        ),
    ]
    if p.is_serverless:
        concurrency = [_metric(SAGEMAKER_NAMESPACE, "ServerlessConcurrentExecutionsUtilization", p, stat="Maximum")]
        if p.serverless and p.serverless.provisioned_concurrency:
            concurrency += [
                _metric(SAGEMAKER_NAMESPACE, "ServerlessProvisionedConcurrencyUtilization", p, stat="Maximum"),
                _metric(SAGEMAKER_NAMESPACE, "ServerlessProvisionedConcurrencySpilloverInvocations", p, stat="Sum"),
            ]
        widgets += [
            _graph("Concurrency (share of max_concurrency in use)", concurrency, region),
            _graph("Cold starts: ModelSetupTime (µs)", [_metric(SAGEMAKER_NAMESPACE, "ModelSetupTime", p, stat="Maximum")], region),
            _graph("Memory (%)", [_metric(ENDPOINT_NAMESPACE, "MemoryUtilization", p, stat="Average")], region),
        ]
    else:
        widgets += [
            # No metric counts instances; every instance reports CPUUtilization once a minute, so the samples do.
            _graph("Instances (CPUUtilization samples per minute)", [_metric(ENDPOINT_NAMESPACE, "CPUUtilization", p, stat="SampleCount", label="instances")], region),
            _graph(
                "CPU and memory (%; CPU is summed over cores)",
                [
                    _metric(ENDPOINT_NAMESPACE, "CPUUtilization", p, stat="Average"),
                    _metric(ENDPOINT_NAMESPACE, "MemoryUtilization", p, stat="Average"),
                ],
                region,
            ),
        ]
    widgets.append({"type": "alarm", "properties": {"title": "Alarms (they roll back a deployment in progress)", "alarms": alarm_arns}})
    width, height = 12, 6
    placed = [{**w, "x": (i % 2) * width, "y": (i // 2) * height, "width": width, "height": height} for i, w in enumerate(widgets)]
    return {"widgets": placed}
