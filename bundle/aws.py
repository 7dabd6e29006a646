"""boto3 clients, configured once: botocore's standard retry mode, AWS_ENDPOINT_URL* honoured, and the
bundle's AWS identity.

boto3 itself reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, so the same code talks to AWS,
to moto, or to the local endpoint. An explicit `endpoint_url` wins over both.

Identity: with a catalog's `aws_authentication` connection, the entry point (the program, the CLI)
calls `use_role(...)` once, and every client of the process is then built on a session that assumed
that role with STS (the same role the program's AWS provider assumes), so the update hook, the smoke
test and the load test act as the deploying identity. The assumed credentials are cached per role and
renewed five minutes before they expire.
"""
from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bundle.errors import BundleError

# Local endpoints and emulators need signed requests but accept any key.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
SESSION_NAME = "sagemaker-endpoint-bundle"  # the provider's assume_roles uses the same session name
RENEW_BEFORE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class AssumedRole:
    arn: str
    external_id: str | None = None


_role: AssumedRole | None = None
_assumed: dict[tuple, dict] = {}  # (role, profile, region) -> STS Credentials


def use_role(role: AssumedRole | None) -> None:
    """Every client this process builds from now on assumes `role` (None: the ambient identity)."""
    global _role
    if role != _role:
        _assumed.clear()
    _role = role


def current_role() -> AssumedRole | None:
    return _role


def client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    timeout: float = 60.0,
    profile: str | None = None,
):
    """`profile`: a named profile of the shared AWS config (as Pulumi's `aws:profile`); None: the default chain.
    With a role in use (`use_role`), the profile's (or the default chain's) identity assumes it first."""
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, read_timeout=timeout, connect_timeout=10)
    kwargs = {"region_name": region, "config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    session = session_for(region, profile)
    if (endpoint_url or _points_at_emulator()) and session.get_credentials() is None:
        kwargs.update(LOCAL_CREDENTIALS)
    return session.client(service, **kwargs)


def session_for(region: str, profile: str | None = None) -> boto3.Session:
    """The session clients are built on: the base identity, or the role it assumed."""
    base = boto3.Session(profile_name=profile) if profile else boto3.Session()
    if _role is None:
        return base
    credentials = _assumed_credentials(base, _role, region, profile)
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def _assumed_credentials(base: boto3.Session, role: AssumedRole, region: str, profile: str | None) -> dict:
    key = (role, profile, region)
    cached = _assumed.get(key)
    now = datetime.datetime.now(datetime.timezone.utc)
    if cached and cached["Expiration"] - RENEW_BEFORE > now:
        return cached
    kwargs = {"region_name": region, "config": Config(retries={"mode": "standard", "total_max_attempts": 3})}
    if _points_at_emulator() and base.get_credentials() is None:
        kwargs.update(LOCAL_CREDENTIALS)
    request = {"RoleArn": role.arn, "RoleSessionName": SESSION_NAME}
    if role.external_id:
        request["ExternalId"] = role.external_id
    try:
        credentials = base.client("sts", **kwargs).assume_role(**request)["Credentials"]
    except ClientError as e:
        error = e.response.get("Error", {})
        raise BundleError(f"cannot assume the aws_authentication role {role.arn}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as e:
        raise BundleError(f"cannot assume the aws_authentication role {role.arn}: {e}") from None
    _assumed[key] = credentials
    return credentials


def _points_at_emulator() -> bool:
    return any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ)
