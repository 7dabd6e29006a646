"""Who the endpoint's update hook acts as, and the check that it acts only in the stack's account and region.

The hook (bundle/deploy/rollout.py) runs in the program's process, not in the AWS provider, so it does not get the
provider's credentials for free. It follows the provider's credential settings that the program can read from
the stack's `aws:` config: `aws:profile`, `aws:accessKey`/`aws:secretKey`/`aws:token`, and `aws:assumeRole` /
`aws:assumeRoles` (assumed in order, as the provider chains them). Settings it cannot follow
(UNFOLLOWED_SETTINGS) make it refuse with a message instead of acting as another identity.

Before any change it compares the caller's account (STS GetCallerIdentity) and the stack's region (`aws:region`)
with the endpoint ARN's, and refuses on a mismatch.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
import botocore.exceptions

from bundle.errors import BundleError
from bundle.ops.aws import AssumedRole, assume_role_session
from bundle.ops.client import standard_retries

SESSION_NAME = "sagemaker-bundle-update-hook"
# Provider settings that change the identity or the endpoints in ways the hook does not reproduce.
UNFOLLOWED_SETTINGS = ("assumeRoleWithWebIdentity", "sharedCredentialsFiles", "sharedConfigFiles", "endpoints", "stsRegion")
_CONFIG = standard_retries()


class IdentityMismatch(BundleError):
    pass


@dataclass(frozen=True)
class ProviderSettings:
    region: str | None = None
    profile: str | None = None
    access_key: str | None = field(default=None, repr=False)  # never printed: a test failure or a log could show it
    secret_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    assume_roles: tuple[AssumedRole, ...] = ()
    unfollowed: tuple[str, ...] = ()

    def with_role(self, role: AssumedRole | None) -> "ProviderSettings":
        """What the program's explicit provider does with a catalog's aws_authentication connection: it assumes that
        role instead of the stack's aws:assumeRoles (bundle/deploy/provider.py)."""
        return self if role is None else dataclasses.replace(self, assume_roles=(role,))

    @classmethod
    def from_config(cls, get: Callable[[str], Any]) -> "ProviderSettings":
        """`get(key)`: the stack's `aws:<key>` config value (pulumi.Config("aws").get), or None."""
        roles: list[AssumedRole] = []
        for key in ("assumeRole", "assumeRoles"):
            value = get(key)
            if value:
                parsed = json.loads(value) if isinstance(value, str) else value
                for entry in parsed if isinstance(parsed, list) else [parsed]:
                    if not entry.get("roleArn"):
                        raise BundleError(f"aws:{key} entry {entry} has no roleArn")
                    policy = entry.get("policy")
                    roles.append(
                        AssumedRole(
                            entry["roleArn"],
                            entry.get("externalId"),
                            entry.get("sessionName") or SESSION_NAME,
                            json.dumps(policy) if isinstance(policy, dict) else policy,
                        )
                    )
        return cls(
            region=get("region"),
            profile=get("profile"),
            access_key=get("accessKey"),
            secret_key=get("secretKey"),
            token=get("token"),
            assume_roles=tuple(roles),
            unfollowed=tuple(k for k in UNFOLLOWED_SETTINGS if get(k)),
        )


def provider_session(settings: ProviderSettings, region: str) -> boto3.Session:
    """A boto3 session with the provider's identity, or BundleError when the hook cannot follow its settings."""
    if settings.unfollowed:
        names = ", ".join(f"aws:{k}" for k in settings.unfollowed)
        raise BundleError(
            f"the endpoint's update hook cannot follow the provider setting(s) {names}, so it could act as another "
            "identity than the provider: deregister the variant's autoscaling by hand before this update, or use "
            "aws:profile / aws:assumeRoles instead"
        )
    try:
        session = boto3.Session(
            profile_name=settings.profile,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            aws_session_token=settings.token,
            region_name=region,
        )
        for role in settings.assume_roles:  # chained in order, as the provider chains them
            session = assume_role_session(session, role, region)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise BundleError(f"the endpoint's update hook cannot take the provider's identity: {e}") from None
    return session


def arn_parts(arn: str) -> tuple[str, str]:
    """(region, account) of an ARN."""
    parts = arn.split(":")
    return parts[3], parts[4]


def verify_stack_identity(session: boto3.Session, endpoint_arn: str, stack_region: str | None) -> None:
    """Refuse unless the caller's account and the stack's region are the endpoint ARN's."""
    region, account = arn_parts(endpoint_arn)
    if stack_region and stack_region != region:
        raise IdentityMismatch(
            f"the endpoint {endpoint_arn} is in region {region} but the stack's aws:region is {stack_region}: "
            "the update hook refuses to change autoscaling outside the stack's region"
        )
    try:
        caller = session.client("sts", region_name=region, config=_CONFIG).get_caller_identity()
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise BundleError(f"the endpoint's update hook cannot tell which AWS account it acts in (sts:GetCallerIdentity): {e}") from None
    if caller["Account"] != account:
        raise IdentityMismatch(
            f"the update hook's credentials ({caller['Arn']}) are for account {caller['Account']}, but the endpoint "
            f"{endpoint_arn} is in account {account}: it refuses to act in another account than the stack's"
        )


def autoscaling_for_endpoint(settings: ProviderSettings) -> Callable[[str], Any]:
    """`client(endpoint_arn)`: an Application Auto Scaling client in the endpoint's region, after the identity check."""

    def client(endpoint_arn: str):
        region, _ = arn_parts(endpoint_arn)
        session = provider_session(settings, region)
        verify_stack_identity(session, endpoint_arn, settings.region or session.region_name)
        return session.client("application-autoscaling", region_name=region, config=_CONFIG)

    return client
