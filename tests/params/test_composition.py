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


def test_monitoring_alone_is_valid_and_plans_with_capture_on():
    params = validate({"monitoring": {"enabled": True}})
    assert params.monitoring.enabled and params.data_capture.enabled is True and params.needs_bucket
    assert evaluate(params).one(CONFIG).inputs["dataCaptureConfig"]["enableCapture"] is True


def test_capture_said_off_with_monitoring_on_names_both_fields():
    found = messages({"monitoring": {"enabled": True}, "data_capture": {"enabled": False}})
    assert set(found) == {"data_capture.enabled"}
    assert "data_capture.enabled false conflicts with monitoring.enabled true" in found["data_capture.enabled"]


def test_monitoring_where_nothing_is_captured_names_the_mode_or_the_multi_model_switch():
    for raw, other in (({"deployment_mode": "serverless"}, "deployment_mode serverless"), ({"deployment_mode": "async"}, "deployment_mode async"),
                       ({"multi_model": {"enabled": True}}, "multi_model.enabled true")):  # fmt: skip
        found = messages({"monitoring": {"enabled": True}, **raw})
        assert set(found) == {"monitoring.enabled"}, found
        assert f"monitoring.enabled true conflicts with {other}" in found["monitoring.enabled"]


def test_monitoring_of_a_model_without_the_pocs_training_data_or_behind_a_pipeline_names_both_fields():
    cases = (
        ({"model_source": "custom-s3", "custom_model_s3_uri": "s3://team-models/iris/model.tar.gz"}, "model_source custom-s3"),
        ({"model_source": "model-package", "model_package": {"group": "iris-classifier"}}, "model_source model-package"),
        ({"preprocessing": {"enabled": True}}, "preprocessing.enabled true"),
    )
    for raw, other in cases:
        found = messages({"monitoring": {"enabled": True}, **raw})
        assert "monitoring.enabled" in found, (raw, found)
        assert f"monitoring.enabled true conflicts with {other}" in found["monitoring.enabled"]


def test_the_schemas_default_accuracy_threshold_is_the_one_derived_from_the_models_cross_validation():
    import re

    from bundle.artifact.baseline import default_accuracy_threshold
    from bundle.params.schema import load_schema
    from model.train import train

    metrics = train().metrics()
    text = load_schema()["properties"]["monitoring"]["properties"]["accuracy_threshold"]["description"]
    mean, std, derived = re.search(r"today: ([0-9.]+) - 2 x ([0-9.]+) = [0-9.]+ -> ([0-9.]+)[;)]", text).groups()
    assert (float(mean), float(std)) == (metrics["cv_accuracy_mean"], metrics["cv_accuracy_std"])
    assert float(derived) == default_accuracy_threshold(metrics)
