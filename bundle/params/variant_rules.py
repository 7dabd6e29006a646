"""Cross-field rules of several variants (A/B) and the shadow: what AWS refuses and what the guardrails need.

AWS's limits are read from botocore's service model (ProductionVariant.VariantName's pattern and length, the
number of production variants a configuration holds), not copied; the others are stated with their source
(shared FACTS.md, "Several production variants (A/B) and shadow variants").
"""
from __future__ import annotations

import functools

from bundle.params.model import Problem

BURSTABLE = ("ml.t2.", "ml.t3.")


@functools.lru_cache(maxsize=None)
def variant_name_rule() -> tuple[str, int, int]:
    """(pattern, min length, max length) of ProductionVariant.VariantName in botocore's SageMaker model."""
    from bundle.params.shapes import service_model

    meta = service_model("sagemaker").shape_for("ProductionVariant").members["VariantName"].metadata
    return meta["pattern"], meta.get("min", 0), meta["max"]


@functools.lru_cache(maxsize=None)
def max_production_variants() -> int:
    from bundle.params.shapes import service_model

    return service_model("sagemaker").shape_for("CreateEndpointConfigInput").members["ProductionVariants"].metadata["max"]


def name_problem(name) -> str | None:
    from bundle.params.shapes import java_pattern

    pattern, low, high = variant_name_rule()
    if not isinstance(name, str):
        return None  # the schema names the type
    if not low <= len(name) <= high or java_pattern(pattern).fullmatch(name) is None:
        return f"{name!r} is not a variant name AWS accepts: {max(low, 1)}-{high} characters matching {pattern} (botocore's ProductionVariant.VariantName)"
    return None


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def scaling_problems(where: str, count, instance_type, scaling: dict) -> list[Problem]:
    """A variant's own autoscaling rules (the primary's are in rules.py and the schema)."""
    problems: list[Problem] = []
    if not isinstance(scaling, dict) or scaling.get("enabled") is not True:
        return problems
    if isinstance(instance_type, str) and instance_type.startswith(BURSTABLE):
        problems.append(
            Problem(f"{where}.autoscaling.enabled", f"autoscaling is not supported on burstable instance types (ml.t2.*, ml.t3.*): set {where}.autoscaling.enabled to false or choose another instance type (got {instance_type})")
        )
    low, high = scaling.get("min_capacity"), scaling.get("max_capacity")
    if _ints(count, low, high):
        if low > high:
            problems.append(Problem(f"{where}.autoscaling.min_capacity", f"min_capacity {low} is greater than max_capacity {high}"))
        elif not low <= count <= high:
            problems.append(
                Problem(
                    f"{where}.initial_instance_count",
                    f"initial_instance_count {count} is outside {where}'s autoscaling range [{low}, {high}]: every update resets the variant to this count",
                )
            )
    return problems


def variant_problems(d: dict) -> list[Problem]:
    """Several production variants: count, names, weights, each one's scaling, and the guardrails' needs."""
    variants = d.get("variants")
    if d.get("deployment_mode") != "realtime" or not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
        return []  # not applicable (serverless) or wrong on its own: the schema names it
    problems: list[Problem] = []
    total = 1 + len(variants)
    if total > max_production_variants():
        problems.append(Problem("variants", f"{total} production variants in all (the primary and {len(variants)}): AWS allows 1 to {max_production_variants()} per endpoint configuration"))
    names = [("variant_name", d.get("variant_name"))] + [(f"variants.{i}.name", v.get("name")) for i, v in enumerate(variants)]
    shadow = d.get("shadow") or {}
    if shadow.get("enabled") is True:
        names.append(("shadow.name", shadow.get("name")))
    seen: dict[str, str] = {}
    for where, name in names:
        if where != "variant_name" and (problem := name_problem(name)):
            problems.append(Problem(where, problem))
        if isinstance(name, str):
            if name in seen:
                problems.append(Problem(where, f"variant name {name!r} is already {seen[name]}'s: every variant of an endpoint needs its own name"))
            seen.setdefault(name, where)
    weights = [d.get("variant_weight")] + [v.get("weight") for v in variants]
    if variants and _ints(*weights) and sum(weights) <= 0:
        problems.append(Problem("variant_weight", f"the production variants' weights sum to {sum(weights)}: at least one weight must be positive, or no variant gets traffic"))
    for i, v in enumerate(variants):
        problems += model_problems(f"variants.{i}.model", v.get("model"))
        problems += scaling_problems(f"variants.{i}", v.get("initial_instance_count"), v.get("instance_type"), v.get("autoscaling"))
    strategy = (d.get("deployment") or {}).get("strategy")
    if strategy in ("CANARY", "LINEAR"):
        # FACTS: canary and linear sizes count against each variant's instances.
        for i, v in enumerate(variants):
            count = v.get("initial_instance_count")
            if _ints(count) and count < 2:
                problems.append(
                    Problem(
                        f"variants.{i}.initial_instance_count",
                        f"{strategy} shifts a share of each variant's instances at a time, which needs at least 2 instances in every variant "
                        f"({v.get('name')!r} has {count}): use ALL_AT_ONCE, or give it 2 or more",
                    )
                )
    return problems


def shadow_problems(d: dict) -> list[Problem]:
    """Where AWS refuses a shadow variant: more than one production variant (and serverless, in the schema)."""
    shadow = d.get("shadow")
    if d.get("deployment_mode") != "realtime" or not isinstance(shadow, dict) or shadow.get("enabled") is not True:
        return []
    problems: list[Problem] = []
    variants = d.get("variants")
    if isinstance(variants, list) and variants:
        problems.append(
            Problem("shadow.enabled", f"AWS allows a shadow variant only next to exactly one production variant; there are {1 + len(variants)} (variant_name and variants): remove variants, or the shadow")
        )
    capture = d.get("data_capture") or {}
    if capture.get("enabled") is not True:
        problems.append(
            Problem(
                "shadow.enabled",
                "shadow.enabled true conflicts with data_capture.enabled false: a shadow test compares both variants' captured "
                "predictions; leave data_capture.enabled out (it follows the shadow) or set it to true",
            )
        )
    problems += model_problems("shadow.model", shadow.get("model"))
    weight, primary = shadow.get("weight"), d.get("variant_weight")
    if _ints(weight, primary) and weight > primary:
        problems.append(Problem("shadow.weight", f"the shadow samples weight / variant_weight of the requests: {weight} / {primary} is over 100%; give at most {primary}"))
    strategy = (d.get("deployment") or {}).get("strategy")
    count = shadow.get("initial_instance_count")
    if strategy in ("CANARY", "LINEAR") and _ints(count) and count < 2:
        problems.append(Problem("shadow.initial_instance_count", f"{strategy} shifts a share of each variant's instances at a time, which needs at least 2 instances in the shadow variant too (it has {count}): use ALL_AT_ONCE or give it 2 or more"))
    return problems


def model_problems(where: str, model) -> list[Problem]:
    from bundle.params.variant_models import resolve_model

    if not isinstance(model, str):
        return []
    try:
        resolve_model(model)
    except ValueError as e:
        return [Problem(where, str(e))]
    return []
