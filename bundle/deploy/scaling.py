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
from bundle.deploy.metrics import EndpointQueueMetrics
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
from bundle.deploy.fleet import suffix
from bundle.params.model import AsyncInference, Variant


@dataclass(frozen=True)
class VariantScaling:
    target: aws.appautoscaling.Target
    policy: aws.appautoscaling.Policy
    wake_policy: aws.appautoscaling.Policy | None = None  # async: the step policy that wakes a fleet at zero
    wake_alarm: aws.cloudwatch.MetricAlarm | None = None  # async: HasBacklogWithoutCapacity, firing the step policy


def _target(variant: Variant, index: int, endpoint_name: str, endpoint, config_name: pulumi.Output[str], parent: pulumi.Resource) -> aws.appautoscaling.Target:
    settings = variant.autoscaling
    return aws.appautoscaling.Target(
        logical_name(endpoint_name, "scaling-target") + suffix(index, variant.name),
        service_namespace=SERVICE_NAMESPACE,
        resource_id=endpoint.name.apply(lambda name: scaling_resource_id(name, variant.name)),
        scalable_dimension=SCALABLE_DIMENSION,
        min_capacity=settings.min_capacity,
        max_capacity=settings.max_capacity,
        opts=scaling_target_options(parent, endpoint, config_name),
    )


def invocations_scaling(
    variant: Variant, index: int, endpoint_name: str, endpoint: aws.sagemaker.Endpoint, config_name: pulumi.Output[str], parent: pulumi.Resource
) -> VariantScaling:
    """Target tracking on SageMaker's invocations per instance: real-time variants."""
    settings = variant.autoscaling
    target = _target(variant, index, endpoint_name, endpoint, config_name, parent)
    tracking = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs
    metric = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs
    policy = aws.appautoscaling.Policy(
        logical_name(endpoint_name, "scaling-policy") + suffix(index, variant.name),
        name=scaling_policy_name(endpoint_name, variant.name if index else None),
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


def backlog_scaling(
    variant: Variant, asynchronous: AsyncInference, endpoint_name: str, endpoint, config_name: pulumi.Output[str], parent: pulumi.Resource, tags: dict
) -> VariantScaling:
    """An async endpoint's one variant: target tracking on the queue's backlog, and a step policy that wakes it from zero."""
    settings = variant.autoscaling
    target = _target(variant, 0, endpoint_name, endpoint, config_name, parent)
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
