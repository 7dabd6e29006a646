"""The endpoint's variants, one loop for each thing they need: a Model per distinct model, an entry in the endpoint
configuration, and scaling for those that autoscale. Alarms and dashboard lines loop over the same list
(bundle/deploy/observability.py, dashboard.py); the `variants` output too (bundle/deploy/outputs.py).

Names follow the variant's place: the primary (`variants[0]`) keeps the unsuffixed names the stack always had;
every other variant's scaling resources and alarms are suffixed by its name, and every other model's Model by a short
hash of the model's reference (reordering variants renames nothing).

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
from bundle.deploy.model import ModelArtifact, ModelData, MultiModelPackage
from bundle.ops.registry import ResolvedPackage
from bundle.params.model import Params, Variant
from bundle.params.variant_models import DEFAULT_RECIPE, resolve_model


def suffix(index: int, variant_name: str) -> str:
    """What the logical names of a variant's own resources end with: nothing for the primary."""
    return "" if index == 0 else f"-{variant_name}"


def model_suffix(models: tuple[str, ...], model: str) -> str:
    """The logical name suffix of the Model serving `model`: the primary's is "model"."""
    return "model" if model == models[0] else "model-" + hashlib.sha256(model.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Sources:
    """What the stack has to make each model's data from."""

    bucket: object  # storage.BundleBucket | None
    artifacts: dict[str, ModelArtifact]  # each recipe's packaged artifact, by recipe
    multi_model: MultiModelPackage | None  # a multi-model endpoint's models and handlers
    endpoint_name: str
    partition: pulumi.Output[str]
    package: ResolvedPackage | None = None  # the Model Registry version a model-package stack serves


def model_data(p: Params, sources: Sources, tags: dict, parent: pulumi.Resource) -> dict[str, ModelData]:
    """Each distinct model's data, by model: a recipe's artifact uploaded once, the user's archive as it is, a Model
    Registry version, or a multi-model endpoint's prefix (the primary's one Model serves them all)."""
    if sources.multi_model is not None:
        return {p.primary.model: model_mod.multi_model_data(sources.bucket, sources.multi_model, sources.partition, tags, parent)}
    found: dict[str, ModelData] = {}
    for model in p.models:
        ref = resolve_model(model)
        if ref.package:
            found[model] = model_mod.package_model_data(sources.package, sources.partition)
        elif ref.s3_uri:
            found[model] = model_mod.custom_model_data(ref.s3_uri, sources.partition)
        else:
            other = None if ref.recipe == DEFAULT_RECIPE else ref.recipe
            found[model] = model_mod.uploaded_model_data(sources.bucket, sources.artifacts[ref.recipe], sources.endpoint_name, sources.partition, tags, parent, recipe=other)
    return found


def readable(data: dict[str, ModelData]) -> pulumi.Output:
    """What the role may read of the models: one ARN, or the distinct ARNs of several."""
    first, *others = data.values()
    if not others:
        return first.readable_arn
    return pulumi.Output.all(*(d.readable_arn for d in data.values())).apply(lambda arns: list(dict.fromkeys(arns)))


def packages(data: dict[str, ModelData]) -> list[str]:
    """What the role may describe of the Model Registry: the versions the Models are made from, or their groups' versions."""
    return list(dict.fromkeys(d.describable_arn for d in data.values() if d.describable_arn))


def models(
    p: Params, settings: model_mod.ModelSettings, data: dict[str, ModelData], role_arn, image_uri, tags: dict, parent: pulumi.Resource, depends_on: list, region
) -> dict[str, aws.sagemaker.Model]:
    """One SageMaker Model per distinct model, by model."""
    names = tuple(data)
    return {
        m: model_mod.create_model(settings, role_arn, image_uri, d, tags, parent, depends_on=depends_on, region=region, suffix=model_suffix(names, m))
        for m, d in data.items()
    }


def sizing(v: Variant) -> dict:
    """Instances, or memory and concurrency for serverless: never both."""
    if v.serverless is not None:
        return dict(
            serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=v.serverless.memory_size_mb,
                max_concurrency=v.serverless.max_concurrency,
                provisioned_concurrency=v.serverless.provisioned_concurrency or None,  # 0: none, which AWS spells as absent
            )
        )
    return dict(instance_type=v.instance_type, initial_instance_count=v.initial_instance_count)


def config_entries(p: Params, served: dict[str, aws.sagemaker.Model]) -> dict:
    """The endpoint configuration's production variants and shadow variants, in the variants' order."""
    production, shadows = [], []
    for v in p.variants:
        kind = aws.sagemaker.EndpointConfigurationShadowProductionVariantArgs if v.is_shadow else aws.sagemaker.EndpointConfigurationProductionVariantArgs
        (shadows if v.is_shadow else production).append(kind(variant_name=v.name, model_name=served[v.model].name, initial_variant_weight=v.weight, **sizing(v)))
    return {"production_variants": production, "shadow_production_variants": shadows or None}


def autoscaled(p: Params) -> list[tuple[int, Variant]]:
    return [(i, v) for i, v in enumerate(p.variants) if v.autoscaling.enabled]


def traffic_shares(weights: dict[str, float]) -> dict[str, float]:
    """Each production variant's share of the requests: weight / the sum of weights."""
    total = sum(weights.values())
    return {name: (w / total if total else 0.0) for name, w in weights.items()}


def variants_output(p: Params, served: dict[str, aws.sagemaker.Model], alarms: dict[str, list[str]]) -> dict:
    """The `variants` stack output: the stack's weights, counts, models and alarms of each variant, and the shadow.

    `python -m bundle variants show` compares the live endpoint with it; the guide's A/B and shadow sections read it.
    """
    shares = traffic_shares({v.name: v.weight for v in p.production_variants})
    shown: dict = {"production": [], "shadow": None}
    for v in p.variants:
        common = {"name": v.name, "model": v.model, "model_name": served[v.model].name, "weight": v.weight}
        sized = {"instance_type": v.instance_type, "initial_instance_count": v.initial_instance_count}
        if v.is_shadow:
            shown["shadow"] = {**common, "sampling_share": round(v.weight / p.primary.weight, 6), **sized}
            continue
        scaled = {"min_capacity": v.autoscaling.min_capacity, "max_capacity": v.autoscaling.max_capacity} if v.autoscaling.enabled else None
        shown["production"].append({**common, "traffic_share": round(shares[v.name], 6), **sized, "autoscaling": scaled, "alarms": alarms[v.name]})
    return shown
