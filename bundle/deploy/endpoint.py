"""The endpoint configuration (the variants' sizing, the mode's blocks, data capture) and the endpoint itself, whose
updates roll out blue/green with automatic rollback (bundle/deploy/rollout.py).

The configuration is auto-named: every change is a create-before-delete replacement (a fixed name fails with
"Cannot create already existing endpoint configuration"). The endpoint keeps the stable `endpoint_name`.
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from bundle.deploy.rollout import deployment_config
from bundle.names import logical_name
from bundle.params.model import Deployment


def create_endpoint_config(
    endpoint_name: str,
    variants: dict,  # production_variants and shadow_production_variants (bundle/deploy/fleet.py config_entries)
    mode_blocks: dict,  # the mode's own arguments (bundle/deploy/modes.py config_blocks): volume key, async config
    data_capture: aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs | None,
    tags: dict,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
) -> aws.sagemaker.EndpointConfiguration:
    return aws.sagemaker.EndpointConfiguration(
        logical_name(endpoint_name, "config"),
        **variants,
        **mode_blocks,
        data_capture_config=data_capture,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )


def create_endpoint(
    endpoint_name: str,
    config_name: pulumi.Output[str],
    rollout: Deployment,
    rollback_alarms: list[str],
    tags: dict,
    options: pulumi.ResourceOptions,
) -> aws.sagemaker.Endpoint:
    return aws.sagemaker.Endpoint(
        logical_name(endpoint_name, "endpoint"),
        name=endpoint_name,
        endpoint_config_name=config_name,
        deployment_config=deployment_config(rollout, rollback_alarms),
        tags=tags,
        opts=options,
    )
