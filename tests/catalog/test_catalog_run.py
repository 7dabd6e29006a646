"""The catalog run end to end, and the smoke test acting as the connection's role against the emulated
deployment (moto's STS and accounts)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bundle.ops import aws
from bundle.ops.aws import AssumedRole
from bundle.catalog.endpoint_artifact import artifact_problems
from bundle.ops.smoke import Expected, run_smoke
from conftest import REPO

EXAMPLES = REPO / "examples" / "catalog"
SAME_ACCOUNT_ROLE = "arn:aws:iam::123456789012:role/catalog-deployer"  # moto's default account holds the deployment
OTHER_ACCOUNT_ROLE = "arn:aws:iam::111122223333:role/catalog-deployer"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bundle", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=180)


def test_catalog_run_writes_the_artifact_and_the_guide(tmp_path):
    out = tmp_path / "run"
    result = run_cli(
        "catalog", "run", "--params", str(EXAMPLES / "params.json"), "--connections", str(EXAMPLES / "connections.json"),
        "--metadata", str(EXAMPLES / "metadata.json"), "--out", str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "provider aws-connection assumes arn:aws:iam::123456789012:role/catalog-deployer" in result.stdout
    artifact = json.loads((out / "artifacts" / "endpoint.json").read_text())
    assert artifact_problems(artifact) == [] and artifact["endpoint_name"] == "ml-prod-iris-a1b2", "metadata named it"
    guide = (out / "operator_guide.md").read_text()
    assert "# SageMaker Endpoint Operator Guide: `ml-prod-iris-a1b2`" in guide and artifact["endpoint_arn"] in guide
    plan = json.loads((out / "plan.json").read_text())
    (provider,) = [r for r in plan["resources"] if r["type"] == "pulumi:providers:aws"]
    assert provider["inputs"]["assumeRoles"][0]["externalId"] == "catalog-example-external-id"
    model = next(r for r in plan["resources"] if r["type"] == "aws:sagemaker/model:Model")
    assert model["inputs"]["vpcConfig"]["subnets"] == json.loads((EXAMPLES / "connections.json").read_text())["network"]["subnet_ids"]
    assert model["inputs"]["tags"]["team"] == "ml-platform" and model["inputs"]["tags"]["md-environment"] == "prod"


def test_catalog_run_names_every_problem_and_exits_2(tmp_path):
    params, connections, metadata = tmp_path / "p.json", tmp_path / "c.json", tmp_path / "m.json"
    params.write_text(json.dumps({"initial_instance_count": 0}))
    connections.write_text(json.dumps({"aws_authentication": {"arn": "nope"}, "extra": 1}))
    metadata.write_text(json.dumps({"name_prefix": ""}))
    result = run_cli("catalog", "run", "--params", str(params), "--connections", str(connections), "--metadata", str(metadata), "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "inputs are invalid (4 problems)" in result.stderr
    for field in ("(root): unknown key 'extra'", "aws_authentication.arn:", "name_prefix:", "initial_instance_count:"):
        assert field in result.stderr, result.stderr
    assert not (tmp_path / "o").exists(), "nothing written for invalid inputs"


# --- the smoke test's session --------------------------------------------------------------------------


@pytest.fixture
def aws_env(deployment, monkeypatch):
    for key, value in deployment.env().items():
        monkeypatch.setenv(key, value)
    aws.use_role(None)
    yield deployment
    aws.use_role(None)


def test_smoke_acts_as_the_role(aws_env, outputs):
    aws.use_role(AssumedRole(SAME_ACCOUNT_ROLE, "catalog-example-external-id"))
    identity = aws.client("sts", aws_env.region).get_caller_identity()["Arn"]
    assert identity == "arn:aws:sts::123456789012:assumed-role/catalog-deployer/sagemaker-endpoint-bundle"
    report = run_smoke(Expected.from_outputs(outputs))
    assert report.ok, report.table()


def test_smoke_as_a_role_of_another_account_sees_that_account_only(aws_env, outputs):
    aws.use_role(AssumedRole(OTHER_ACCOUNT_ROLE))
    report = run_smoke(Expected.from_outputs(outputs))
    check = {c.name: c for c in report.checks}["endpoint in service"]
    assert not check.ok and "Could not find endpoint" in check.detail, "the session is the other account's, not the shell's"


def test_smoke_cli_reads_the_connections_file(deployment, outputs, tmp_path):
    env = {**os.environ, **deployment.env()}
    stack = tmp_path / "outputs.json"
    stack.write_text(json.dumps(outputs))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"aws_authentication": {"arn": OTHER_ACCOUNT_ROLE}}))
    same = run_cli("smoke", "--outputs", str(stack), "--connections", str(EXAMPLES / "connections.json"), env=env)
    assert same.returncode == 0, same.stdout + same.stderr
    elsewhere = run_cli("smoke", "--outputs", str(stack), env={**env, "BUNDLE_CONNECTIONS_FILE": str(other)})
    assert elsewhere.returncode == 1 and "Could not find endpoint" in elsewhere.stdout
