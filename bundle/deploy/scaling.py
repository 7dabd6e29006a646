"""Autoscaling of a real-time variant: a scalable target and a target-tracking policy on SageMaker's invocations per
instance, registered after the endpoint exists and kept out of UpdateEndpoint's way (bundle/deploy/rollout.py)."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy.rollout import SERVICE_NAMESPACE, scaling_policy_options, scaling_target_options
from bundle.names import SCALABLE_DIMENSION, SCALING_METRIC, logical_name, scaling_policy_name, scaling_resource_id
from bundle.params.model import Autoscaling


@dataclass(frozen=True)
class VariantScaling:
    target: aws.appautoscaling.Target
    policy: aws.appautoscaling.Policy


def create_autoscaling(
    settings: Autoscaling,
    endpoint_name: str,
    variant_name: str,
    endpoint: aws.sagemaker.Endpoint,
    config_name: pulumi.Output[str],
    parent: pulumi.Resource,
    names: tuple[str, str, str] | None = None,  # (target, policy, policy name) of an extra variant; None: the primary's
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
