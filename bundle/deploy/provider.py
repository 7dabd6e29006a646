"""The program's explicit AWS provider, for a catalog's `aws_authentication` connection.

Without the connection the program uses Pulumi's default AWS provider (the stack's `aws:*` config and
the shell's credentials), as before. With it, every resource and invoke of the component goes through
one explicit provider that assumes the connection's role (pulumi-aws 7 `assume_roles`), with the same
session name the bundle's boto3 clients use (bundle/ops/aws.py); the region and profile still come from the
stack's `aws:region` and `aws:profile`.
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from bundle.ops.aws import SESSION_NAME, AssumedRole

PROVIDER_NAME = "aws-connection"


def assuming_provider(role: AssumedRole) -> aws.Provider:
    config = pulumi.Config("aws")
    return aws.Provider(
        PROVIDER_NAME,
        region=config.get("region"),
        profile=config.get("profile"),
        assume_roles=[aws.ProviderAssumeRoleArgs(role_arn=role.arn, external_id=role.external_id, session_name=SESSION_NAME)],
    )
