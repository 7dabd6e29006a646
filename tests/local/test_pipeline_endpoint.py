"""The inference pipeline on the image's real workers: the preprocessing stage (model/preprocessing.py) under its own
gunicorn + sagemaker-containers worker, then the unchanged model's, in series behind the runtime-API front
(bundle/local/pipeline.py).

The whole request corpus (tests/corpus.py) goes to the preprocessing stage's worker (a good request becomes the model's
4 columns in centimetres as CSV, a bad one the model's own 4xx with the stage named) and through boto3 to the front
(the predictions the corpus expects, or ModelError carrying the stage's 4xx), plus the named-feature and unit cases.
"""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from bundle.artifact.build import build_artifact
from bundle.artifact.preprocessing import preprocessing_artifact
from bundle.local.endpoint import LocalEndpoint
from bundle.local.worker import ImageWorker
from bundle.artifact.tarball import unpack_artifact
from bundle.names import PREPROCESSING_ENVIRONMENT
from bundle.ops import aws
from conftest import http_request
from corpus import BAD, CORPUS, CSV, GOOD, JSON, ROWS, Case, ids, predictions_in

# The model answers these from the Accept header, which only the last stage gets: the preprocessing stage accepts them.
DECIDED_BY_ACCEPT = {"npy-unknown-output", "unsupported-accept"}
NAMED = {"json-records", "json-records-any-order", "jsonlines-records"}


@pytest.fixture(scope="module")
def pipeline():
    with LocalEndpoint(build_artifact().path, port=0, endpoint_name="iris-pipeline", preprocessing=preprocessing_artifact("cm").path) as served:
        yield served


@pytest.fixture(scope="module")
def runtime(pipeline):
    return aws.client("sagemaker-runtime", "us-east-1", endpoint_url=pipeline.url, max_attempts=1)


def post(url: str, body: bytes, content_type: str = JSON, accept: str | None = JSON) -> tuple[int, str, bytes]:
    return http_request(url, "POST", "/invocations", body, {"Content-Type": content_type, **({"Accept": accept} if accept else {})})


def rows_of(body: bytes) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in csv.reader(io.StringIO(body.decode()))])


def expected_rows(case: Case) -> list:
    return {"json-integers": [[5, 3, 1, 0], ROWS[1], ROWS[2]], "npy-one-sample": [ROWS[2]]}.get(case.id, ROWS)


@pytest.mark.parametrize("case", GOOD, ids=ids(GOOD))
def test_the_preprocessing_stage_turns_every_good_case_into_the_models_columns(pipeline, case):
    status, content_type, body = post(pipeline.preprocessing_worker.url, case.body, case.content_type, case.accept)
    assert (status, content_type) == (200, f"{CSV}; charset=utf-8"), body[:300]
    assert np.allclose(rows_of(body), expected_rows(case), rtol=1e-6), body  # float32 npy rows round


@pytest.mark.parametrize("case", BAD, ids=ids(BAD))
def test_the_preprocessing_stage_refuses_every_bad_case_as_the_model_does_naming_itself(pipeline, case):
    status, content_type, body = post(pipeline.preprocessing_worker.url, case.body, case.content_type, case.accept)
    if case.id in DECIDED_BY_ACCEPT:
        assert status == 200, "the stage answers its CSV whatever the Accept: the model refuses it (below)"
        return
    assert (status, content_type) == (case.status, JSON), body[:300]
    document = json.loads(body)
    assert (document["error"], document["stage"]) == (case.error, "preprocessing") and case.words in document["message"]


@pytest.mark.parametrize("case", CORPUS, ids=ids(CORPUS))
def test_the_pipeline_through_the_front_answers_every_case(runtime, case):
    request = {"EndpointName": "iris-pipeline", "ContentType": case.content_type, "Body": case.body, **({"Accept": case.accept} if case.accept else {})}
    if len(case.body) > 6291456:  # the runtime API's own limit, before any container (tests/local/test_image_worker.py)
        with pytest.raises(runtime.exceptions.ClientError):
            runtime.invoke_endpoint(**request)
        return
    if case.status >= 400:
        with pytest.raises(runtime.exceptions.ModelError) as raised:
            runtime.invoke_endpoint(**request)
        error = raised.value.response
        original = json.loads(error["OriginalMessage"])
        assert (error["ResponseMetadata"]["HTTPStatusCode"], error["OriginalStatusCode"], original["error"]) == (424, case.status, case.error)
        assert original["stage"] == ("model" if case.id in DECIDED_BY_ACCEPT else "preprocessing")
        return
    response = runtime.invoke_endpoint(**request)
    assert predictions_in(response["Body"].read(), case.response_type) == list(case.predictions)


MM = [[51, 35, 14, 2], [62, 29, 43, 13], [77, 30, 61, 23]]
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.mark.parametrize(
    "body, content_type",
    [
        (json.dumps({"unit": "mm", "instances": [dict(zip(NAMES, r)) for r in MM]}), JSON),
        (json.dumps([{f"{n}_mm": v for n, v in zip(NAMES, r)} for r in MM]), JSON),
        (json.dumps({"instances": [{"petal_width_mm": r[3], "sepal_length": r[0] / 10, "petal_length_cm": r[2] / 10, "sepal_width_mm": r[1]} for r in MM]}), JSON),
        (json.dumps({"unit": "mm", "instances": MM}), JSON),
        ("petal_width_mm,sepal_length_cm,petal_length_mm,sepal_width_mm\n" + "".join(f"{r[3]},{r[0] / 10},{r[2]},{r[1]}\n" for r in MM), CSV),
        ("sepal_width_mm,sepal_length_mm,petal_length_mm,petal_width_mm\n" + "".join(f"{r[1]},{r[0]},{r[2]},{r[3]}\n" for r in MM), CSV),
        ("".join(json.dumps({f"{n}_mm": v for n, v in zip(NAMES, r)}) + "\n" for r in MM), "application/jsonlines"),
    ],
    ids=["json-document-unit", "json-suffixed-names", "json-mixed-units-any-order", "json-rows-in-mm", "csv-header-any-order-mixed-units", "csv-header-all-mm", "jsonlines-suffixed"],
)
def test_named_features_and_units_reach_the_model_in_centimetres(pipeline, runtime, body, content_type):
    status, _, stage = post(pipeline.preprocessing_worker.url, body.encode(), content_type)
    assert status == 200 and np.allclose(rows_of(stage), ROWS), stage
    answer = runtime.invoke_endpoint(EndpointName="iris-pipeline", ContentType=content_type, Accept=JSON, Body=body.encode())
    assert json.loads(answer["Body"].read())["predictions"] == [0, 1, 2]


@pytest.mark.parametrize(
    "body, content_type, error, words",
    [
        (json.dumps([{"sepal_length": 51, "sepal_length_mm": 51, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]), JSON, "DuplicateFeature", "'sepal_length' is given twice"),
        (json.dumps({"unit": "inch", "instances": [ROWS[0]]}), JSON, "UnknownUnit", "'inch' is not one of cm, mm"),
        (json.dumps([{"sepal_length_in": 2, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]), JSON, "UnknownFeature", "optionally suffixed _cm or _mm"),
        (json.dumps([{"sepal_length_mm": -51, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]), JSON, "ValueOutOfRange", "'sepal_length' is -5.1 cm; a length cannot be negative"),
        ("5.1,-3.5,1.4,0.2\n", CSV, "ValueOutOfRange", "'sepal_width' is -3.5 cm"),
        ("sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n", CSV, "MissingFeature", "no feature 'petal_width'"),
        ("sepal_length,sepal_length_mm,petal_length,petal_width\n5.1,51,1.4,0.2\n", CSV, "DuplicateFeature", "'sepal_length' twice"),
        ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4\n", CSV, "WrongFeatureCount", "row 0: expected 4 values"),
        ("sepal_length,sepal_width,petal_length,petal_width\n", CSV, "NoRows", "no rows"),
        (json.dumps([{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]), JSON, "NonNumericValue", "'5.1' is not a number"),
    ],
    ids=["duplicate-units", "unknown-unit", "unknown-suffix", "negative-mm", "negative-csv", "header-missing", "header-duplicate", "header-short-row", "header-only", "string-value"],
)
def test_a_bad_named_record_is_a_4xx_naming_the_preprocessing_stage(pipeline, runtime, body, content_type, error, words):
    status, content_type_back, answer = post(pipeline.preprocessing_worker.url, body.encode(), content_type)
    document = json.loads(answer)
    assert (status, content_type_back, document["error"], document["stage"]) == (400, JSON, error, "preprocessing") and words in document["message"], document
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="iris-pipeline", ContentType=content_type, Body=body.encode())
    assert raised.value.response["OriginalStatusCode"] == 400 and json.loads(raised.value.response["OriginalMessage"])["stage"] == "preprocessing"


def test_the_model_stage_is_the_unchanged_model_container(pipeline):
    """The pipeline's second container is the same worker the single-container endpoint runs; its errors are named too."""
    status, _, body = post(pipeline.url, b"5.1,3.5,1.4,0.2\n", CSV, "application/xml")
    assert status == 406 and json.loads(body) | {"stage": "model"} == json.loads(body)
    status, _, direct = post(pipeline.worker_url, b"5.1,3.5,1.4,0.2\n", CSV)
    assert status == 200 and predictions_in(direct, JSON) == [0]
    assert http_request(pipeline.url, "GET", "/ping")[0] == 200, "every container pings"


def test_a_millimetre_stage_reads_unsuffixed_names_as_millimetres_and_plain_rows_as_the_models_centimetres(tmp_path):
    directory = tmp_path / "model"
    unpack_artifact(preprocessing_artifact("mm").path, directory, require_code=False)
    worker = ImageWorker(directory, model_environment=PREPROCESSING_ENVIRONMENT).start()
    try:
        header = ",".join(NAMES) + "\n"
        status, _, body = post(worker.url, (header + "".join(",".join(map(str, r)) + "\n" for r in MM)).encode(), CSV)
        assert status == 200 and np.allclose(rows_of(body), ROWS), "a header's unsuffixed names are in the configured mm"
        status, _, body = post(worker.url, json.dumps([dict(zip(NAMES, r)) for r in MM]).encode())
        assert status == 200 and np.allclose(rows_of(body), ROWS), "so are records' names"
        status, _, body = post(worker.url, json.dumps({"unit": "cm", "instances": [dict(zip(NAMES, ROWS[0]))]}).encode())
        assert status == 200 and np.allclose(rows_of(body), [ROWS[0]]), "a document's own unit wins"
        status, _, body = post(worker.url, b"5.1,3.5,1.4,0.2\n", CSV)
        assert status == 200 and np.allclose(rows_of(body), [ROWS[0]]), "plain rows are the model's format, in cm"
        status, _, body = post(worker.url, json.dumps({"unit": "mm", "instances": MM}).encode())
        assert status == 200 and np.allclose(rows_of(body), ROWS), "unless their document says mm"
    finally:
        worker.stop()
