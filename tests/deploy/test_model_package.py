"""model_source model-package: the Model Registry's version, resolved when the stack is planned, becomes the Model.

Every plan here runs against a registry in moto (tests/model_registry.py): versions registered the way
`python -m bundle register` registers them, approved and rejected with UpdateModelPackage as a reviewer does.
moto accepts much that AWS refuses; the refusals proven here are the bundle's own, at plan time.
"""
from __future__ import annotations

import json

import pytest

from bundle.errors import BundleError
from bundle.local.plan import evaluate, plan_document
from bundle.local.requests import api_requests
from bundle.names import MODEL_ENVIRONMENT
from bundle.params.model import InvalidParams
from bundle.params.rules import validate
from bundle.params.shapes import Request, check_request
from model_registry import BUCKET as TEAM_BUCKET, GROUP, model_registry
from tokens import BUCKET, MODEL, ROLE_POLICY

BY_GROUP = {"model_source": "model-package", "model_package": {"group": GROUP}}


def pinned(arn: str) -> dict:
    return {"model_source": "model-package", "model_package": {"arn": arn}}


def statements(run) -> dict:
    return {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY).inputs["policy"])["Statement"]}


def resources(run) -> dict:
    """Each resource as `plan --json` shows it, by logical name."""
    return {r["name"]: r for r in plan_document(run)["resources"]}


def test_the_model_is_made_from_the_groups_approved_version_by_model_package_name():
    with model_registry() as registry:
        version = registry.register(approve=True)
        run = evaluate(validate(BY_GROUP))
    container = run.one(MODEL).inputs["primaryContainer"]
    assert container == {"modelPackageName": version["arn"], "environment": MODEL_ENVIRONMENT}
    assert "image" not in container and "modelDataUrl" not in container, "AWS refuses Image or ModelDataUrl next to ModelPackageName"
    by_sid = statements(run)
    assert by_sid["DescribeModelPackage"]["Action"] == ["sagemaker:DescribeModelPackage"]
    group_versions = version["arn"].rsplit("/", 1)[0] + "/*"
    assert by_sid["DescribeModelPackage"]["Resource"] == [group_versions], "the group's versions, nothing else of the registry"
    assert by_sid["ReadModelArtifact"]["Resource"] == [f"arn:aws:s3:::{TEAM_BUCKET}/registry/{GROUP}/*"], "the group's archives only"
    assert not run.of_type(BUCKET), "nothing to upload: the registry holds the archive"
    assert run.outputs["model_package"] == {
        "arn": version["arn"], "group": GROUP, "version": 1, "approval_status": "Approved", "image": version["image"],
        "model_data_url": version["model_data_url"], "reference": "group",
    }  # fmt: skip
    assert run.outputs["model_data_url"] == version["model_data_url"]
    assert version["arn"] in run.outputs["operator_guide"] and "version 1 of group iris-classifier, Approved" in run.outputs["operator_guide"]


def test_the_planned_create_model_request_passes_botocores_shape_and_names_no_image():
    with model_registry() as registry:
        registry.register(approve=True)
        run = evaluate(validate(BY_GROUP))
    create = next(r for r in api_requests(run.resources, b"") if r.operation == "CreateModel")
    assert set(create.params["PrimaryContainer"]) == {"ModelPackageName", "Environment"}
    assert check_request(Request("sagemaker", "CreateModel", create.params)) == []


def test_register_approve_resolve_and_a_newer_approved_version_changes_only_the_model():
    with model_registry() as registry:
        first = registry.register()  # PendingManualApproval
        assert first["approval_status"] == "PendingManualApproval" and first["group_created"]
        with pytest.raises(InvalidParams) as refused:
            evaluate(validate(BY_GROUP))
        assert refused.value.problems[0].path == "model_package.group" and "no version with ModelApprovalStatus Approved" in str(refused.value)

        registry.set_status(first["arn"], "Approved")  # the reviewer approves it
        before = evaluate(validate(BY_GROUP))
        assert before.outputs["model_package"]["arn"] == first["arn"]

        second = registry.register("logistic-regression", approve=True)
        assert second["version"] == 2 and not second["group_created"]
        after = evaluate(validate(BY_GROUP))

        registry.set_status(second["arn"], "Rejected")  # a rollback: the group's previous Approved version
        back = evaluate(validate(BY_GROUP))

    assert after.outputs["model_package"]["arn"] == second["arn"] and after.outputs["model_package"]["version"] == 2
    old, new = resources(before), resources(after)
    assert set(old) == set(new), "no resource is added or removed"
    changed = {name for name in old if old[name] != new[name]}
    model = after.one(MODEL).name
    assert changed == {model}, "the role's grants cover the group's versions: only the Model changes"
    assert new[model]["inputs"]["primaryContainer"]["modelPackageName"] == second["arn"].replace("123456789012", "[account-id]")
    assert {k: v for k, v in new[model]["inputs"].items() if k != "primaryContainer"} == {k: v for k, v in old[model]["inputs"].items() if k != "primaryContainer"}
    assert resources(back) == old and back.outputs["model_package"]["arn"] == first["arn"]


def test_a_pinned_arn_deploys_that_version_whatever_is_approved_later():
    with model_registry() as registry:
        first = registry.register(approve=True)
        registry.register("logistic-regression", approve=True)
        run = evaluate(validate(pinned(first["arn"])))
    assert run.one(MODEL).inputs["primaryContainer"]["modelPackageName"] == first["arn"]
    assert run.outputs["model_package"]["reference"] == "arn" and run.outputs["model_package"]["version"] == 1
    by_sid = statements(run)
    assert by_sid["DescribeModelPackage"]["Resource"] == [first["arn"]], "a pinned version: that version only"
    assert by_sid["ReadModelArtifact"]["Resource"] == ["arn:aws:s3:::" + first["model_data_url"].removeprefix("s3://")]
    assert "pins this one version" in run.outputs["operator_guide"]


def test_an_arn_of_another_region_is_refused_naming_the_field():
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/iris-classifier/1"
    from bundle.params.aws_limits import check_stack_region

    with pytest.raises(InvalidParams) as at_validation:
        check_stack_region(validate(pinned(arn)).document, "us-east-1", "--region")
    assert at_validation.value.problems[0].path == "model_package.arn" and "eu-west-1" in str(at_validation.value)
    with model_registry(), pytest.raises(InvalidParams) as at_plan:
        evaluate(validate(pinned(arn)))
    assert at_plan.value.problems[0].path == "model_package.arn" and "the stack deploys to us-east-1" in str(at_plan.value)


def test_a_version_whose_image_is_not_the_scikit_learn_image_is_refused_saying_what_is_supported():
    torch = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-cpu-py310"
    with model_registry() as registry:
        registry.sagemaker.create_model_package_group(ModelPackageGroupName="torch-models")
        spec = {"Containers": [{"Image": torch, "ModelDataUrl": "s3://team-models/torch/model.tar.gz"}]}
        registry.sagemaker.create_model_package(ModelPackageGroupName="torch-models", InferenceSpecification=spec, ModelApprovalStatus="Approved")
        with pytest.raises(InvalidParams) as refused:
            evaluate(validate({"model_source": "model-package", "model_package": {"group": "torch-models"}}))
    problem = refused.value.problems[0]
    assert problem.path == "model_package.group"
    assert "is not AWS's sagemaker-scikit-learn image" in problem.message and "supported: one container running AWS's sagemaker-scikit-learn" in problem.message
    assert "1.4-2-cpu-py3" in problem.message and "code/inference.py" in problem.message


def test_a_version_built_for_the_other_image_names_serving_image_version():
    with model_registry() as registry:
        image = registry.register(approve=True)["image"].replace("1.4-2-cpu-py3", "1.2-1-cpu-py3")
        spec = {"Containers": [{"Image": image, "ModelDataUrl": "s3://team-models/old/model.tar.gz"}]}
        registry.sagemaker.create_model_package(ModelPackageGroupName=GROUP, InferenceSpecification=spec, ModelApprovalStatus="Approved")
        with pytest.raises(InvalidParams) as refused:
            evaluate(validate(BY_GROUP))
    assert refused.value.problems[0].path == "model_package.group"
    assert "set serving_image_version to 1.2-1" in str(refused.value)


def test_an_unknown_group_and_an_unreachable_registry_are_messages_naming_the_field(monkeypatch):
    with model_registry(), pytest.raises(InvalidParams) as unknown:
        evaluate(validate({"model_source": "model-package", "model_package": {"group": "nobody-registered-this"}}))
    assert unknown.value.problems[0].path == "model_package.group" and "no model package group 'nobody-registered-this'" in str(unknown.value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(BundleError, match=r"^model_package\.group: cannot read the SageMaker Model Registry in us-east-1"):
        evaluate(validate(BY_GROUP))


@pytest.mark.parametrize(
    "extra",
    [{"deployment_mode": "async"}, {"deployment_mode": "serverless"}, {"variants": [{"name": "challenger", "model": "gradient-boosting"}]}, {"data_capture": {"enabled": True}}],
    ids=["async", "serverless", "ab-recipe-challenger", "capture"],
)
def test_it_composes_with_the_other_features(extra):
    with model_registry() as registry:
        version = registry.register(approve=True)
        run = evaluate(validate({**BY_GROUP, **extra}))
    models = run.of_type(MODEL)
    from_package = [m for m in models if m.inputs["primaryContainer"].get("modelPackageName") == version["arn"]]
    assert len(from_package) == 1 and from_package[0].name == "iris-endpoint-model", "the primary's Model is the version's"
    if extra.get("deployment_mode") == "async":
        assert "SAGEMAKER_MODEL_SERVER_TIMEOUT" in from_package[0].inputs["primaryContainer"]["environment"]
    if "variants" in extra:
        assert len(models) == 2 and run.of_type(BUCKET), "the challenger's recipe is built and uploaded into the bundle's bucket"


def test_a_multi_model_endpoint_refuses_model_source_model_package():
    with pytest.raises(InvalidParams) as refused:
        validate({**BY_GROUP, "multi_model": {"enabled": True}})
    assert [p.path for p in refused.value.problems] == ["model_source"]
