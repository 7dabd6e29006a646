"""The smoke test against an emulated deployment (moto + local endpoint), and the guide/smoke CLIs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bundle.ops import aws
from bundle.names import SCALABLE_DIMENSION, SCALING_METRIC, scaling_policy_name
from bundle.ops.smoke import Expected, run_smoke
from conftest import REPO


@pytest.fixture
def aws_env(deployment, monkeypatch):
    for key, value in deployment.env().items():
        monkeypatch.setenv(key, value)
    return deployment


def by_name(report):
    return {c.name: c for c in report.checks}


def test_a_healthy_deployment_passes_every_check(aws_env, outputs):
    report = run_smoke(Expected.from_outputs(outputs))
    assert report.ok, report.table()
    assert set(by_name(report)) == {"endpoint in service", "config is the stack's", "variant", "autoscaling target", "autoscaling policy", "invoke: guide's examples"}


def test_an_old_config_still_in_service_fails(aws_env, outputs):
    stale = Expected.from_outputs({**outputs, "endpoint_config_name": "iris-endpoint-config-newer"})
    check = by_name(run_smoke(stale))["config is the stack's"]
    assert not check.ok and "stack expects iris-endpoint-config-newer" in check.detail


def test_autoscaling_registered_differently_fails(aws_env, outputs):
    drifted = Expected.from_outputs({**outputs, "autoscaling": {**outputs["autoscaling"], "max_capacity": 9}})
    check = by_name(run_smoke(drifted))["autoscaling target"]
    assert not check.ok and "stack expects (1, 9)" in check.detail


def test_autoscaling_expected_off_but_registered_fails(aws_env, outputs):
    off = Expected.from_outputs({**outputs, "autoscaling": {**outputs["autoscaling"], "enabled": False}})
    check = by_name(run_smoke(off))["autoscaling"]
    assert not check.ok and "is registered but the stack has autoscaling off" in check.detail


def put_policy(deployment, outputs, target_value: float) -> None:
    scaling = outputs["autoscaling"]
    deployment.client("application-autoscaling").put_scaling_policy(
        PolicyName=scaling_policy_name(outputs["endpoint"]["endpoint_name"]),
        ServiceNamespace="sagemaker",
        ResourceId=scaling["resource_id"],
        ScalableDimension=SCALABLE_DIMENSION,
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": target_value,
            "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
            "ScaleInCooldown": scaling["scale_in_cooldown"],
            "ScaleOutCooldown": scaling["scale_out_cooldown"],
        },
    )


def test_a_scaling_policy_that_drifted_from_the_stack_fails(aws_env, outputs):
    """Someone changed the policy by hand (or another stack did): the target value is not the stack's."""
    put_policy(aws_env, outputs, 123.0)
    try:
        check = by_name(run_smoke(Expected.from_outputs(outputs)))["autoscaling policy"]
        assert not check.ok and "target 123.0" in check.detail and "stack expects" in check.detail
    finally:  # the module's deployment is shared: put the stack's policy back
        put_policy(aws_env, outputs, float(outputs["autoscaling"]["target_invocations_per_instance"]))
    assert run_smoke(Expected.from_outputs(outputs)).ok


def test_autoscaling_expected_but_not_registered_fails(aws_env, outputs):
    """The stack has autoscaling on, but the variant is not registered (a failed re-registration after an update)."""
    other_variant = Expected.from_outputs({**outputs, "variant_name": "not-registered"})
    report = run_smoke(other_variant)
    check = by_name(report)["autoscaling target"]
    assert not check.ok and "endpoint/iris-endpoint/variant/not-registered is not registered" in check.detail


def test_a_missing_endpoint_fails_with_the_aws_error(aws_env):
    report = run_smoke(Expected(endpoint_name="nope", region="us-east-1"))
    assert not report.ok
    assert "ValidationException" in by_name(report)["endpoint in service"].detail or "Could not find" in by_name(report)["endpoint in service"].detail


def test_clients_use_botocores_standard_retry_mode():
    client = aws.client("sagemaker", "us-east-1", endpoint_url="http://127.0.0.1:9")
    assert client.meta.config.retries["mode"] == "standard"


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bundle", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=120)


def test_smoke_cli_exit_codes(deployment, outputs, tmp_path):
    env = {**os.environ, **deployment.env()}
    good = tmp_path / "outputs.json"
    good.write_text(json.dumps(outputs))
    passed = run_cli("smoke", "--outputs", str(good), env=env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "6 passed, 0 failed" in passed.stdout
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps({**outputs, "endpoint_config_name": "something-else"}))
    failed = run_cli("smoke", "--outputs", str(stale), env=env)
    assert failed.returncode == 1 and "FAIL" in failed.stdout
    usage = run_cli("smoke", env=env)
    assert usage.returncode == 2 and "needs --outputs FILE" in usage.stderr


def test_guide_cli_from_stack_outputs_and_from_a_catalog_file(outputs, tmp_path):
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps(outputs))
    out = tmp_path / "guide.md"
    result = run_cli("guide", "--outputs", str(stack_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "iris-endpoint" in out.read_text() and out.read_text() == outputs["operator_guide"]
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps({"params": outputs["params"], "artifacts": {"endpoint": outputs["endpoint"]}, "stack": {k: v for k, v in outputs.items() if k != "endpoint"}}))
    from_catalog = run_cli("guide", "--outputs", str(catalog_file))
    assert from_catalog.returncode == 0 and "# SageMaker Endpoint Operator Guide: `iris-endpoint`" in from_catalog.stdout


def test_guide_cli_errors_are_messages(tmp_path):
    env = {**os.environ, "PATH": "/usr/bin:/bin"}  # no pulumi on PATH
    no_cli = run_cli("guide", "--stack", "dev", env=env)
    assert no_cli.returncode == 2 and "Pulumi CLI is not installed" in no_cli.stderr
    incomplete = tmp_path / "partial.json"
    incomplete.write_text(json.dumps({"params": {}, "artifacts": {"endpoint": {"endpoint_name": "x"}}}))
    strict = run_cli("guide", "--outputs", str(incomplete))
    assert strict.returncode == 2 and "artifacts.endpoint.region" in strict.stderr and "Traceback" not in strict.stderr
