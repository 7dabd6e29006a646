"""Defaults compose: switching one feature on, with everything else at its default, is valid and plans; only an
explicit conflicting value is refused, naming both fields."""
from __future__ import annotations

from bundle.local.plan import evaluate
from bundle.params.rules import problems_in, validate
from tokens import CONFIG, MODEL


def messages(raw: dict) -> dict[str, str]:
    return {p.path: p.message for p in problems_in(raw)}


def test_multi_model_alone_is_valid_and_plans_without_network_isolation():
    params = validate({"multi_model": {"enabled": True}})
    assert params.is_multi_model and params.enable_network_isolation is False
    model = evaluate(params).one(MODEL).inputs
    assert model["primaryContainer"]["mode"] == "MultiModel" and not model.get("enableNetworkIsolation")


def test_an_explicit_isolation_on_a_multi_model_endpoint_names_both_fields():
    found = messages({"multi_model": {"enabled": True}, "enable_network_isolation": True})["enable_network_isolation"]
    assert "enable_network_isolation true conflicts with multi_model.enabled true" in found


def test_shadow_alone_is_valid_and_plans_with_capture_on():
    params = validate({"shadow": {"enabled": True}})
    assert params.shadow is not None and params.data_capture.enabled is True
    config = evaluate(params).one(CONFIG).inputs
    assert config["dataCaptureConfig"]["enableCapture"] is True and config["shadowProductionVariants"]


def test_serverless_with_isolation_or_capture_said_off_is_no_conflict():
    for raw in ({"enable_network_isolation": False}, {"data_capture": {"enabled": False}}):
        params = validate({"deployment_mode": "serverless", **raw})
        assert params.is_serverless and params.enable_network_isolation is False and params.data_capture.enabled is False
    assert "do not support network isolation" in messages({"deployment_mode": "serverless", "enable_network_isolation": True})["enable_network_isolation"]


def test_the_users_own_values_are_kept():
    assert validate({"enable_network_isolation": False}).enable_network_isolation is False
    assert validate({"shadow": {"enabled": True}, "data_capture": {"enabled": True, "sampling_percentage": 10}}).data_capture.sampling_percentage == 10
