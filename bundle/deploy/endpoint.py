"""The endpoint configuration (the variant's sizing, volume encryption, data capture) and the endpoint itself, whose
updates roll out blue/green with automatic rollback (bundle/deploy/rollout.py).

The configuration is auto-named: every change is a create-before-delete replacement (a fixed name fails with
"Cannot create already existing endpoint configuration"). The endpoint keeps the stable `endpoint_name`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy.rollout import deployment_config
from bundle.names import logical_name
from bundle.params.model import Deployment, Serverless


@dataclass(frozen=True)
class VariantSettings:
    variant_name: str
    instance_type: str
    initial_instance_count: int
    serverless: Serverless | None  # memory and concurrency instead of instances
    weight: float = 1.0  # InitialVariantWeight (variant_weight)


def production_variant(variant: VariantSettings, model_name: pulumi.Input[str]) -> aws.sagemaker.EndpointConfigurationProductionVariantArgs:
    """Instances for realtime, memory and concurrency for serverless: never both."""
    if variant.serverless is not None:
        sizing = dict(
            serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=variant.serverless.memory_size_mb,
                max_concurrency=variant.serverless.max_concurrency,
                provisioned_concurrency=variant.serverless.provisioned_concurrency or None,  # 0: none, which AWS spells as absent
            )
        )
    else:
        sizing = dict(instance_type=variant.instance_type, initial_instance_count=variant.initial_instance_count)
    return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
        variant_name=variant.variant_name, model_name=model_name, initial_variant_weight=variant.weight, **sizing
    )


def create_endpoint_config(
    endpoint_name: str,
    variant: VariantSettings,
    model_name: pulumi.Output[str],
    kms_key_arn: str,
    data_capture: aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs | None,
    tags: dict,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    extra_variants: list | None = None,  # A/B: more EndpointConfigurationProductionVariantArgs (bundle/deploy/variants.py)
    shadow_variants: list | None = None,  # EndpointConfigurationShadowProductionVariantArgs
    async_inference: aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgs | None = None,
) -> aws.sagemaker.EndpointConfiguration:
    return aws.sagemaker.EndpointConfiguration(
        logical_name(endpoint_name, "config"),
        production_variants=[production_variant(variant, model_name), *(extra_variants or [])],
        shadow_production_variants=shadow_variants or None,
        # Serverless endpoints have no ML storage volume to encrypt.
        kms_key_arn=(kms_key_arn or None) if variant.serverless is None else None,
        data_capture_config=data_capture,
        async_inference_config=async_inference,
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
