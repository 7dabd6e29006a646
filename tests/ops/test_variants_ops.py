"""Several variants on the emulated deployment (moto + the local endpoint with an image worker per model): the smoke
test by TargetVariant, `variants show` with drift after a hand-set weight, and `variants`/`shadow compare` on the
capture files the local front wrote into moto."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bundle.local.emulator import EmulatedDeployment
from bundle.local.plan import evaluate
from bundle.ops import aws
from bundle.ops.examples import instances_request
from bundle.ops.smoke import Expected, run_smoke
from bundle.ops.variants import compare, show
from bundle.params.rules import validate
from conftest import REPO

AB = {"variant_weight": 3, "data_capture": {"enabled": True, "sampling_percentage": 100}, "variants": [{"name": "challenger", "model": "s3://my-models/xgb/model.tar.gz", "weight": 1}]}
SHADOW = {"data_capture": {"enabled": True, "sampling_percentage": 100}, "shadow": {"enabled": True}}


def deployed(raw, artifact):
    plan = evaluate(validate(raw))
    return plan.outputs, EmulatedDeployment(plan, artifact.path)


def invoke(deployment, n, target=None):
    runtime = aws.client("sagemaker-runtime", deployment.region, endpoint_url=deployment.runtime_url)
    seen = []
    for _ in range(n):
        extra = {"TargetVariant": target} if target else {}
        seen.append(runtime.invoke_endpoint(EndpointName=deployment.endpoint_name, ContentType="application/json", Body=json.dumps(instances_request()), **extra)["InvokedProductionVariant"])
    deployment.flush()
    return seen


@pytest.fixture(scope="module")
def ab(artifact):
    outputs, emulated = deployed(AB, artifact)
    with emulated as deployment:
        yield outputs, deployment


def test_smoke_invokes_every_variant_by_target_variant(ab, monkeypatch):
    outputs, deployment = ab
    for key, value in deployment.env().items():
        monkeypatch.setenv(key, value)
    report = run_smoke(Expected.from_outputs(outputs))
    checks = {c.name: c for c in report.checks}
    assert checks["invoke variant challenger"].ok and checks["invoke variant primary"].ok, report.table()
    assert report.ok, report.table()


def test_variants_show_reports_live_weights_and_drift(ab):
    outputs, deployment = ab
    invoke(deployment, 10, target="challenger")
    sm, cw = deployment.client("sagemaker"), deployment.client("cloudwatch")
    states = {s.name: s for s in show(deployment.endpoint_name, sm, cw, outputs)}
    assert (states["primary"].live_weight, states["challenger"].live_weight) == (3.0, 1.0)
    assert states["challenger"].invocations >= 10 and not states["challenger"].drift
    sm.update_endpoint_weights_and_capacities(EndpointName=deployment.endpoint_name, DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 5.0}])
    drift = {s.name: s.drift for s in show(deployment.endpoint_name, sm, cw, outputs)}
    assert drift["primary"] == [] and "resets it" in drift["challenger"][0]
    sm.update_endpoint_weights_and_capacities(EndpointName=deployment.endpoint_name, DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 1.0}])


def test_ab_compare_reads_the_captured_files(ab):
    outputs, deployment = ab
    invoke(deployment, 5, target="primary")
    invoke(deployment, 5, target="challenger")
    report = compare(deployment.client("s3"), deployment.client("cloudwatch"), deployment.endpoint_name, outputs["data_capture"]["destination"], ["primary", "challenger"])
    assert report["variants"]["challenger"]["captured_records"] >= 5
    assert report["agreement"]["primary vs challenger"]["agreement"] == 1.0, "the same model gives the same answers"
    assert report["variants"]["primary"]["model_latency_ms_mean"] > 0


def test_shadow_compare_cli_on_the_emulator(artifact, tmp_path):
    outputs, emulated = deployed(SHADOW, artifact)
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    with emulated as deployment:
        assert set(invoke(deployment, 12)) == {"primary"}  # invoke() flushes, after the shadow's copies are answered
        env = {**__import__("os").environ, **deployment.env()}
        done = subprocess.run([sys.executable, "-m", "bundle", "shadow", "compare", "--outputs", str(tmp_path / "outputs.json")], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["agreement"]["primary vs shadow"]["shared_inputs"] >= 1 and report["agreement"]["primary vs shadow"]["agreement"] == 1.0
    assert report["variants"]["shadow"]["captured_records"] == 12


def test_two_recipes_are_served_each_by_its_own_worker(artifact):
    """random-forest (primary) against gradient-boosting (challenger): both answer the Iris examples."""
    _, emulated = deployed({"variants": [{"name": "boosted", "model": "gradient-boosting", "weight": 1}]}, artifact)
    with emulated as deployment:
        assert len({w.url for w in deployment._local.variant_workers.values()}) == 2
        runtime = aws.client("sagemaker-runtime", deployment.region, endpoint_url=deployment.runtime_url)
        for name in ("primary", "boosted"):
            response = runtime.invoke_endpoint(EndpointName=deployment.endpoint_name, TargetVariant=name, ContentType="application/json", Body=json.dumps(instances_request()))
            assert response["InvokedProductionVariant"] == name
            assert json.loads(response["Body"].read())["predictions"] == [0, 1, 2]
