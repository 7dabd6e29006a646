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
import botocore.loaders
import botocore.session
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import BotoCoreError, ClientError

from bundle.errors import BundleError
from bundle.ops.client import standard_retries

# Local endpoints and emulators need signed requests but accept any key.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
SESSION_NAME = "sagemaker-endpoint-bundle"  # the provider's assume_roles uses the same session name
RENEW_BEFORE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class AssumedRole:
    """A role to assume: a catalog's aws_authentication connection, or an entry of the stack's aws:assumeRoles."""

    arn: str
    external_id: str | None = None
    session_name: str | None = None  # None: the bundle's SESSION_NAME
    policy: str | None = None  # a session policy (JSON), as aws:assumeRoles may carry


_role: AssumedRole | None = None
_assumed: dict[tuple, boto3.Session] = {}  # (role, profile, region) -> a session on the role's credentials


def default_region() -> str | None:
    """The region the AWS CLI and boto3 would use from the environment."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


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
    config = standard_retries(max_attempts, read_timeout=timeout, connect_timeout=10)
    kwargs = {"region_name": region, "config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    session = session_for(region, profile)
    if (endpoint_url or points_at_emulator()) and session.get_credentials() is None:
        kwargs.update(LOCAL_CREDENTIALS)
    return session.client(service, **kwargs)


class _Paths(list):
    """The loader's search paths: boto3 adds its own data path to the loader of every session it makes; once is
    enough for a loader they share."""

    def append(self, path):
        if path not in self:
            super().append(path)


class _SharedLoader(botocore.loaders.Loader):
    """botocore's loader, shared by every session of this process, so that each service model is parsed once (a
    session of its own parses sagemaker's model again: a quarter of a second for each client)."""

    def __init__(self):
        data_path = os.environ.get("AWS_DATA_PATH")  # as botocore's own sessions honour it
        super().__init__(extra_search_paths=data_path.split(os.pathsep) if data_path else None)
        self._search_paths = _Paths(self._search_paths)


_LOADER = _SharedLoader()


def _botocore_session() -> botocore.session.Session:
    session = botocore.session.Session()
    session.register_component("data_loader", _LOADER)
    return session


def session_for(region: str, profile: str | None = None) -> boto3.Session:
    """The session clients are built on: the base identity, or the role it assumed.

    The role's credentials are botocore's own: `AssumeRoleCredentialFetcher` calls STS and
    `DeferredRefreshableCredentials` caches them and renews them before they expire, as botocore does
    for a profile with `role_arn`. They are fetched once here, so a role that cannot be assumed is a
    clear error at once rather than at the first call.
    """
    base = boto3.Session(botocore_session=_botocore_session(), profile_name=profile)
    if _role is None:
        return base
    key = (_role, profile, region)
    if key not in _assumed:
        _assumed[key] = assume_role_session(base, _role, region)
    return _assumed[key]


def assume_role_session(base: boto3.Session, role: AssumedRole, region: str) -> boto3.Session:
    """A session on `role`, assumed with `base`'s credentials: botocore's fetcher and refreshable credentials."""
    sts = {"region_name": region, "config": standard_retries()}
    source = base.get_credentials()
    if source is None and points_at_emulator():
        source = Credentials(LOCAL_CREDENTIALS["aws_access_key_id"], LOCAL_CREDENTIALS["aws_secret_access_key"])
    if source is None:
        raise BundleError(f"cannot assume the role {role.arn}: no AWS credentials to assume it with")
    extra = {"RoleSessionName": role.session_name or SESSION_NAME}
    if role.external_id:
        extra["ExternalId"] = role.external_id
    if role.policy:
        extra["Policy"] = role.policy
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=lambda service, **keys: base.client(service, **sts, **keys),
        source_credentials=source,
        role_arn=role.arn,
        extra_args=extra,
        expiry_window_seconds=int(RENEW_BEFORE.total_seconds()),
    )
    credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
    try:
        credentials.get_frozen_credentials()
    except ClientError as e:
        error = e.response.get("Error", {})
        raise BundleError(f"cannot assume the role {role.arn}: {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as e:
        raise BundleError(f"cannot assume the role {role.arn}: {e}") from None
    session = _botocore_session()
    session.register_component("credential_provider", CredentialResolver([_Fixed(credentials)]))
    return boto3.Session(botocore_session=session, region_name=region)


class _Fixed(CredentialProvider):
    """Hands botocore the role's refreshable credentials."""

    METHOD = "assume-role"

    def __init__(self, credentials):
        super().__init__()
        self._credentials = credentials

    def load(self):
        return self._credentials


def points_at_emulator() -> bool:
    """AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE> is set: boto3 talks to an emulator (or the local endpoint)."""
    return any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ)
