"""The Pulumi program's resource graph, evaluated with the mock runtime (preview=False: every apply runs)."""
from __future__ import annotations

import hashlib
import json

import pytest

from bundle.params.rules import validate
from bundle.local.plan import PROJECT, evaluate, plan_document
from tokens import ALARM, BUCKET, CONFIG, CUSTOM, DASHBOARD, ENDPOINT, HARDENING, KMS, LIFECYCLE, MODEL, OBJECT, POLICY, ROLE, ROLE_POLICY, TARGET

VPC = {"subnet_ids": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "security_group_ids": ["sg-0123abcd"]}


@pytest.fixture(scope="module")
def default():
    return evaluate(validate({}))


def policy_statements(evaluation):
    return json.loads(evaluation.one(ROLE_POLICY).inputs["policy"])["Statement"]


def test_default_creates_the_full_graph_under_one_component(default):
    expected = [BUCKET, *HARDENING, LIFECYCLE, OBJECT, ROLE, ROLE_POLICY, MODEL, CONFIG, ENDPOINT, TARGET, POLICY, ALARM, ALARM, DASHBOARD]
    assert sorted(r.type for r in default.resources) == sorted(expected)
    assert {r.parent for r in default.resources} == {"iris-endpoint"}


def test_dependencies_order_the_rollout(default):
    deps = {r.type: r.depends_on for r in default.resources}
    names = {r.type: r.name for r in default.resources}
    assert {names[t] for t in HARDENING} <= deps[OBJECT], "the artifact lands only in a hardened bucket"
    assert {names[ROLE_POLICY], names[OBJECT]} <= deps[MODEL]
    assert names[MODEL] in deps[CONFIG]
    assert names[CONFIG] in deps[ENDPOINT]
    assert names[ENDPOINT] in deps[TARGET], "the scalable target is registered after the endpoint"
    assert names[TARGET] in deps[POLICY]


def test_config_model_artifact_linkage(default, artifact):
    out = default.outputs
    obj, model = default.one(OBJECT).inputs, default.one(MODEL).inputs
    variant = default.one(CONFIG).inputs["productionVariants"][0]
    assert default.one(ENDPOINT).inputs["endpointConfigName"] == out["endpoint_config_name"]
    assert variant["modelName"] == out["endpoint"]["model_name"]
    assert model["primaryContainer"]["modelDataUrl"] == out["model_data_url"] == f"s3://{out['bucket']}/{obj['key']}"
    assert obj["key"] == f"models/{artifact.sha256}/model.tar.gz", "content-addressed key"
    assert hashlib.sha256(open(obj["source"].path, "rb").read()).hexdigest() == out["artifact_sha256"] == artifact.sha256


def test_model_environment_image_and_isolation(default):
    model = default.one(MODEL).inputs
    assert model["primaryContainer"]["environment"] == {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
    }
    image_invoke = [a for t, a in default.invokes if t == "aws:sagemaker/getPrebuiltEcrImage:getPrebuiltEcrImage"]
    assert image_invoke == [{"repositoryName": "sagemaker-scikit-learn", "imageTag": "1.4-2-cpu-py3"}]
    assert model["primaryContainer"]["image"] == default.outputs["image_uri"]
    assert model["primaryContainer"]["image"].endswith("/sagemaker-scikit-learn:1.4-2-cpu-py3")
    assert model["enableNetworkIsolation"] is True
    assert "vpcConfig" not in model


def test_endpoint_config_is_auto_named_and_endpoint_name_is_stable(default):
    assert "name" not in default.one(CONFIG).inputs and "namePrefix" not in default.one(CONFIG).inputs
    assert "name" not in default.one(MODEL).inputs
    assert default.one(ENDPOINT).inputs["name"] == "iris-endpoint"
    variant = default.one(CONFIG).inputs["productionVariants"][0]
    assert (variant["variantName"], variant["instanceType"], variant["initialInstanceCount"]) == ("primary", "ml.m5.large", 1)


def test_no_iam_statement_allows_everything(default):
    for statement in policy_statements(default):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
        if "*" in statement["Resource"]:
            assert actions in (["ecr:GetAuthorizationToken"], ["cloudwatch:PutMetricData"]), statement
    trust = json.loads(default.one(ROLE).inputs["assumeRolePolicy"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]


def test_role_reads_only_the_artifacts_prefix_and_writes_only_its_log_group(default, artifact):
    by_sid = {s["Sid"]: s for s in policy_statements(default)}
    bucket = default.outputs["bucket"]
    assert by_sid["ReadModelArtifact"]["Action"] == ["s3:GetObject"]
    assert by_sid["ReadModelArtifact"]["Resource"] == [f"arn:aws:s3:::{bucket}/models/{artifact.sha256}/*"]
    assert all(r.startswith("arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/iris-endpoint") for r in by_sid["WriteEndpointLogs"]["Resource"])
    assert by_sid["PullServingImage"]["Resource"] == ["arn:aws:ecr:us-east-1:000000000000:repository/sagemaker-scikit-learn"]
    assert by_sid["PutEndpointMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}


def test_bucket_hardening(default):
    assert default.one(BUCKET).inputs["forceDestroy"] is False, "never force-destroyed unless delete_bucket_on_destroy"
    block = default.one(HARDENING[0]).inputs
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    rule = default.one(HARDENING[1]).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert rule["sseAlgorithm"] == "AES256"
    assert default.one(HARDENING[2]).inputs["versioningConfiguration"] == {"status": "Enabled"}
    (deny,) = json.loads(default.one(HARDENING[3]).inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = default.outputs["bucket"]
    assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_autoscaling_target_and_policy(default):
    target, policy = default.one(TARGET).inputs, default.one(POLICY).inputs
    assert target["resourceId"] == "endpoint/iris-endpoint/variant/primary"
    assert target["scalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["serviceNamespace"] == "sagemaker"
    assert (target["minCapacity"], target["maxCapacity"]) == (1, 4)
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert policy["policyType"] == "TargetTrackingScaling" and policy["resourceId"] == target["resourceId"]
    assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (tracking["scaleInCooldown"], tracking["scaleOutCooldown"]) == (300, 60)


def test_outputs(default, artifact):
    out = default.outputs
    assert set(out["endpoint"]) == {"endpoint_name", "endpoint_arn", "region", "model_name", "invoke_policy"}
    assert out["endpoint"]["invoke_policy"]["Statement"][0]["Resource"] == [out["endpoint"]["endpoint_arn"]]
    assert out["endpoint"]["endpoint_name"] == "iris-endpoint" and out["endpoint"]["region"] == "us-east-1"
    assert out["endpoint"]["endpoint_arn"].startswith("arn:aws:sagemaker:us-east-1:")
    assert out["variant_name"] == "primary" and out["log_group"] == "/aws/sagemaker/Endpoints/iris-endpoint"
    assert out["role_arn"].startswith("arn:aws:iam:")
    assert out["autoscaling"]["resource_id"] == "endpoint/iris-endpoint/variant/primary"
    assert out["params"] == validate({}).document
    text = json.dumps(out).lower()
    assert "secret" not in text and "password" not in text and "accesskey" not in text


def test_two_runs_give_identical_inputs_and_outputs(default):
    again = evaluate(validate({}))
    assert plan_document(again) == plan_document(default)


def test_custom_model_builds_nothing_and_reads_only_that_object():
    custom = evaluate(validate({**CUSTOM, "endpoint_name": "custom-ep"}))
    types = {r.type for r in custom.resources}
    assert BUCKET not in types and OBJECT not in types
    assert custom.one(MODEL).inputs["primaryContainer"]["modelDataUrl"] == CUSTOM["custom_model_s3_uri"]
    read = [s for s in policy_statements(custom) if s["Sid"] == "ReadModelArtifact"]
    assert read == [{"Sid": "ReadModelArtifact", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::my-models/iris/v2/model.tar.gz"]}]
    assert custom.outputs["artifact_sha256"] is None and custom.outputs["bucket"] is None


def test_autoscaling_off_has_no_scaling_resources():
    off = evaluate(validate({"autoscaling": {"enabled": False}, "initial_instance_count": 7}))
    assert not off.of_type(TARGET) and not off.of_type(POLICY)
    assert off.one(CONFIG).inputs["productionVariants"][0]["initialInstanceCount"] == 7
    assert off.outputs["autoscaling"]["enabled"] is False and off.outputs["autoscaling"]["resource_id"] is None


def test_network_isolation_off():
    assert evaluate(validate({"enable_network_isolation": False})).one(MODEL).inputs["enableNetworkIsolation"] is False


def test_vpc_puts_the_model_in_the_subnets_and_lets_the_role_attach_enis():
    vpc = evaluate(validate({"vpc": VPC}))
    assert vpc.one(MODEL).inputs["vpcConfig"] == {"subnets": VPC["subnet_ids"], "securityGroupIds": VPC["security_group_ids"]}
    attach = [s for s in policy_statements(vpc) if s["Sid"] == "CreateEnisInTheSubnets"]
    assert len(attach) == 1 and "ec2:CreateNetworkInterface" in attach[0]["Action"]


def test_kms_key_encrypts_bucket_and_volume_and_the_role_may_decrypt():
    kms = evaluate(validate({"kms_key_arn": KMS}))
    rule = kms.one(HARDENING[1]).inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KMS}
    assert kms.one(CONFIG).inputs["kmsKeyArn"] == KMS
    assert [s["Resource"] for s in policy_statements(kms) if s["Sid"] == "UseBundleKey"] == [[KMS]]


def test_pulumi_config_drives_the_program_as_pulumi_up_would(monkeypatch):
    monkeypatch.delenv("BUNDLE_PARAMS_FILE", raising=False)
    config = {f"{PROJECT}:instance_type": "ml.c5.xlarge", f"{PROJECT}:autoscaling": json.dumps({"max_capacity": 8})}
    run = evaluate(None, config=config)
    assert run.one(CONFIG).inputs["productionVariants"][0]["instanceType"] == "ml.c5.xlarge"
    assert run.one(TARGET).inputs["maxCapacity"] == 8


def test_params_file_drives_the_program_as_a_catalog_would(tmp_path, monkeypatch):
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"endpoint_name": "from-catalog", "variant_name": "blue"}))
    monkeypatch.setenv("BUNDLE_PARAMS_FILE", str(path))
    run = evaluate(None)
    assert run.one(ENDPOINT).inputs["name"] == "from-catalog"
    assert run.one(TARGET).inputs["resourceId"] == "endpoint/from-catalog/variant/blue"


def test_long_endpoint_names_keep_physical_names_within_aws_limits():
    run = evaluate(validate({"endpoint_name": "E" * 63}))
    bucket = run.outputs["bucket"]
    assert len(bucket) <= 63 and bucket == bucket.lower()
    assert len(run.outputs["endpoint_config_name"]) <= 63 and len(run.outputs["endpoint"]["model_name"]) <= 63


def test_bad_params_stop_the_program_with_a_message_not_a_traceback(monkeypatch):
    import pulumi

    monkeypatch.delenv("BUNDLE_PARAMS_FILE", raising=False)
    with pytest.raises(pulumi.RunError, match=r"initial_instance_count: initial_instance_count 9 is outside"):
        evaluate(None, config={f"{PROJECT}:initial_instance_count": "9"})


def test_cli_plan_text_and_json(tmp_path):
    import subprocess
    import sys

    from conftest import REPO

    params = tmp_path / "p.json"
    params.write_text(json.dumps({"endpoint_name": "planned", "autoscaling": {"enabled": False}}))
    text = subprocess.run([sys.executable, "-m", "bundle", "plan", "--params", str(params)], cwd=REPO, capture_output=True, text=True)
    assert text.returncode == 0, text.stderr
    assert "aws:sagemaker/endpoint:Endpoint  planned-endpoint" in text.stdout
    assert "endpointConfigName: \"planned-config-[random]\"" in text.stdout
    assert "(known after apply)" in text.stdout and "appautoscaling" not in text.stdout
    as_json = subprocess.run([sys.executable, "-m", "bundle", "plan", "--params", str(params), "--json"], cwd=REPO, capture_output=True, text=True)
    document = json.loads(as_json.stdout)
    assert all({"type", "name", "inputs"} <= set(r) <= {"type", "name", "inputs", "options"} for r in document["resources"])
    assert document["outputs"]["endpoint"]["endpoint_arn"] == "(known after apply)"
    assert document["outputs"]["endpoint"]["endpoint_name"] == "planned"
