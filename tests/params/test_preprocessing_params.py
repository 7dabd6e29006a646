"""The inference pipeline's params (preprocessing): its defaults, what it composes with (async, batch transform,
rolling updates), and every refusal named by its fields; the CreateModel it implies passes botocore's shapes."""
from __future__ import annotations

import pytest

from bundle.params.aws_limits import violations
from bundle.params.aws_requests import implied_requests
from bundle.params.rules import problems_in, validate


def messages(raw) -> dict[str, str]:
    return {p.path: p.message for p in problems_in(raw)}


def test_off_by_default_and_the_document_has_no_preprocessing_block():
    params = validate({})
    assert not params.preprocessing.enabled and "preprocessing" not in params.document


def test_enabled_alone_takes_centimetres_and_needs_the_bundles_bucket():
    params = validate({"preprocessing": {"enabled": True}})
    assert (params.preprocessing.enabled, params.preprocessing.unit) == (True, "cm") and params.needs_bucket
    custom = validate({"model_source": "custom-s3", "custom_model_s3_uri": "s3://team-models/iris/model.tar.gz", "preprocessing": {"enabled": True}})
    assert custom.needs_bucket, "the preprocessing code lives in the bundle's bucket even when the model does not"


@pytest.mark.parametrize(
    "raw",
    [
        {"deployment_mode": "async", "preprocessing": {"enabled": True}},
        {"preprocessing": {"enabled": True}, "batch_transform": {"enabled": True}},
        {"preprocessing": {"enabled": True, "unit": "mm"}, "initial_instance_count": 2, "autoscaling": {"min_capacity": 2}, "deployment": {"strategy": "ROLLING"}},
        {"deployment_mode": "serverless", "preprocessing": {"enabled": False}},  # saying it is off is no conflict
    ],
    ids=["async", "batch-transform", "rolling-mm", "serverless-off"],
)
def test_it_composes_with_async_batch_transform_and_rolling_updates(raw):
    assert messages(raw) == {}


@pytest.mark.parametrize(
    "raw, path, words",
    [
        ({"deployment_mode": "serverless", "preprocessing": {"enabled": True}}, "preprocessing", "Serverless Inference does not support inference pipelines"),
        ({"multi_model": {"enabled": True}, "preprocessing": {"enabled": True}}, "multi_model.enabled", "preprocessing.enabled true conflicts with multi_model.enabled true"),
        ({"shadow": {"enabled": True}, "preprocessing": {"enabled": True}}, "shadow.enabled", "preprocessing.enabled true conflicts with shadow.enabled true"),
        ({"variants": [{"name": "b", "model": "logistic-regression"}], "preprocessing": {"enabled": True}}, "variants", "preprocessing.enabled true conflicts with variants"),
        ({"model_source": "model-package", "model_package": {"group": "iris"}, "preprocessing": {"enabled": True}}, "model_source", "conflicts with model_source model-package"),
        ({"preprocessing": {"enabled": True, "unit": "inch"}}, "preprocessing.unit", 'must be one of ["cm", "mm"]'),
        ({"preprocessing": {"unit": "mm"}}, "preprocessing.unit", "applies only with preprocessing.enabled true"),
    ],
    ids=["serverless", "multi-model", "shadow", "variants", "model-package", "unknown-unit", "unit-without-enabled"],
)
def test_each_conflict_is_refused_naming_its_fields(raw, path, words):
    found = messages(raw)
    assert path in found and words in found[path], found


def test_the_serverless_refusal_names_the_mode_and_the_multi_model_one_says_why():
    assert "deployment_mode" in messages({"deployment_mode": "serverless", "preprocessing": {"enabled": True}})["preprocessing"]
    assert "runs one container" in messages({"multi_model": {"enabled": True}, "preprocessing": {"enabled": True}})["multi_model.enabled"]


def test_the_implied_create_model_has_two_serial_containers_and_passes_botocore():
    document = validate({"deployment_mode": "async", "preprocessing": {"enabled": True}}).document
    (model,) = [r.params for r in implied_requests(document) if r.name == "sagemaker:CreateModel"]
    assert "PrimaryContainer" not in model and model["InferenceExecutionConfig"] == {"Mode": "Serial"}
    assert [c["ContainerHostname"] for c in model["Containers"]] == ["preprocessing", "model"]
    assert model["Containers"][0]["Environment"]["SAGEMAKER_PROGRAM"] == "preprocessing.py" and "ModelDataUrl" in model["Containers"][1]
    assert violations(document) == []
