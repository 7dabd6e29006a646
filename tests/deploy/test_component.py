"""The component on its own: constructed under the mocks with a stand-in artifact file, no training, no guide."""
from __future__ import annotations

from bundle.deploy.component import EndpointArgs, SageMakerEndpoint
from bundle.deploy.model import ModelArtifact
from bundle.local.plan import evaluate_program
from bundle.params.rules import validate
from tokens import CONFIG, ENDPOINT, MODEL


def test_the_component_builds_from_params_and_an_artifact_reference_alone(tmp_path, monkeypatch):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not trained here")
    artifact = ModelArtifact(path=archive, sha256="0" * 64)

    def refuse(*args, **kwargs):
        raise AssertionError("the component must not train, package or render")

    for target in ("model.train.train", "bundle.artifact.build.build_artifact", "bundle.guide.render.render"):
        monkeypatch.setattr(target, refuse)

    def program():
        endpoint = SageMakerEndpoint("iris-endpoint", EndpointArgs(params=validate({}), recipe_artifacts={"random-forest": artifact}))
        return {"endpoint": endpoint.endpoint.name, "config": endpoint.config.name, "model_data_url": endpoint.primary_data.url}

    run = evaluate_program(program)
    assert run.outputs["endpoint"] == "iris-endpoint"
    assert run.outputs["model_data_url"].endswith(f"/models/{'0' * 64}/model.tar.gz")
    assert run.one(ENDPOINT).inputs["endpointConfigName"] == run.outputs["config"]
    assert run.one(MODEL).inputs["primaryContainer"]["modelDataUrl"] == run.outputs["model_data_url"]
    assert run.one(CONFIG).inputs["productionVariants"][0]["modelName"] == run.one(MODEL).state["name"]
    assert "operator_guide" not in run.outputs
