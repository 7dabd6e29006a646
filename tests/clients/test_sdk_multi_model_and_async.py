"""The SDK's multi-model and asynchronous clients, unchanged, against the local fronts: `MultiDataModel` adds a model to
the S3 prefix, deploys (SageMaker's control plane is moto's) and predicts with `target_model` on the image's
multi-model server; `AsyncPredictor` uploads to the session's default bucket and polls S3 for the image worker's answer.
S3, STS and SageMaker are one moto server; the runtime calls go to the fronts."""
from __future__ import annotations

import pytest

from bundle.artifact.build import recipe_artifact, sourcedir_tarball
from bundle.artifact.recipes import target_model_name
from bundle.local.async_front import AsyncConfig
from bundle.local.emulator import moto_server
from bundle.local.endpoint import LocalEndpoint, MultiModelSource
from bundle.local.multi_model import ModelStore, java_problem
from bundle.ops import aws
from bundle.ops.examples import expected_classes
from bundle.params.schema import load_schema
from client_run import client_answers

REGION = "us-east-1"
BUCKET = "models-bucket"
MODEL_PREFIX = f"s3://{BUCKET}/multi-model/"
ASYNC_OUTPUT = f"s3://{BUCKET}/async-inference/output"
ASYNC_FAILURE = f"s3://{BUCKET}/async-inference/failures"


@pytest.fixture(scope="module")
def moto_url():
    with moto_server() as url:
        aws.client("s3", REGION, endpoint_url=url).create_bucket(Bucket=BUCKET)
        yield url


@pytest.fixture(scope="module")
def multi_model_answers(moto_url, tmp_path_factory):
    problem = java_problem()
    if problem is not None:
        pytest.skip(f"multi-model-server cannot run here: {problem}")
    archive = recipe_artifact("random-forest", layout="multi-model")
    local_copy = tmp_path_factory.mktemp("mdm") / "model.tar.gz"
    local_copy.write_bytes(archive.path.read_bytes())
    store = ModelStore.s3(aws.client("s3", REGION, endpoint_url=moto_url), MODEL_PREFIX)
    with LocalEndpoint(None, port=0, endpoint_name="iris-models", multi_model=MultiModelSource(store, sourcedir_tarball())) as served:
        yield client_answers(
            served.url,
            served.endpoint_name,
            ["MultiDataModel add_model, deploy, predict(target_model=...)", "boto3 invoke_endpoint, unknown TargetModel"],
            AWS_ENDPOINT_URL=moto_url,
            MODEL_PREFIX=MODEL_PREFIX,
            MODEL_ARCHIVE=str(local_copy),
            TARGET_MODEL=target_model_name("random-forest", archive.sha256),
            IMAGE_VERSION=load_schema()["properties"]["serving_image_version"]["default"],
        )


@pytest.fixture(scope="module")
def async_answers(artifact, moto_url):
    config = AsyncConfig(ASYNC_OUTPUT, ASYNC_FAILURE, max_concurrent_invocations=2)
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-async", async_config=config, region=REGION, s3_endpoint_url=moto_url) as served:
        yield client_answers(
            served.url,
            served.endpoint_name,
            ["AsyncPredictor.predict, default bucket", "AsyncPredictor.predict, no ContentType", "AsyncPredictor.predict, a bad record", "boto3 invoke_endpoint_async, body over the inline limit"],
            AWS_ENDPOINT_URL=moto_url,
        )


def test_multi_data_model_deploys_lists_and_predicts_with_target_model(multi_model_answers):
    answer = multi_model_answers["MultiDataModel add_model, deploy, predict(target_model=...)"]["returned"]
    target = next(iter(answer["listed"]))
    assert answer["listed"] == [target] and target.endswith(".tar.gz")
    assert answer["predictions"] == expected_classes()


def test_an_unknown_target_model_is_awss_validation_error(multi_model_answers):
    answer = multi_model_answers["boto3 invoke_endpoint, unknown TargetModel"]
    assert (answer["code"], answer["status"]) == ("ValidationError", 400) and "absent.tar.gz" in answer["message"], answer


def test_async_predictor_defaults_return_the_predictions(async_answers):
    assert async_answers["AsyncPredictor.predict, default bucket"]["returned"] == expected_classes()


def test_async_predictor_raises_the_models_error_for_a_bad_record(async_answers):
    answer = async_answers["AsyncPredictor.predict, a bad record"]["returned"]
    assert answer["raised"] == "AsyncInferenceModelError" and "4 features" in answer["message"], answer


def test_without_a_content_type_the_failure_names_the_types_the_handlers_read(async_answers):
    answer = async_answers["AsyncPredictor.predict, no ContentType"]["returned"]
    assert answer["raised"] == "AsyncInferenceModelError" and "(415)" in answer["message"] and "application/json" in answer["message"], answer


def test_an_inline_async_body_over_the_limit_is_refused_by_the_front(async_answers):
    answer = async_answers["boto3 invoke_endpoint_async, body over the inline limit"]
    assert (answer["code"], answer["status"]) == ("413", 413) and "128000" in answer["message"], answer
