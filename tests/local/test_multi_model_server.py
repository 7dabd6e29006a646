"""The handlers on the image's multi-model server: Java multi-model-server 1.1.1 with sagemaker-inference 1.2.0.

Started as the image starts it when SAGEMAKER_MULTI_MODEL is set (bundle/local/container/multi_model.py, with our
handler service), the POC models registered through SageMaker's multi-model container protocol (POST /models, as
SageMaker does when a TargetModel is first called), the request corpus replayed through POST /models/{name}/invoke:
every good request 200 with predictions, every bad one the same 4xx JSON body as the single-model worker gives.

One server for the module (it takes about 10 s to start). Skipped, with the reason, where Java cannot run.
"""
from __future__ import annotations

import json
import tarfile

import pytest

from bundle.artifact.build import sourcedir_tarball
from bundle.artifact.recipes import DEFAULT_RECIPE, RECIPES
from bundle.artifact.build import recipe_artifact
from bundle.local.multi_model import MAX_MMS_PORT, MultiModelServer, java_problem
from corpus import BAD, CORPUS, GOOD, MMS_MAX_REQUEST, MMS_STRICT_UTF8_500, ids, predictions_in

PROBLEM = java_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"multi-model-server cannot run here: {PROBLEM}")

# Cases that never reach the handlers under MMS (corpus.py says why): recorded here so that a change is noticed.
# sagemaker-inference's strict UTF-8 decoding is the image's (its handler service uses that Transformer): a property
# of the image, not of the handlers.
STRICT_UTF8_500 = MMS_STRICT_UTF8_500


def unpack(archive, into):
    into.mkdir(parents=True)
    with tarfile.open(archive, "r:gz") as tar:
        tar.extractall(into, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(into)
    return into


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("mms")
    code = base / "code"
    code.mkdir()
    (base / "sourcedir.tar.gz").write_bytes(sourcedir_tarball())
    unpack(base / "sourcedir.tar.gz", base / "sourcedir")
    (code / "inference.py").write_bytes((base / "sourcedir" / "inference.py").read_bytes())
    with MultiModelServer(base, code) as mms:
        mms.model_dirs = {}
        for name in RECIPES:
            archive = recipe_artifact(name, layout="multi-model")
            # SageMaker's layout: the archive unpacked to /opt/ml/models/<model name>/model
            mms.model_dirs[name] = unpack(archive.path, base / "models" / name / "model")
            status, document = mms.load(name, mms.model_dirs[name])
            assert status == 200, document
        yield mms


def test_mms_listens_below_its_port_limit_and_lists_the_registered_models(server):
    assert server.port <= MAX_MMS_PORT
    status, data, _ = server.request("GET", "/models")
    assert status == 200
    assert sorted(m["modelName"] for m in json.loads(data)["models"]) == sorted(RECIPES)


def test_registering_a_loaded_model_again_is_409(server):
    status, document = server.load(DEFAULT_RECIPE, server.model_dirs[DEFAULT_RECIPE])
    assert status == 409, document


def test_a_root_manifest_json_breaks_registration_which_is_why_multi_model_archives_rename_it(server, tmp_path):
    single = unpack(recipe_artifact(DEFAULT_RECIPE).path, tmp_path / "single" / "model")
    assert (single / "manifest.json").exists()
    status, document = server.load("single-model-layout", single)
    assert status == 500 and document.get("type") == "NullPointerException", document


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("case", CORPUS, ids=ids(CORPUS))
def test_corpus_on_multi_model_server(server, recipe, case):
    headers = {"Content-Type": case.content_type}
    if case.accept is not None:
        headers["Accept"] = case.accept
    status, body, response_headers = server.invoke(recipe, case.body, headers)
    if case.id in STRICT_UTF8_500:
        assert status == 500 and b"can't decode" in body, (status, body[:200])
        return
    if len(case.body) > MMS_MAX_REQUEST:
        assert (status, body) == (413, b""), (status, body[:200])
        return
    assert status == case.status, body[:300]
    if status == 200:
        assert response_headers["Content-Type"].split(";")[0] == case.response_type
        assert predictions_in(body, case.response_type) == list(case.predictions)
        if case.response_type == "application/json":
            assert json.loads(body)["labels"] == [["setosa", "versicolor", "virginica"][p] for p in case.predictions]
    else:
        document = json.loads(body)
        assert set(document) == {"error", "message"} and document["error"] == case.error
        assert case.words in document["message"]


def test_the_same_4xx_bodies_as_the_single_model_worker(server, loaded):
    """Byte for byte: the in-process hooks answer as the single-model worker does (test_image_worker.py proves that)."""
    from bundle.local.inprocess import invoke

    for case in BAD:
        if case.id in STRICT_UTF8_500 or len(case.body) > MMS_MAX_REQUEST:
            continue
        headers = {"Content-Type": case.content_type, **({"Accept": case.accept} if case.accept else {})}
        status, body, _ = server.invoke(DEFAULT_RECIPE, case.body, headers)
        single = invoke(loaded, case.body, case.content_type, case.accept)
        assert (status, body) == (single.status, single.body), case.id


def test_good_requests_are_answered_by_each_model_itself(server):
    """The three models answer the same rows with different probabilities: each TargetModel reaches its own model."""
    case = GOOD[0]
    probabilities = {}
    for recipe in RECIPES:
        status, body, _ = server.invoke(recipe, case.body, {"Content-Type": case.content_type, "Accept": "application/json"})
        assert status == 200
        probabilities[recipe] = json.loads(body)["probabilities"]
    assert len({json.dumps(p) for p in probabilities.values()}) == len(RECIPES)


def test_unloading_a_model_then_invoking_it_is_404(server, tmp_path):
    directory = unpack(recipe_artifact("logistic-regression", layout="multi-model").path, tmp_path / "extra" / "model")
    assert server.load("unload-me", directory)[0] == 200
    assert server.request("DELETE", "/models/unload-me")[0] == 200
    status, _, _ = server.invoke("unload-me", GOOD[0].body, {"Content-Type": "application/json"})
    assert status == 404
