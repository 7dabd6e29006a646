"""Several production variants (A/B) and a shadow variant: one SageMaker Model per distinct model, each variant's
sizing and weight in the endpoint configuration, and a scalable target and policy per autoscaled extra variant.

The primary variant (the flat params) keeps the resources and names it always had; only the extra variants and the
shadow add resources, named by variant (targets, policies) or by the model they serve (Models: a short hash of the
model's reference, so reordering variants renames nothing).

Weights are the stack's: a weight or count set by hand with UpdateEndpointWeightsAndCapacities is reset by the next
configuration change (UpdateEndpoint's RetainAllVariantProperties defaults to false and pulumi-aws cannot pass it);
`python -m bundle variants show` shows the live values against these.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy import model as model_mod
from bundle.deploy.model import ModelArtifact, ModelData
from bundle.names import logical_name
from bundle.params.model import Shadow, Variant
from bundle.params.variant_models import DEFAULT_RECIPE, resolve_model


def model_suffix(model: str) -> str:
    """The logical name suffix of the Model serving `model` (not the primary's): stable, short, per model."""
    return "model-" + hashlib.sha256(model.encode()).hexdigest()[:8]


def model_data_for(
    model: str,
    bucket,
    artifacts: dict[str, ModelArtifact],  # each recipe's packaged artifact
    uploaded: dict[str, ModelData],
    endpoint_name: str,
    partition: pulumi.Output[str],
    tags: dict,
    parent: pulumi.Resource,
) -> ModelData:
    """Where `model`'s archive is: a recipe's artifact uploaded once into the bundle's bucket, or the user's S3 URI."""
    ref = resolve_model(model)
    if ref.s3_uri:
        return model_mod.custom_model_data(ref.s3_uri, partition)
    if ref.recipe not in uploaded:
        assert ref.recipe in artifacts and bucket is not None, f"recipe {ref.recipe} needs its artifact and the bundle's bucket"
        other = None if ref.recipe == DEFAULT_RECIPE else ref.recipe
        uploaded[ref.recipe] = model_mod.uploaded_model_data(bucket, artifacts[ref.recipe], endpoint_name, partition, tags, parent, recipe=other)
    return uploaded[ref.recipe]


@dataclass(frozen=True)
class SizedVariant:
    """What the endpoint configuration needs of one variant."""

    name: str
    instance_type: str
    initial_instance_count: int
    weight: float


def sized(v: Variant | Shadow) -> SizedVariant:
    return SizedVariant(v.name, v.instance_type, v.initial_instance_count, v.weight)


def variant_args(v: SizedVariant, model_name: pulumi.Input[str]) -> aws.sagemaker.EndpointConfigurationProductionVariantArgs:
    return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
        variant_name=v.name, model_name=model_name, initial_variant_weight=v.weight, instance_type=v.instance_type, initial_instance_count=v.initial_instance_count
    )


def shadow_args(v: SizedVariant, model_name: pulumi.Input[str]) -> aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs:
    return aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs(
        variant_name=v.name, model_name=model_name, initial_variant_weight=v.weight, instance_type=v.instance_type, initial_instance_count=v.initial_instance_count
    )


def scaling_target_name(endpoint_name: str, variant_name: str) -> str:
    return f"{logical_name(endpoint_name, 'scaling-target')}-{variant_name}"


def scaling_policy_logical_name(endpoint_name: str, variant_name: str) -> str:
    return f"{logical_name(endpoint_name, 'scaling-policy')}-{variant_name}"


def traffic_shares(weights: dict[str, float]) -> dict[str, float]:
    """Each production variant's share of the requests: weight / the sum of weights."""
    total = sum(weights.values())
    return {name: (w / total if total else 0.0) for name, w in weights.items()}


def variants_output(params, endpoint) -> dict:
    """The `variants` stack output: the stack's weights, counts, models and alarms of each variant, and the shadow.

    `python -m bundle variants show` compares the live endpoint with it; the guide's A/B and shadow sections read it.
    """
    alarms = {params.variant_name: endpoint.observability.names.all(), **{v: n.all() for v, n in endpoint.observability.variant_names}}
    shares = traffic_shares({v.name: v.weight for v in params.production_variants})
    production = []
    for v in params.production_variants:
        scaled = v.autoscaling.enabled
        production.append(
            {
                "name": v.name,
                "model": v.model,
                "model_name": endpoint.variant_models[v.model].name,
                "weight": v.weight,
                "traffic_share": round(shares[v.name], 6),
                "instance_type": v.instance_type,
                "initial_instance_count": v.initial_instance_count,
                "autoscaling": {"min_capacity": v.autoscaling.min_capacity, "max_capacity": v.autoscaling.max_capacity} if scaled else None,
                "alarms": alarms[v.name],
            }
        )
    shadow = params.shadow
    return {
        "production": production,
        "shadow": (
            {
                "name": shadow.name,
                "model": shadow.model,
                "model_name": endpoint.variant_models[shadow.model].name,
                "weight": shadow.weight,
                "sampling_share": round(shadow.weight / params.variant_weight, 6),
                "instance_type": shadow.instance_type,
                "initial_instance_count": shadow.initial_instance_count,
            }
            if shadow
            else None
        ),
    }
