"""The endpoint's execution role, least privilege: it reads only the model's data (and describes only the Model Registry
versions it is made from: a pinned version, or a group's), pulls only the scikit-learn image,
writes only its own log group and SageMaker's metric namespace, and, with data capture, writes only under the
endpoint's capture prefix; in a VPC, its network interfaces only in the given subnets and security groups."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.artifact.image import REPOSITORY
from bundle.deploy import async_inference, batch_transform
from bundle.names import SAGEMAKER_TRUST_POLICY, log_group_name, logical_name, split_s3_uri
from bundle.params.model import Vpc


@dataclass(frozen=True)
class RoleGrants:
    endpoint_name: str
    kms_key_arn: str  # the bundle's key ("" for none): decrypt the model, the volume
    capture_key: str  # the key captured data is encrypted with ("" for none)
    vpc: Vpc


@dataclass(frozen=True)
class ExecutionRole:
    role: aws.iam.Role
    policy: aws.iam.RolePolicy


def create_execution_role(
    grants: RoleGrants,
    readable: pulumi.Output[str] | pulumi.Output[list],
    capture_prefix: pulumi.Output[str] | None,
    environment,  # bundle.deploy.component.AwsEnvironment
    tags: dict,
    parent: pulumi.Resource,
    asynchronous: pulumi.Output[dict] | None = None,  # async: {"input", "output", "failure", "topics"}
    batch: pulumi.Output[dict] | None = None,  # batch_transform.enabled: {"input", "output"}
    packages: list[str] | None = None,  # model_source model-package: the versions (or a group's versions) the role may describe
) -> ExecutionRole:
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        logical_name(grants.endpoint_name, "role", limit=64),
        assume_role_policy=json.dumps(SAGEMAKER_TRUST_POLICY),
        description=f"SageMaker execution role of endpoint {grants.endpoint_name}",
        tags=tags,
        opts=child,
    )
    document = pulumi.Output.all(
        readable=readable,
        region=environment.region,
        account=environment.account,
        partition=environment.partition,
        registry=environment.image.registry_id,
        capture=capture_prefix,
        **({"asynchronous": asynchronous} if asynchronous is not None else {}),
        **({"batch": batch} if batch is not None else {}),
        **({"packages": packages} if packages else {}),
    ).apply(lambda v: json.dumps(execution_policy(grants, **v), sort_keys=True))
    policy = aws.iam.RolePolicy(logical_name(grants.endpoint_name, "execution", limit=128), role=role.id, policy=document, opts=child)
    return ExecutionRole(role, policy)


@dataclass(frozen=True)
class ContainerGrants:
    """What any SageMaker container's role needs to run it: its image, its log group, its metric namespace, and the
    words its statements' Sids use (PullServingImage, WriteEndpointLogs, PutEndpointMetrics ...)."""

    repository_arn: str
    log_group_arn: str
    metric_namespace: str
    image: str
    logs: str
    metrics: str


def container_statements(g: ContainerGrants) -> list[dict]:
    """Pull the image, write the log group's streams, put metrics in the namespace only."""
    return [
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*" for it alone.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {
            "Sid": f"Pull{g.image}Image",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": [g.repository_arn],
        },
        {
            "Sid": f"Write{g.logs}Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [g.log_group_arn, f"{g.log_group_arn}:log-stream:*"],
        },
        # PutMetricData has no resources either; the condition pins it to the one namespace.
        {
            "Sid": f"Put{g.metrics}Metrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": g.metric_namespace}},
        },
    ]


def execution_policy(
    grants: RoleGrants,
    readable: str | list[str],
    region: str,
    account: str,
    partition: str,
    registry: str,
    capture: str | None = None,
    asynchronous: dict | None = None,
    batch: dict | None = None,
    packages: list[str] | None = None,
) -> dict:
    """The endpoint role's only permissions: read the model, pull the image, write its logs and metrics and,
    with data capture, write objects under `capture` (s3://bucket/prefix/<endpoint>/) only; with async inference, read
    requests and write results under their prefixes only (bundle/deploy/async_inference.py)."""
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group_name(grants.endpoint_name)}"
    statements = [
        # Every variant's model (A/B, shadow): a list of readable ARNs; one model: the one.
        {"Sid": "ReadModelArtifact", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": list(readable) if isinstance(readable, list) else [readable]},
        *container_statements(ContainerGrants(f"arn:{partition}:ecr:{region}:{registry}:repository/{REPOSITORY}", log_group, "/aws/sagemaker/Endpoints", "Serving", "Endpoint", "Endpoint")),
    ]
    if packages:
        # The Model Registry version the Model is made from (its archive is in ReadModelArtifact).
        statements.append({"Sid": "DescribeModelPackage", "Effect": "Allow", "Action": ["sagemaker:DescribeModelPackage"], "Resource": list(packages)})
    if grants.kms_key_arn:
        statements.append(
            {"Sid": "UseBundleKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": [grants.kms_key_arn]}
        )
    if capture:
        bucket, prefix = split_s3_uri(capture)
        statements.append(
            {"Sid": "WriteDataCapture", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:{partition}:s3:::{bucket}/{prefix}*"]}
        )
        if grants.capture_key:
            # Encrypt only: the role writes captured data, it never reads it back.
            statements.append(
                {"Sid": "EncryptDataCapture", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [grants.capture_key]}
            )
    if asynchronous is not None:
        statements += async_inference.role_statements(asynchronous, partition, grants.kms_key_arn)
    if batch is not None:
        statements += batch_transform.role_statements(batch, partition, grants.kms_key_arn)
    if grants.vpc.enabled:
        statements += vpc_statements(grants.vpc, region, account, partition)
    return {"Version": "2012-10-17", "Statement": statements}


def vpc_statements(vpc: Vpc, region: str, account: str, partition: str) -> list[dict]:
    """SageMaker attaches ENIs in the given subnets with the given security groups: the ENI actions are scoped to
    them wherever AWS's service authorization reference lists a resource type for the action; Describe* (and
    DeleteNetworkInterfacePermission, which lists none) take no narrower resource than "*"."""
    ec2 = f"arn:{partition}:ec2:{region}:{account}"
    subnets = [f"{ec2}:subnet/{s}" for s in vpc.subnet_ids]
    groups = [f"{ec2}:security-group/{g}" for g in vpc.security_group_ids]
    in_subnets = {"ArnEquals": {"ec2:Subnet": subnets}}
    return [
        {
            "Sid": "CreateEnisInTheSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [f"{ec2}:network-interface/*", *subnets, *groups],
        },
        {
            "Sid": "ManageEnisInTheSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
            "Resource": [f"{ec2}:network-interface/*"],
            "Condition": in_subnets,
        },
        {
            "Sid": "DescribeVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": ["*"],
        },
    ]
