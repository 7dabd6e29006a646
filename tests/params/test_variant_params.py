"""A/B variants and the shadow: every refusal names its field and rule; the typed view; config strings coerced."""
from __future__ import annotations

import pytest

from bundle.params.rules import problems_in, validate
from bundle.params.sources import params_from_config
from bundle.params.variant_rules import variant_name_rule

CAPTURE = {"data_capture": {"enabled": True}}


def messages(raw) -> dict[str, str]:
    return {p.path: p.message for p in problems_in(raw)}


def test_two_variants_are_typed_with_their_own_defaults():
    p = validate({"variant_weight": 3, "variants": [{"name": "challenger", "model": "s3://my-models/xgb/model.tar.gz", "autoscaling": {"max_capacity": 6}}]})
    primary, challenger = p.variants
    assert primary is p.primary and primary.name == "primary" and primary.model == "random-forest"
    assert (challenger.weight, challenger.instance_type, challenger.initial_instance_count) == (1.0, "ml.m5.large", 1)
    assert (challenger.autoscaling.enabled, challenger.autoscaling.max_capacity, challenger.autoscaling.min_capacity) == (True, 6, 1)
    assert [v.name for v in p.production_variants] == ["primary", "challenger"] and p.primary.weight == 3.0
    assert p.models == ("random-forest", "s3://my-models/xgb/model.tar.gz")


def test_the_default_has_one_variant_and_no_shadow():
    p = validate({})
    assert (len(p.variants), p.shadow, p.primary.weight, p.has_several_variants) == (1, None, 1.0, False)


def test_the_name_rule_is_botocores():
    pattern, _, high = variant_name_rule()
    assert high == 63 and pattern.startswith("[a-zA-Z0-9]")
    for bad in ("under_score", "a" * 64):
        assert "is not a variant name AWS accepts" in messages({"variants": [{"name": bad}]})["variants.0.name"]
        assert pattern in messages({"shadow": {"enabled": True, "name": bad}, "data_capture": {"enabled": True}})["shadow.name"]
    assert messages({"variants": [{"name": "a" * 63}]}) == {}


@pytest.mark.parametrize(
    "raw, path, words",
    [
        ({"variants": [{"name": str(i)} for i in range(10)]}, "variants", "AWS allows 1 to 10"),
        ({"variants": [{"name": "primary"}]}, "variants.0.name", "already variant_name's"),
        ({"variants": [{"name": "b"}, {"name": "b"}]}, "variants.1.name", "already variants.0.name's"),
        ({"variant_weight": 0, "variants": [{"name": "b", "weight": 0}]}, "variant_weight", "sum to 0"),
        ({"variants": [{"name": "b", "weight": -1}]}, "variants.0.weight", "minimum"),
        ({"variants": [{"name": "b", "model": "xgboost"}]}, "variants.0.model", "neither a known model recipe"),
        ({"variants": [{"name": "b", "initial_instance_count": 5}]}, "variants.0.initial_instance_count", "autoscaling range [1, 4]"),
        ({"variants": [{"name": "b", "autoscaling": {"min_capacity": 3, "max_capacity": 2}}]}, "variants.0.autoscaling.min_capacity", "greater than max_capacity"),
        ({"variants": [{"name": "b", "instance_type": "ml.t2.medium"}]}, "variants.0.autoscaling.enabled", "burstable"),
        (
            {"deployment": {"strategy": "CANARY"}, "initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "variants": [{"name": "b"}]},
            "variants.0.initial_instance_count",
            "at least 2 instances in every variant",
        ),
        ({"shadow": {"enabled": True}, "variants": [{"name": "b"}], **CAPTURE}, "shadow.enabled", "exactly one production variant"),
        ({"shadow": {"enabled": True}, "data_capture": {"enabled": False}}, "shadow.enabled", "conflicts with data_capture.enabled false"),
        ({"shadow": {"enabled": True, "weight": 2}, **CAPTURE}, "shadow.weight", "over 100%"),
        ({"shadow": {"enabled": True, "name": "primary"}, **CAPTURE}, "shadow.name", "already variant_name's"),
        ({"deployment_mode": "serverless", "shadow": {"enabled": True}}, "shadow", "real-time endpoints only"),
        ({"deployment_mode": "serverless", "variants": [{"name": "b"}]}, "variants", "real-time endpoints only"),
        ({"deployment_mode": "serverless", "variant_weight": 2}, "variant_weight", "one variant"),
        # AWS allows neither extra production variants nor a shadow on asynchronous endpoints (shared FACTS.md).
        ({"deployment_mode": "async", "shadow": {"enabled": True}}, "shadow", "not on asynchronous ones"),
        ({"deployment_mode": "async", "variants": [{"name": "b"}]}, "variants", "not on asynchronous ones"),
    ],
)
def test_refusals_name_the_field_and_the_rule(raw, path, words):
    found = messages(raw)
    assert path in found and words in found[path], found


def test_a_shadow_is_typed():
    p = validate({"shadow": {"enabled": True, "model": "s3://my-models/xgb/model.tar.gz"}, **CAPTURE})
    assert (p.shadow.name, p.shadow.weight, p.has_several_variants) == ("shadow", 1.0, True)
    # The shadow is a variant like the others, with its role: the last of the list, never a production variant.
    assert p.variants[-1] is p.shadow and p.shadow.is_shadow and p.shadow not in p.production_variants
    assert validate({"shadow": {"enabled": False}}).shadow is None


def test_pulumi_config_strings_reach_the_variants_types():
    config = {"variants": '[{"name": "b", "weight": "2", "autoscaling": {"max_capacity": "5"}}]', "variant_weight": "3"}
    raw = params_from_config(config.get)
    assert raw["variants"][0]["weight"] == 2 and raw["variants"][0]["autoscaling"]["max_capacity"] == 5 and raw["variant_weight"] == 3
    assert validate(raw).variants[1].autoscaling.max_capacity == 5


def test_every_recipe_is_a_model_a_variant_may_name():
    from bundle.artifact.recipes import RECIPES

    for name in RECIPES:
        assert validate({"variants": [{"name": "b", "model": name}]}).variants[1].model == name
    assert "gradient-boosting" in messages({"variants": [{"name": "b", "model": "xgboost"}]})["variants.0.model"]
