"""An inference pipeline's plan (preprocessing.enabled): one Model with two containers run in series, the preprocessing
code uploaded under its content-addressed key and readable by the role, the model's container unchanged; async and
batch transform keep the same Model."""
from __future__ import annotations

import hashlib
import json
import tarfile

import pytest

from bundle.local.plan import evaluate
from bundle.params.rules import validate
from tokens import MODEL, OBJECT, ROLE_POLICY


@pytest.fixture(scope="module")
def single():
    return evaluate(validate({}))


@pytest.fixture(scope="module")
def pipeline():
    return evaluate(validate({"preprocessing": {"enabled": True}}))


def code_object(evaluation):
    (found,) = [r for r in evaluation.of_type(OBJECT) if r.inputs["key"].startswith("preprocessing/")]
    return found


def test_one_model_with_the_preprocessing_container_then_the_unchanged_model_container_in_series(single, pipeline):
    model = pipeline.one(MODEL).inputs
    assert "primaryContainer" not in model and model["inferenceExecutionConfig"] == {"mode": "Serial"}
    first, second = model["containers"]
    assert (first["containerHostname"], second["containerHostname"]) == ("preprocessing", "model")
    assert first["image"] == second["image"] == single.one(MODEL).inputs["primaryContainer"]["image"], "both on the scikit-learn image"
    assert {k: v for k, v in second.items() if k != "containerHostname"} == single.one(MODEL).inputs["primaryContainer"]
    assert first["environment"]["SAGEMAKER_PROGRAM"] == "preprocessing.py" and first["environment"]["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"] == "text/csv"


def test_the_code_is_uploaded_content_addressed_and_the_role_may_read_it(pipeline):
    obj = code_object(pipeline)
    data = open(obj.inputs["source"].path, "rb").read()
    sha = hashlib.sha256(data).hexdigest()
    assert obj.inputs["key"] == f"preprocessing/{sha}/preprocessing.tar.gz" == pipeline.outputs["preprocessing"]["code_url"].split("/", 3)[3]
    assert pipeline.one(MODEL).inputs["containers"][0]["modelDataUrl"] == pipeline.outputs["preprocessing"]["code_url"]
    with tarfile.open(obj.inputs["source"].path) as archive:
        assert sorted(m.name for m in archive.getmembers() if m.isfile()) == ["code/inference.py", "code/preprocessing.py", "preprocessing.json"]
    policy = json.loads(pipeline.one(ROLE_POLICY).inputs["policy"]) if isinstance(pipeline.one(ROLE_POLICY).inputs["policy"], str) else pipeline.one(ROLE_POLICY).inputs["policy"]
    readable = [a for s in policy["Statement"] if "s3:GetObject" in s["Action"] for a in s["Resource"]]
    assert any(a.endswith("/" + obj.inputs["key"]) for a in readable), readable


def test_the_unit_is_part_of_the_code_so_another_unit_is_another_key(pipeline):
    millimetres = evaluate(validate({"preprocessing": {"enabled": True, "unit": "mm"}}))
    assert code_object(millimetres).inputs["key"] != code_object(pipeline).inputs["key"]
    assert millimetres.outputs["preprocessing"]["unit"] == "mm"


def test_async_and_batch_transform_keep_the_two_container_model():
    planned = evaluate(validate({"deployment_mode": "async", "preprocessing": {"enabled": True}, "batch_transform": {"enabled": True}}))
    model = planned.one(MODEL).inputs
    assert [c["containerHostname"] for c in model["containers"]] == ["preprocessing", "model"]
    assert model["containers"][0]["environment"]["SAGEMAKER_MODEL_SERVER_TIMEOUT"] == model["containers"][1]["environment"]["SAGEMAKER_MODEL_SERVER_TIMEOUT"]
    assert planned.outputs["batch_transform"]["input_location"]


def test_without_preprocessing_there_is_no_code_object_and_no_output(single):
    assert not [r for r in single.of_type(OBJECT) if r.inputs["key"].startswith("preprocessing/")]
    assert "preprocessing" not in single.outputs and "containers" not in single.one(MODEL).inputs
