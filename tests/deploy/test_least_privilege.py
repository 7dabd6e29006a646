"""Least privilege where AWS allows it, no personal data in clear outputs, honest plan masking."""
from __future__ import annotations

import json

from bundle.params.rules import validate
from bundle.local.plan import ACCOUNT, SECRET, evaluate, plan_document, plan_text
from tokens import ROLE_POLICY

VPC = {"subnet_ids": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "security_group_ids": ["sg-0123abcd"]}
EC2 = f"arn:aws:ec2:us-east-1:{ACCOUNT}"


def statements(run) -> dict:
    return {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY).inputs["policy"])["Statement"]}


def test_vpc_eni_actions_are_scoped_to_the_given_subnets_and_security_groups():
    by_sid = statements(evaluate(validate({"vpc": VPC})))
    subnets = [f"{EC2}:subnet/{s}" for s in VPC["subnet_ids"]]
    create = by_sid["CreateEnisInTheSubnets"]
    assert create["Action"] == ["ec2:CreateNetworkInterface"]
    assert create["Resource"] == [f"{EC2}:network-interface/*", *subnets, f"{EC2}:security-group/sg-0123abcd"]
    manage = by_sid["ManageEnisInTheSubnets"]
    assert manage["Resource"] == [f"{EC2}:network-interface/*"]
    assert manage["Condition"] == {"ArnEquals": {"ec2:Subnet": subnets}}
    # Only actions without a resource type in AWS's authorization reference keep "*".
    on_everything = [a for s in by_sid.values() if s["Resource"] == ["*"] for a in s["Action"]]
    assert {a for a in on_everything if a.startswith("ec2:")} == {
        "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs",
    }


def test_the_alarm_email_is_a_secret_output_and_nowhere_else_in_clear():
    run = evaluate(validate({"alarms": {"email": "ops@example.com"}}))
    assert run.secret_outputs == {"alarm_email"}
    assert run.outputs["alarm_email"] == "ops@example.com"
    clear = {k: v for k, v in run.outputs.items() if k != "alarm_email"}
    assert "ops@example.com" not in json.dumps(clear), "params, the guide and every other output leave the address out"
    assert run.outputs["params"]["alarms"]["email"] == ""
    assert "notification address" in run.outputs["operator_guide"]
    document = plan_document(run)
    assert document["outputs"]["alarm_email"] == SECRET and "ops@example.com" not in json.dumps(document["outputs"])


def test_plan_masks_whole_invented_values_never_digits_inside_names():
    # An endpoint name that contains the mock's invented account id and ECR registry id.
    run = evaluate(validate({"endpoint_name": f"team-{ACCOUNT}-000000000000"}))
    document = plan_document(run)
    outputs = document["outputs"]
    assert outputs["endpoint"]["endpoint_name"] == f"team-{ACCOUNT}-000000000000"
    assert outputs["alarms"]["invocation_5xx"] == f"team-{ACCOUNT}-000000000000-invocation-5xx"
    assert outputs["endpoint"]["endpoint_arn"] == "(known after apply)", "a whole invented value is still masked"
    assert outputs["image_uri"].startswith("[ecr-registry-of-region].dkr.ecr.")
    logs = next(s for s in document["resources"] if s["type"] == ROLE_POLICY)["inputs"]["policy"]["Statement"]
    log_arn = next(s for s in logs if s["Sid"] == "WriteEndpointLogs")["Resource"][0]
    assert log_arn == f"arn:aws:logs:us-east-1:[account-id]:log-group:/aws/sagemaker/Endpoints/team-{ACCOUNT}-000000000000"
    assert f"team-{ACCOUNT}-000000000000" in plan_text(run)
