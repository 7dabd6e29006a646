"""Instance types come from botocore's catalogue, filtered to what the scikit-learn image runs (x86_64 CPU)."""
from __future__ import annotations

import pytest

from bundle.params import instance_types
from bundle.params.rules import problems_in, validate
from bundle.params.schema import load_schema

CURRENT_X86 = ["ml.m6i.large", "ml.c7i.xlarge", "ml.m7i.large", "ml.r6i.large", "ml.c6i.2xlarge", "ml.m5d.large"]


def messages(raw: dict) -> dict[str, str]:
    return {p.path: p.message for p in problems_in(raw)}


@pytest.mark.parametrize("instance_type", CURRENT_X86)
def test_current_x86_types_are_accepted_and_planned(instance_type):
    params = validate({"instance_type": instance_type})
    assert params.primary.instance_type == instance_type
    assert messages({"variants": [{"name": "b", "instance_type": instance_type}]}) == {}


@pytest.mark.parametrize(
    "instance_type, reason",
    [("ml.g5.xlarge", "carries a GPU"), ("ml.inf2.xlarge", "AWS Inferentia"), ("ml.trn1.2xlarge", "AWS Trainium"), ("ml.c7g.large", "Graviton (arm64)"), ("ml.p6-b200.48xlarge", "GPU")],
)
def test_types_the_image_cannot_run_are_refused_with_the_reason(instance_type, reason):
    assert instance_type in instance_types.catalogue(), "AWS sells it: the refusal is the image's, not a typo"
    assert reason in messages({"instance_type": instance_type})["instance_type"]
    assert reason in messages({"shadow": {"enabled": True, "instance_type": instance_type}})["shadow.instance_type"]


def test_an_unknown_name_is_refused_with_the_nearest_valid_names():
    found = messages({"instance_type": "ml.m6i.larg"})["instance_type"]
    assert "not an instance type AWS offers" in found and "ml.m6i.large" in found
    assert "did you mean" in messages({"variants": [{"name": "b", "instance_type": "ml.c7.xlarge"}]})["variants.0.instance_type"]


def test_the_accepted_types_are_the_catalogues_x86_cpu_types():
    accepted = set(instance_types.accepted())
    catalogue = set(instance_types.catalogue())
    assert accepted < catalogue and len(catalogue) > len(accepted) > 50
    families = {t.split(".")[1] for t in accepted}
    assert {"m6i", "m7i", "c6i", "c6in", "c7i", "r6i", "r7i", "m5d", "t2"} <= families
    assert not families & {"c6g", "m6gd", "r8g", "g4dn", "g5", "p4d", "inf1", "inf2", "trn1", "dl1"}


def test_the_schema_examples_are_accepted_types():
    schema = load_schema()["properties"]["instance_type"]
    assert set(schema["examples"]) <= set(instance_types.accepted()) and schema["default"] in schema["examples"]


def test_serverless_has_no_instance_type_to_check():
    assert messages({"deployment_mode": "serverless"}) == {}


def test_a_transform_job_takes_the_x86_cpu_types_of_its_own_catalogue():
    from bundle.params.instance_types import accepted, catalogue, problem

    assert set(accepted("transform")) <= set(catalogue("transform")) and "ml.m5.large" in accepted("transform")
    assert problem("ml.m5.large", "transform") is None
    assert "GPU" in problem("ml.g4dn.xlarge", "transform")
    assert "TransformInstanceType" in problem("ml.m5.larg", "transform")


def test_batch_refuses_an_instance_type_the_image_cannot_run_before_any_aws_call(capsys):
    from bundle.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["batch", "--input", "s3://b/in", "--output", "s3://b/out", "--instance-type", "ml.inf2.xlarge"])
    assert stopped.value.code == 2 and "AWS Inferentia" in capsys.readouterr().err
