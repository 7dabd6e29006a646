"""A multi-model endpoint's plan: Mode MultiModel on a prefix, content-addressed uploads and copies, the role scoped to
the prefix, the handlers' sourcedir, the MME metrics; and what validation refuses (AWS's limits, the bundle's needs)."""
from __future__ import annotations

import hashlib
import json

import pytest

from bundle.artifact.build import sourcedir_tarball
from bundle.artifact.recipes import RECIPES, target_model_name
from bundle.artifact.build import recipe_artifact
from bundle.local.plan import evaluate, plan_document
from bundle.params.model import InvalidParams
from bundle.params.rules import validate
from tokens import ALARM, BUCKET, CONFIG, DASHBOARD, ENDPOINT, HARDENING, MODEL, OBJECT, POLICY, ROLE, ROLE_POLICY, TARGET

COPY = "aws:s3/objectCopy:ObjectCopy"
USER_ARCHIVE = "s3://team-models/churn/v3/churn.tar.gz"
MME = {
    "endpoint_name": "iris-models",
    "enable_network_isolation": False,
    "multi_model": {"enabled": True, "models": [*RECIPES, USER_ARCHIVE], "cache": "Disabled"},
}


@pytest.fixture(scope="module")
def mme():
    return evaluate(validate(MME))


def statements(evaluation):
    return {s["Sid"]: s for s in json.loads(evaluation.one(ROLE_POLICY).inputs["policy"])["Statement"]}


def test_the_graph_uploads_every_model_copies_the_users_and_keeps_autoscaling_and_alarms(mme):
    types = sorted(r.type for r in mme.resources)
    objects = [OBJECT] * (len(RECIPES) + 1)  # the recipes' archives and the handlers' sourcedir
    lifecycle = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"  # aborts incomplete uploads (every bucket)
    assert types == sorted([BUCKET, *HARDENING, lifecycle, *objects, COPY, ROLE, ROLE_POLICY, MODEL, CONFIG, ENDPOINT, TARGET, POLICY, ALARM, ALARM, DASHBOARD])


def test_the_model_is_multi_model_on_the_prefix_with_the_cache_setting_and_the_handlers_from_s3(mme):
    container = mme.one(MODEL).inputs["primaryContainer"]
    prefix = mme.outputs["multi_model"]["prefix"]
    assert container["mode"] == "MultiModel"
    assert container["modelDataUrl"] == prefix == mme.outputs["model_data_url"] == f"s3://{mme.outputs['bucket']}/multi-model/models/"
    assert container["multiModelConfig"] == {"modelCacheSetting": "Disabled"}
    code_key = f"multi-model/code/sourcedir-{hashlib.sha256(sourcedir_tarball()).hexdigest()[:12]}.tar.gz"
    assert container["environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{mme.outputs['bucket']}/{code_key}",
        "SAGEMAKER_REGION": "us-east-1",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_MULTI_MODEL": "true",
    }
    assert mme.outputs["multi_model"]["code_url"] == container["environment"]["SAGEMAKER_SUBMIT_DIRECTORY"]
    assert mme.one(MODEL).inputs["enableNetworkIsolation"] is False
    assert mme.outputs["artifact_sha256"] is None, "no single-model artifact is uploaded"


def test_uploads_are_content_addressed_under_the_prefix(mme):
    keys = {r.inputs["key"]: r for r in mme.of_type(OBJECT)}
    hosted = {m["source"]: m for m in mme.outputs["multi_model"]["models"]}
    for recipe in RECIPES:
        archive = recipe_artifact(recipe, layout="multi-model")
        name = target_model_name(recipe, archive.sha256)
        assert hosted[recipe] == {"target_model": name, "source": recipe, "sha256": archive.sha256}
        uploaded = keys[f"multi-model/models/{name}"]
        assert hashlib.sha256(open(uploaded.inputs["source"].path, "rb").read()).hexdigest() == archive.sha256
    copy = mme.one(COPY).inputs
    assert copy["source"] == "team-models/churn/v3/churn.tar.gz"
    assert copy["key"] == "multi-model/models/" + hosted[USER_ARCHIVE]["target_model"]
    assert hosted[USER_ARCHIVE]["target_model"].startswith("churn-") and hosted[USER_ARCHIVE]["sha256"] is None
    assert [t for t, _ in mme.invokes].count("aws:s3/getObject:getObject") == 1, "the copy is named after the source's ETag"


def test_the_role_reads_only_the_prefix_and_the_handlers(mme):
    bucket = mme.outputs["bucket"]
    code_key = mme.outputs["multi_model"]["code_url"].split(f"s3://{bucket}/", 1)[1]
    by_sid = statements(mme)
    assert by_sid["ReadModelArtifact"] == {
        "Sid": "ReadModelArtifact",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/multi-model/models/*", f"arn:aws:s3:::{bucket}/{code_key}"],
    }
    s3 = [s for s in by_sid.values() if any(a.startswith("s3:") for a in s["Action"])]
    assert [s["Sid"] for s in s3] == ["ReadModelArtifact"], "no other S3 access: no capture (AWS has none for MME)"


def test_the_dashboard_graphs_the_multi_model_metrics(mme):
    body = json.loads(mme.one(DASHBOARD).inputs["dashboardBody"])
    graphed = {m[1] for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"] if isinstance(m[0], str)}
    assert {"ModelCacheHit", "ModelLoadingWaitTime", "ModelDownloadingTime", "ModelLoadingTime", "LoadedModelCount"} <= graphed
    loaded = next(m for w in body["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"] if isinstance(m[0], str) and m[1] == "LoadedModelCount")
    assert loaded[0] == "/aws/sagemaker/Endpoints"


def test_the_single_model_plan_has_no_multi_model_parts():
    default = evaluate(validate({}))
    assert default.outputs["multi_model"] is None
    assert "mode" not in default.one(MODEL).inputs["primaryContainer"]
    body = json.loads(default.one(DASHBOARD).inputs["dashboardBody"])
    assert "ModelCacheHit" not in json.dumps(body)


def test_plan_json_shows_the_multi_model_resources(mme):
    document = plan_document(mme)
    copy = next(r for r in document["resources"] if r["type"] == COPY)
    assert copy["inputs"]["key"] == "multi-model/models/churn-[etag].tar.gz"
    model = next(r for r in document["resources"] if r["type"] == MODEL)
    assert model["inputs"]["primaryContainer"]["modelDataUrl"] == "s3://sagemaker-bundle-artifacts-[random]/multi-model/models/"


# --- validation -------------------------------------------------------------------------------------------------


def problems(raw) -> dict[str, str]:
    with pytest.raises(InvalidParams) as refused:
        validate(raw)
    return {p.path: p.message for p in refused.value.problems}


def test_serverless_cannot_host_several_models():
    found = problems({"deployment_mode": "serverless", "multi_model": {"enabled": True}})
    assert "real-time instances only" in found["multi_model"]


def test_data_capture_custom_model_and_network_isolation_are_refused_by_name():
    found = problems(
        {"multi_model": {"enabled": True}, "data_capture": {"enabled": True}, "enable_network_isolation": True, **{"model_source": "custom-s3", "custom_model_s3_uri": "s3://b/m.tar.gz"}}
    )
    assert "AWS does not support data capture" in found["data_capture.enabled"]
    assert "multi_model.models" in found["model_source"]
    assert "conflicts with multi_model.enabled true" in found["enable_network_isolation"], "only an explicit true conflicts"


def test_models_are_recipe_names_or_archive_uris():
    found = problems({"enable_network_isolation": False, "multi_model": {"enabled": True, "models": ["forest", "s3://b/m.zip"], "cache": "On"}})
    assert set(found) == {"multi_model.models.0", "multi_model.models.1", "multi_model.cache"}
    assert "recipe name" in found["multi_model.models.0"]
    assert problems({"multi_model": {"models": []}})["multi_model.models"]
    assert problems({"multi_model": {"models": ["random-forest", "random-forest"]}})["multi_model.models"]


def test_a_target_model_name_longer_than_aws_allows_is_refused():
    found = problems({"enable_network_isolation": False, "multi_model": {"enabled": True, "models": ["s3://team-models/" + "x" * 1100 + ".tar.gz"]}})
    assert "TargetModel has" in found["multi_model.models.0"]


def test_accelerated_instance_types_are_refused_for_multi_model_endpoints_too():
    found = problems({"multi_model": {"enabled": True}, "instance_type": "ml.g5.xlarge"})
    assert "carries a GPU" in found["instance_type"]


def test_the_schemas_recipe_names_are_the_bundles():
    from bundle.params.schema import load_schema

    items = load_schema()["properties"]["multi_model"]["properties"]["models"]
    assert items["items"]["anyOf"][0]["enum"] == list(RECIPES) == items["default"]


def test_a_disabled_multi_model_changes_nothing():
    assert evaluate(validate({"multi_model": {"enabled": False}})).outputs == evaluate(validate({})).outputs


def test_the_example_params_file_plans_a_multi_model_endpoint():
    from bundle.params.sources import read_params_file
    from conftest import REPO

    params = validate(read_params_file(str(REPO / "examples" / "multi-model" / "params.json")))
    assert params.is_multi_model and params.multi_model.recipes == tuple(RECIPES)
