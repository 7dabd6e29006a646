"""Autoscaling of a variant: a scalable target and a target-tracking policy on SageMaker's invocations per instance,
registered after the endpoint exists and kept out of UpdateEndpoint's way (bundle/deploy/rollout.py).

An asynchronous endpoint publishes no invocations per instance: it tracks its queue instead, as AWS documents scale to
zero for async inference: target tracking on ApproximateBacklogSizePerInstance (a customized metric: AWS/SageMaker,
EndpointName, Average), and, because target tracking never scales out from zero instances (backlog per instance is
undefined there), a step policy (+1 instance at lower bound 0) fired by an alarm on HasBacklogWithoutCapacity >= 1
for 2 x 60 s, missing data treated as missing."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy.rollout import SERVICE_NAMESPACE, scaling_policy_options, scaling_target_options
from bundle.deploy.observability import EndpointQueueMetrics
from bundle.names import (
    BACKLOG_METRIC,
    SCALABLE_DIMENSION,
    SCALING_METRIC,
    async_alarm_names,
    backlog_policy_name,
    logical_name,
    scaling_policy_name,
    scaling_resource_id,
    wake_policy_name,
)
from bundle.params.model import AsyncInference, Autoscaling


@dataclass(frozen=True)
class VariantScaling:
    target: aws.appautoscaling.Target
    policy: aws.appautoscaling.Policy
    wake_policy: aws.appautoscaling.Policy | None = None  # async: the step policy that wakes a fleet at zero
    wake_alarm: aws.cloudwatch.MetricAlarm | None = None  # async: HasBacklogWithoutCapacity, firing the step policy


def create_autoscaling(
    settings: Autoscaling,
    endpoint_name: str,
    variant_name: str,
    endpoint: aws.sagemaker.Endpoint,
    config_name: pulumi.Output[str],
    parent: pulumi.Resource,
    names: tuple[str, str, str] | None = None,  # (target, policy, policy name) of an extra variant; None: the primary's
    asynchronous: AsyncInference | None = None,
    tags: dict | None = None,
) -> VariantScaling:
    target_name, policy_logical, policy_name = names or (
        logical_name(endpoint_name, "scaling-target"),
        logical_name(endpoint_name, "scaling-policy"),
        scaling_policy_name(endpoint_name),
    )
    target = aws.appautoscaling.Target(
        target_name,
        service_namespace=SERVICE_NAMESPACE,
        resource_id=endpoint.name.apply(lambda name: scaling_resource_id(name, variant_name)),
        scalable_dimension=SCALABLE_DIMENSION,
        min_capacity=settings.min_capacity,
        max_capacity=settings.max_capacity,
        opts=scaling_target_options(parent, endpoint, config_name),
    )
    if asynchronous is not None:
        return _backlog_scaling(settings, asynchronous, endpoint_name, target, parent, tags or {})
    tracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs
    metric = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs
    policy = aws.appautoscaling.Policy(
        policy_logical,
        name=policy_name,
        policy_type="TargetTrackingScaling",
        service_namespace=target.service_namespace,
        resource_id=target.resource_id,
        scalable_dimension=target.scalable_dimension,
        target_tracking_scaling_policy_configuration=tracking(
            target_value=settings.target_invocations_per_instance,
            predefined_metric_specification=metric(predefined_metric_type=SCALING_METRIC),
            scale_in_cooldown=settings.scale_in_cooldown,
            scale_out_cooldown=settings.scale_out_cooldown,
        ),
        opts=scaling_policy_options(parent, target),
    )
    return VariantScaling(target, policy)


def _backlog_scaling(
    settings: Autoscaling, asynchronous: AsyncInference, endpoint_name: str, target: aws.appautoscaling.Target, parent: pulumi.Resource, tags: dict
) -> VariantScaling:
    queue = EndpointQueueMetrics(endpoint_name)
    keys = dict(service_namespace=target.service_namespace, resource_id=target.resource_id, scalable_dimension=target.scalable_dimension)
    tracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs
    policy = aws.appautoscaling.Policy(
        logical_name(endpoint_name, "scaling-policy"),
        name=backlog_policy_name(endpoint_name),
        policy_type="TargetTrackingScaling",
        target_tracking_scaling_policy_configuration=tracking(
            target_value=asynchronous.target_backlog_per_instance,
            customized_metric_specification=queue.customized_metric(BACKLOG_METRIC, "Average"),
            scale_in_cooldown=settings.scale_in_cooldown,
            scale_out_cooldown=settings.scale_out_cooldown,
        ),
        opts=scaling_policy_options(parent, target),
        **keys,
    )
    step = aws.appautoscaling.PolicyStepScalingPolicyConfigurationStepAdjustmentArgs
    wake = aws.appautoscaling.Policy(
        logical_name(endpoint_name, "wake-policy"),
        name=wake_policy_name(endpoint_name),
        policy_type="StepScaling",
        step_scaling_policy_configuration=aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgs(
            adjustment_type="ChangeInCapacity",
            metric_aggregation_type="Average",
            cooldown=settings.scale_out_cooldown,
            step_adjustments=[step(metric_interval_lower_bound="0", scaling_adjustment=1)],
        ),
        opts=scaling_policy_options(parent, target),
        **keys,
    )
    alarm = aws.cloudwatch.MetricAlarm(
        logical_name(endpoint_name, "alarm-wake"),
        name=async_alarm_names(endpoint_name).backlog_without_capacity,
        alarm_description=f"{endpoint_name}: requests are queued and no instance runs. Adds one instance (the scale-from-zero step policy).",
        **queue.alarm_source(queue.BACKLOG_WITHOUT_CAPACITY),
        statistic="Average",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1,
        period=60,
        evaluation_periods=2,
        datapoints_to_alarm=2,
        treat_missing_data="missing",
        alarm_actions=[wake.arn],
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return VariantScaling(target, policy, wake, alarm)
