"""How an update reaches traffic: SageMaker's guardrails (blue/green, or a rolling update), and autoscaling kept out of the way.

The strategy is a value of the params (`Deployment`): a blue/green traffic shift (ALL_AT_ONCE, CANARY, LINEAR) becomes a
BlueGreenUpdatePolicy, ROLLING a RollingUpdatePolicy; both roll back on the same alarms (AutoRollbackConfiguration).

AWS refuses UpdateEndpoint while the variant is a registered scalable target and the update changes its
instance type; the documented procedure is: delete the scaling policies and deregister the target, update,
register again. Pulumi cannot order that with resource options alone: the scalable target depends on the
endpoint, so every step of the target (even a delete-before-replace) runs after the endpoint's update.
So the bundle does it with the tools Pulumi 3.272 has:
- a `before_update` resource hook on the Endpoint deregisters the variant (policies first) whenever the
  endpoint moves to another endpoint configuration, before UpdateEndpoint is called;
- the scalable target is replaced whenever the endpoint configuration changes (`replacement_trigger` on
  the configuration's name), delete-before-replace, so Pulumi registers it again after the update; the
  policy is `deleted_with` the target (deregistering deletes a target's policies), so it is re-created too.
Deregistering on every configuration change, not only on an instance-type change, costs nothing: AWS
blocks scaling while an update runs anyway. And it keeps Pulumi's state and AWS in step: after any
successful `pulumi up` that touched the configuration, the target and its policy are registered again.
"""
from __future__ import annotations

from typing import Any, Callable

import pulumi
import pulumi_aws as aws

from bundle.deploy.hook_identity import ProviderSettings, autoscaling_for_endpoint
from bundle.names import SCALABLE_DIMENSION, scaling_resource_id
from bundle.params.model import Deployment

SERVICE_NAMESPACE = "sagemaker"


# --- guardrails ----------------------------------------------------------------------------------------


def blue_green_update_policy(rollout: Deployment) -> dict:
    routing = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationArgs
    size = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationCanarySizeArgs
    step = aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyTrafficRoutingConfigurationLinearStepSizeArgs
    traffic = routing(
        type=rollout.strategy,
        wait_interval_in_seconds=rollout.wait_interval_seconds,
        # Shares of capacity, not instance counts: they stay valid when autoscaling changes the fleet's size.
        canary_size=size(type="CAPACITY_PERCENT", value=rollout.canary_size_percent) if rollout.strategy == "CANARY" else None,
        linear_step_size=step(type="CAPACITY_PERCENT", value=rollout.linear_step_percent) if rollout.strategy == "LINEAR" else None,
    )
    return {
        "blue_green_update_policy": aws.sagemaker.EndpointDeploymentConfigBlueGreenUpdatePolicyArgs(
            traffic_routing_configuration=traffic,
            termination_wait_in_seconds=rollout.termination_wait_seconds,
            maximum_execution_timeout_in_seconds=rollout.maximum_execution_timeout_seconds,
        )
    }


def rolling_update_policy(rollout: Deployment) -> dict:
    """Batches of the fleet replaced one after the other, each baked for the wait interval; the rollback brings the old
    instances back `rollback_batch` at a time, or all at once (AWS's default, when it is left out)."""
    batch, rollback = rollout.rolling.batch, rollout.rolling.rollback_batch
    maximum = aws.sagemaker.EndpointDeploymentConfigRollingUpdatePolicyMaximumBatchSizeArgs
    back = aws.sagemaker.EndpointDeploymentConfigRollingUpdatePolicyRollbackMaximumBatchSizeArgs
    return {
        "rolling_update_policy": aws.sagemaker.EndpointDeploymentConfigRollingUpdatePolicyArgs(
            maximum_batch_size=maximum(type=batch.type, value=batch.value),
            wait_interval_in_seconds=rollout.wait_interval_seconds,
            maximum_execution_timeout_in_seconds=rollout.maximum_execution_timeout_seconds,
            rollback_maximum_batch_size=back(type=rollback.type, value=rollback.value) if rollback else None,
        )
    }


def deployment_config(rollout: Deployment, rollback_alarms: list[str]) -> aws.sagemaker.EndpointDeploymentConfigArgs:
    alarms = aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationAlarmArgs
    policy = rolling_update_policy(rollout) if rollout.is_rolling else blue_green_update_policy(rollout)
    return aws.sagemaker.EndpointDeploymentConfigArgs(
        **policy,
        auto_rollback_configuration=(
            aws.sagemaker.EndpointDeploymentConfigAutoRollbackConfigurationArgs(alarms=[alarms(alarm_name=n) for n in rollback_alarms])
            if rollout.auto_rollback
            else None
        ),
    )


def deployment_summary(rollout: Deployment, rollback_alarms: list[str]) -> dict:
    """The `deployment` stack output: what the next update will do (a rolling update's batches under `rolling`)."""
    summary = {
        "strategy": rollout.strategy,
        "canary_size_percent": rollout.canary_size_percent if rollout.strategy == "CANARY" else None,
        "linear_step_percent": rollout.linear_step_percent if rollout.strategy == "LINEAR" else None,
        "wait_interval_seconds": rollout.wait_interval_seconds,
        "termination_wait_seconds": None if rollout.is_rolling else rollout.termination_wait_seconds,
        "maximum_execution_timeout_seconds": rollout.maximum_execution_timeout_seconds,
        "auto_rollback": rollout.auto_rollback,
        "rollback_alarms": list(rollback_alarms) if rollout.auto_rollback else [],
    }
    if rollout.is_rolling:
        r = rollout.rolling
        summary["rolling"] = {
            "batch_type": r.batch.type,
            "batch_size": r.batch.value,
            "rollback_batch_type": r.rollback_batch.type if r.rollback_batch else None,
            "rollback_batch_size": r.rollback_batch.value if r.rollback_batch else None,  # None: the whole old fleet at once
            "instances": r.fleet,
            "batches": r.steps(),
        }
    return summary


# --- autoscaling out of the way of UpdateEndpoint --------------------------------------------------------


def deregister_scaling(autoscaling, resource_id: str) -> bool:
    """Delete the variant's scaling policies, then deregister it: True if it was registered.

    Idempotent: an unregistered variant is left alone (AWS answers ObjectNotFound, moto ValidationException).
    """
    keys = {"ServiceNamespace": SERVICE_NAMESPACE, "ResourceId": resource_id, "ScalableDimension": SCALABLE_DIMENSION}
    found = autoscaling.describe_scalable_targets(
        ServiceNamespace=SERVICE_NAMESPACE, ResourceIds=[resource_id], ScalableDimension=SCALABLE_DIMENSION
    )["ScalableTargets"]
    if not found:
        return False
    for policy in autoscaling.describe_scaling_policies(**keys)["ScalingPolicies"]:
        autoscaling.delete_scaling_policy(PolicyName=policy["PolicyName"], **keys)
    autoscaling.deregister_scalable_target(**keys)
    return True


def moves_to_another_config(args: pulumi.ResourceHookArgs) -> bool:
    old = (args.old_inputs or {}).get("endpointConfigName")
    new = (args.new_inputs or {}).get("endpointConfigName")
    return old != new


def before_update_deregistering(variant_name: str | list[str], autoscaling_client: Callable[[str], Any]) -> Callable[[pulumi.ResourceHookArgs], None]:
    """The hook's body: `autoscaling_client(endpoint_arn)` gives an Application Auto Scaling client in the endpoint's
    region, once it has checked that it acts in the endpoint's account and the stack's region (bundle/deploy/hook_identity.py)."""

    def before_update(args: pulumi.ResourceHookArgs) -> None:
        if not moves_to_another_config(args):
            return  # tags or guardrail settings only: no new fleet, nothing for AWS to refuse
        outputs = args.old_outputs or {}
        client = autoscaling_client(outputs["arn"])
        for name in [variant_name] if isinstance(variant_name, str) else variant_name:  # every autoscaled variant
            resource_id = scaling_resource_id(outputs["name"], name)
            if deregister_scaling(client, resource_id):
                pulumi.log.info(f"deregistered {resource_id} from autoscaling for the update; it is registered again after it")

    return before_update


def scaling_hook(endpoint_name: str, variant_name: str | list[str], provider: ProviderSettings) -> pulumi.ResourceHook:
    """The Endpoint's before_update hook. It runs in the program's process with the provider's credential settings
    (bundle/deploy/hook_identity.py), in the endpoint's region and account only; an error stops the update before
    UpdateEndpoint is called."""
    body = before_update_deregistering(variant_name, autoscaling_for_endpoint(provider))
    return pulumi.ResourceHook(f"{endpoint_name}-deregister-scaling-before-update", body)


def scaling_hook_for(endpoint_name: str, scaled: list[str], provider: ProviderSettings) -> pulumi.ResourceHook | None:
    """The hook for the variants that autoscale (one name, or several), or None when none does."""
    if not scaled:
        return None
    return scaling_hook(endpoint_name, scaled if len(scaled) > 1 else scaled[0], provider)


def endpoint_options(
    deployment_mode: str, parent: pulumi.Resource, alarms: list[pulumi.Resource], hook: pulumi.ResourceHook | None
) -> pulumi.ResourceOptions:
    """`hook`: the scaling hook when the variant autoscales (scaling_hook), else None."""
    return pulumi.ResourceOptions(
        parent=parent,
        # SageMaker checks the rollback alarms when the update starts: they exist first.
        depends_on=alarms,
        # AWS cannot update a real-time endpoint to serverless; the name is fixed, so the old one goes first.
        replacement_trigger=deployment_mode,
        delete_before_replace=True,
        hooks=pulumi.ResourceHookBinding(before_update=[hook]) if hook is not None else None,
    )


def scaling_target_options(parent: pulumi.Resource, endpoint: pulumi.Resource, config_name: pulumi.Output[str]) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[endpoint],
        # Re-registered after every move to another configuration: the hook deregistered it before.
        replacement_trigger=config_name,
        # The same resource id cannot be registered twice: the old registration goes first.
        delete_before_replace=True,
    )


def scaling_policy_options(parent: pulumi.Resource, target: pulumi.Resource) -> pulumi.ResourceOptions:
    # Deregistering a target deletes its policies: Pulumi re-creates the policy whenever it replaces the target.
    return pulumi.ResourceOptions(parent=parent, deleted_with=target)
