"""What operators watch: each production variant's alarms (which also drive the automatic rollback), the mode's own
(bundle/deploy/modes.py), their SNS topic, and the dashboard (bundle/deploy/dashboard.py).

Everything is keyed by plain strings from the params (endpoint and variant names), not by the Endpoint's outputs:
the alarms must exist before the Endpoint, whose deployment configuration names them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy import dashboard
from bundle.deploy.fleet import suffix
from bundle.deploy.metrics import MICROSECONDS_PER_MS, EndpointQueueMetrics, VariantMetrics, Watched
from bundle.names import AlarmNames, AsyncAlarmNames, alarm_names, alarm_topic_name, dashboard_name, logical_name

# The console's host per partition; aws-cn and aws-us-gov have their own.
CONSOLE_HOSTS = {"aws": "{region}.console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def dashboard_url(partition: str, region: str, name: str) -> str:
    host = CONSOLE_HOSTS.get(partition, CONSOLE_HOSTS["aws"]).format(region=region)
    return f"https://{host}/cloudwatch/home?region={region}#dashboards/dashboard/{name}"


@dataclass(frozen=True)
class Observability:
    alarms: list[aws.cloudwatch.MetricAlarm]
    variant_names: dict[str, AlarmNames]  # each production variant's alarms, by variant, the primary's first
    mode_alarm_names: list[str]  # the mode's alarms that roll an update back (async: failed requests)
    topic_arn: pulumi.Output[str] | None
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]

    @property
    def names(self) -> AlarmNames:
        """The primary's."""
        return next(iter(self.variant_names.values()))

    def rollback_alarm_names(self) -> list[str]:
        """The alarms that can fire because of a new fleet: every production variant's model errors and latency,
        and the mode's (async: failed requests)."""
        return [n for names in self.variant_names.values() for n in names.all()] + self.mode_alarm_names


def create_observability(w: Watched, mode, parent: pulumi.Resource, tags: dict, region: pulumi.Output[str], partition: pulumi.Output[str]) -> Observability:
    """`mode` (bundle/deploy/modes.py) adds its own alarms and picks the dashboard's widgets."""
    child = pulumi.ResourceOptions(parent=parent)
    topic_arn = _alarm_topic(w, tags, child)
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
    alarms, variant_names = [], {}
    for index, variant in enumerate(w.variants):
        if variant.is_shadow:
            continue  # graphed, not alarmed: callers never see its answers
        names = alarm_names(w.endpoint_name, variant.name if index else None)
        alarms += _variant_alarms(w, variant.name, names, suffix(index, variant.name), common)
        variant_names[variant.name] = names
    alarms += mode.alarms(w, common)
    board = aws.cloudwatch.Dashboard(
        logical_name(w.endpoint_name, "dashboard"),
        dashboard_name=dashboard_name(w.endpoint_name),
        dashboard_body=pulumi.Output.all(region, *(a.arn for a in alarms)).apply(
            lambda v: json.dumps(dashboard.dashboard_body(w, mode, v[0], list(v[1:])), sort_keys=True)
        ),
        opts=child,
    )
    url = pulumi.Output.all(partition, region).apply(lambda v: dashboard_url(v[0], v[1], dashboard_name(w.endpoint_name)))
    return Observability(alarms, variant_names, mode.rollback_alarm_names(), topic_arn, board, url)


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


