"""The handler contract of the shipped code/inference.py: formats, the guide's examples, and 4xx for bad input."""
from __future__ import annotations

import json

import pytest

from bundle.ops.examples import expected_classes, instances_request
from bundle.local.inprocess import invoke
from corpus import BAD, CORPUS, CSV, GOOD, JSON, NPY, ids, predictions_in


def test_guides_three_examples_predict_0_1_2_with_probabilities_summing_to_1(call):
    status, result, content_type = call(instances_request())
    assert (status, content_type) == (200, "application/json")
    assert result["predictions"] == expected_classes() == [0, 1, 2]
    assert result["labels"] == ["setosa", "versicolor", "virginica"]
    assert all(isinstance(p, int) for p in result["predictions"])
    for probabilities in result["probabilities"]:
        assert len(probabilities) == 3
        assert sum(probabilities) == pytest.approx(1.0)


@pytest.mark.parametrize("case", GOOD, ids=ids(GOOD))
def test_good_requests_predict_the_examples(call, case):
    status, result, content_type = call(case.body, content_type=case.content_type, accept=case.accept)
    assert (status, content_type) == (200, case.response_type)
    raw = json.dumps(result) if case.response_type == JSON else result
    assert predictions_in(raw, case.response_type) == list(case.predictions)


def test_csv_response_rows_are_a_label_then_probabilities_summing_to_1(call):
    status, text, content_type = call(instances_request(), accept="text/csv")
    assert (status, content_type) == (200, "text/csv")
    rows = [line.split(",") for line in text.strip().splitlines()]
    assert [int(r[0]) for r in rows] == [0, 1, 2]
    assert all(sum(float(x) for x in r[1:]) == pytest.approx(1.0) for r in rows)


@pytest.mark.parametrize("case", BAD, ids=ids(BAD))
def test_bad_input_is_a_4xx_json_message_naming_the_problem(call, case):
    status, result, content_type = call(case.body, content_type=case.content_type, accept=case.accept)
    assert (status, content_type) == (case.status, "application/json")
    assert result["error"] == case.error
    assert case.words in result["message"]


@pytest.mark.parametrize("case", [c for c in CORPUS if c.content_type.split(";")[0].lower() in (JSON, CSV)], ids=lambda c: c.id)
def test_the_workers_text_decoding_gives_the_same_answer(loaded, case):
    """The image's worker hands exactly application/json and text/csv over as text decoded with replacement characters."""
    as_bytes = invoke(loaded, case.body, case.content_type, case.accept)
    as_text = invoke(loaded, case.body.decode("utf-8", "replace"), case.content_type, case.accept)
    assert (as_text.status, as_text.content_type) == (as_bytes.status, as_bytes.content_type)
    if as_bytes.status >= 400:
        assert json.loads(as_text.body)["error"] == json.loads(as_bytes.body)["error"]
    else:
        assert as_text.body == as_bytes.body


def test_npy_predictions_equal_json_predictions(call):
    _, from_json, _ = call(next(c for c in GOOD if c.id == "json-instances").body)
    _, from_npy, _ = call(next(c for c in GOOD if c.id == "npy-rows").body, content_type=NPY)
    assert from_npy == from_json


# --- under multi-model-server (SAGEMAKER_MULTI_MODEL set): raise the toolkit's error, return (bytes, type) ---------


@pytest.mark.parametrize("case", BAD, ids=ids(BAD))
def test_under_multi_model_server_a_bad_request_raises_the_toolkit_error_with_the_same_status_and_body(loaded, monkeypatch, case):
    single = invoke(loaded, case.body, case.content_type, case.accept)
    monkeypatch.setenv("SAGEMAKER_MULTI_MODEL", "true")
    with pytest.raises(loaded.handlers.ToolkitError) as raised:
        loaded.handlers.transform_fn(loaded.model, case.body, case.content_type, case.accept)
    assert (raised.value.status_code, raised.value.message.encode()) == (single.status, single.body)
    assert raised.value.phrase and "\n" not in raised.value.phrase  # an HTTP reason phrase, not the JSON body


@pytest.mark.parametrize("case", GOOD, ids=ids(GOOD))
def test_under_multi_model_server_an_answer_is_bytes_and_its_content_type(loaded, monkeypatch, case):
    single = invoke(loaded, case.body, case.content_type, case.accept)
    monkeypatch.setenv("SAGEMAKER_MULTI_MODEL", "true")
    body, content_type = loaded.handlers.transform_fn(loaded.model, case.body, case.content_type, case.accept)
    assert isinstance(body, bytes) and (body, content_type) == (single.body, single.content_type)


@pytest.mark.parametrize("value, multi", [("true", True), ("True", True), ("", False), (None, False)])
def test_the_server_is_told_by_sagemaker_multi_model_as_the_image_tells_it(loaded, monkeypatch, value, multi):
    if value is None:
        monkeypatch.delenv("SAGEMAKER_MULTI_MODEL", raising=False)
    else:
        monkeypatch.setenv("SAGEMAKER_MULTI_MODEL", value)
    assert loaded.handlers.under_multi_model_server() is multi


def test_model_fn_reads_the_multi_model_archives_manifest(loaded, tmp_path):
    from bundle.artifact.build import recipe_artifact
    import tarfile

    with tarfile.open(recipe_artifact("logistic-regression", layout="multi-model").path) as tar:
        assert "manifest.json" not in tar.getnames() and "model-manifest.json" in tar.getnames()
        tar.extractall(tmp_path, filter="data")
    model = loaded.handlers.model_fn(str(tmp_path))
    assert model.class_names == ("setosa", "versicolor", "virginica")
    assert model.feature_names == ("sepal_length", "sepal_width", "petal_length", "petal_width")
