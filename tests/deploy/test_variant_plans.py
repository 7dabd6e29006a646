"""A/B variants and the shadow in the plan (mock runtime, preview=False): one Model per distinct model, each variant's
weight and sizing, a target and policy per autoscaled variant, alarms per variant in the rollback, the dashboard."""
from __future__ import annotations

import json

import pytest

from bundle.local.plan import evaluate
from bundle.params.rules import validate
from tokens import ALARM, CONFIG, DASHBOARD, ENDPOINT, MODEL, POLICY, ROLE_POLICY, TARGET

XGB = "s3://my-models/xgb/model.tar.gz"
AB = {
    "variant_weight": 3,
    "variants": [
        {"name": "challenger", "model": XGB, "instance_type": "ml.c5.large", "initial_instance_count": 2, "weight": 1, "autoscaling": {"min_capacity": 2, "max_capacity": 6, "target_invocations_per_instance": 8000}},
        {"name": "same-model", "weight": 0, "autoscaling": {"enabled": False}},
    ],
}
SHADOW = {"data_capture": {"enabled": True}, "shadow": {"enabled": True, "model": XGB}}


@pytest.fixture(scope="module")
def ab():
    return evaluate(validate(AB))


@pytest.fixture(scope="module")
def shadow():
    return evaluate(validate(SHADOW))


def test_one_model_per_distinct_model(ab):
    models = {r.name: r.inputs["primaryContainer"]["modelDataUrl"] for r in ab.of_type(MODEL)}
    assert len(models) == 2 and XGB in models.values()
    variants = {v["variantName"]: v for v in ab.one(CONFIG).inputs["productionVariants"]}
    assert variants["same-model"]["modelName"] == variants["primary"]["modelName"] != variants["challenger"]["modelName"]


def test_weights_and_sizing_per_variant(ab):
    variants = {v["variantName"]: v for v in ab.one(CONFIG).inputs["productionVariants"]}
    assert [variants[n]["initialVariantWeight"] for n in ("primary", "challenger", "same-model")] == [3, 1, 0]
    assert (variants["challenger"]["instanceType"], variants["challenger"]["initialInstanceCount"]) == ("ml.c5.large", 2)
    shares = {v["name"]: v["traffic_share"] for v in ab.outputs["variants"]["production"]}
    assert shares == {"primary": 0.75, "challenger": 0.25, "same-model": 0.0}


def test_the_role_reads_every_model(ab):
    statement = next(s for s in json.loads(ab.one(ROLE_POLICY).inputs["policy"])["Statement"] if s["Sid"] == "ReadModelArtifact")
    assert "arn:aws:s3:::my-models/xgb/model.tar.gz" in statement["Resource"] and len(statement["Resource"]) == 2


def test_a_target_and_policy_per_autoscaled_variant(ab):
    targets = {t.inputs["resourceId"]: t for t in ab.of_type(TARGET)}
    assert set(targets) == {"endpoint/iris-endpoint/variant/primary", "endpoint/iris-endpoint/variant/challenger"}
    challenger = targets["endpoint/iris-endpoint/variant/challenger"]
    assert (challenger.inputs["minCapacity"], challenger.inputs["maxCapacity"]) == (2, 6)
    policies = {p.inputs["resourceId"]: p.inputs for p in ab.of_type(POLICY)}
    assert policies["endpoint/iris-endpoint/variant/challenger"]["targetTrackingScalingPolicyConfiguration"]["targetValue"] == 8000
    assert len({p["name"] for p in policies.values()}) == 2
    hooks = ab.one(ENDPOINT).options["hooks"]["beforeUpdate"]
    assert hooks == ["iris-endpoint-deregister-scaling-before-update"]


def test_alarms_per_production_variant_and_the_rollback_names_only_them(ab):
    alarms = {a.inputs["name"]: a.inputs["dimensions"]["VariantName"] for a in ab.of_type(ALARM)}
    assert alarms == {
        "iris-endpoint-invocation-5xx": "primary",
        "iris-endpoint-model-latency": "primary",
        "iris-endpoint-challenger-invocation-5xx": "challenger",
        "iris-endpoint-challenger-model-latency": "challenger",
        "iris-endpoint-same-model-invocation-5xx": "same-model",
        "iris-endpoint-same-model-model-latency": "same-model",
    }
    rollback = [a["alarmName"] for a in ab.one(ENDPOINT).inputs["deploymentConfig"]["autoRollbackConfiguration"]["alarms"]]
    assert sorted(rollback) == sorted(alarms), "the rollback names exactly the alarms in the graph"
    assert {a.name for a in ab.of_type(ALARM)} <= ab.one(ENDPOINT).depends_on


def test_the_dashboard_shows_the_variants_side_by_side(ab):
    body = json.loads(ab.one(DASHBOARD).inputs["dashboardBody"])
    invocations = body["widgets"][0]["properties"]["metrics"]
    assert [m[5] for m in invocations] == ["primary", "challenger", "same-model"]
    assert len(body["widgets"][-1]["properties"]["alarms"]) == 6


def test_a_shadow_variant(shadow):
    config = shadow.one(CONFIG).inputs
    assert [v["variantName"] for v in config["productionVariants"]] == ["primary"]
    (s,) = config["shadowProductionVariants"]
    assert (s["variantName"], s["initialVariantWeight"]) == ("shadow", 1)
    assert s["modelName"] != config["productionVariants"][0]["modelName"] and len(shadow.of_type(MODEL)) == 2
    assert config["dataCaptureConfig"]["enableCapture"] is True, "both variants' predictions are captured"
    assert len(shadow.of_type(ALARM)) == 2, "the shadow's answers reach no caller: it does not roll back"
    body = json.loads(shadow.one(DASHBOARD).inputs["dashboardBody"])
    assert [m[5] for m in body["widgets"][0]["properties"]["metrics"]] == ["primary", "shadow"]
    assert shadow.outputs["variants"]["shadow"]["sampling_share"] == 1.0


def test_the_default_exports_no_variants_output():
    assert "variants" not in evaluate(validate({})).outputs


def test_two_recipes_each_uploaded_once_with_its_own_model():
    plan = evaluate(validate({"variants": [{"name": "boosted", "model": "gradient-boosting"}], "shadow": {"enabled": False}}))
    objects = {o.name: o.inputs["key"] for o in plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert set(objects) == {"sagemaker-bundle-model-artifact", "sagemaker-bundle-model-artifact-gradient-boosting"}
    assert len(set(objects.values())) == 2, "each recipe under its own content-addressed key"
    urls = sorted(m.inputs["primaryContainer"]["modelDataUrl"].rsplit("/", 2)[-2] for m in plan.of_type(MODEL))
    assert urls == sorted(k.split("/")[1] for k in objects.values())
