"""`python -m bundle register` and the plan's registry lookup, run as a user runs them: the CLI against a moto server
(AWS_ENDPOINT_URL), the reviewer's approval with the AWS CLI, then `python -m bundle plan --json`."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from moto.server import ThreadedMotoServer

from bundle.ops.registry import artifact_key, image_problem
from conftest import REPO
from model_registry import BUCKET, GROUP, PREFIX, plan_image

AWS_CLI = str(REPO / ".venv" / "bin" / "aws")


@pytest.fixture(scope="module")
def moto_env(tmp_path_factory):
    image = plan_image()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="")
    params = tmp_path_factory.mktemp("params") / "params.json"
    params.write_text(json.dumps({"model_source": "model-package", "model_package": {"group": GROUP}}))
    try:
        run([AWS_CLI, "s3", "mb", f"s3://{BUCKET}"], env)
        yield env, image, params
    finally:
        server.stop()


def run(command: list[str], env: dict, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def bundle(env, *args, ok: bool = True) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "bundle", *args], env, ok)


def planned_model(env, params) -> tuple[dict, dict]:
    plan = json.loads(bundle(env, "plan", "--params", str(params), "--json").stdout)
    model = next(r for r in plan["resources"] if r["type"] == "aws:sagemaker/model:Model")
    return model, plan


def test_register_approve_plan_and_a_newer_version_with_the_commands(moto_env):
    env, image, params = moto_env
    first = json.loads(bundle(env, "register", "--group", GROUP, "--s3-prefix", PREFIX, "--image-uri", image).stdout)
    assert first["approval_status"] == "PendingManualApproval" and first["version"] == 1
    refused = bundle(env, "plan", "--params", str(params), ok=False)
    assert refused.returncode == 2 and "model_package.group: the model package group 'iris-classifier' (us-east-1) has no version" in refused.stderr

    run([AWS_CLI, "sagemaker", "update-model-package", "--model-package-arn", first["arn"], "--model-approval-status", "Approved"], env)
    model, plan = planned_model(env, params)
    assert model["inputs"]["primaryContainer"]["modelPackageName"].endswith("model-package/iris-classifier/1")
    assert plan["outputs"]["model_package"]["approval_status"] == "Approved"
    listed = run([AWS_CLI, "s3", "ls", f"s3://{BUCKET}/registry/{GROUP}/{first['sha256']}/"], env).stdout
    assert "model.tar.gz" in listed, "the archive is where the version says"

    second = json.loads(bundle(env, "register", "--group", GROUP, "--s3-prefix", PREFIX, "--image-uri", image, "--recipe", "gradient-boosting", "--approve").stdout)
    assert second["approval_status"] == "Approved" and second["version"] == 2 and second["sha256"] != first["sha256"]
    newer, newer_plan = planned_model(env, params)
    assert newer["inputs"]["primaryContainer"]["modelPackageName"].endswith("model-package/iris-classifier/2")
    changed = {r["name"] for r in newer_plan["resources"]} ^ {r["name"] for r in plan["resources"]}
    assert not changed
    assert [r["name"] for r in newer_plan["resources"] if r not in plan["resources"]] == ["iris-endpoint-model"], "the role's grants cover the group"
    assert "valid (model-package group iris-classifier" in bundle(env, "validate", str(params)).stdout


def test_register_refuses_an_image_the_plan_would_refuse_and_a_bad_group_name(moto_env):
    env, image, _ = moto_env
    other = bundle(env, "register", "--group", GROUP, "--s3-prefix", PREFIX, "--image-uri", image.replace("sagemaker-scikit-learn", "pytorch-inference"), ok=False)
    assert other.returncode == 2 and "--image-uri: the plan would refuse this version" in other.stderr
    bad = bundle(env, "register", "--group", "no_underscores", "--s3-prefix", PREFIX, "--image-uri", image, ok=False)
    assert bad.returncode == 2 and "--group: AWS would refuse sagemaker:CreateModelPackage: ModelPackageGroupName 'no_underscores'" in bad.stderr


def test_the_image_rule_accepts_the_regions_scikit_learn_image_of_the_version_only():
    good = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    assert image_problem(good, "us-east-1", "1.4-2") is None
    assert "is in region us-east-1, the stack deploys to eu-west-1" in image_problem(good, "eu-west-1", "1.4-2")
    assert "set serving_image_version to 1.4-2" in image_problem(good, "us-east-1", "1.2-1")
    assert "is not AWS's sagemaker-scikit-learn image" in image_problem("docker.io/library/python:3.10", "us-east-1", "1.4-2")
    assert "a tag the bundle does not know" in image_problem(good.replace("1.4-2-cpu-py3", "0.23-1-cpu-py3"), "us-east-1", "1.4-2")


def test_artifacts_are_content_addressed_under_the_prefix_and_group():
    assert artifact_key("registry/", GROUP, "ab" * 32) == f"registry/{GROUP}/{'ab' * 32}/model.tar.gz"
    assert artifact_key("", GROUP, "cd" * 32) == f"{GROUP}/{'cd' * 32}/model.tar.gz"
