"""boto3 clients, configured once: botocore's standard retry mode, and AWS_ENDPOINT_URL* honoured.

boto3 itself reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>, so the same code talks to AWS,
to moto, or to the local endpoint. An explicit `endpoint_url` wins over both.
"""
from __future__ import annotations

import os

import boto3
from botocore.config import Config

# Local endpoints and emulators need signed requests but accept any key.
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def client(
    service: str,
    region: str,
    endpoint_url: str | None = None,
    max_attempts: int = 5,
    timeout: float = 60.0,
    profile: str | None = None,
):
    """`profile`: a named profile of the shared AWS config (as Pulumi's `aws:profile`); None: the default chain."""
    config = Config(retries={"mode": "standard", "total_max_attempts": max_attempts}, read_timeout=timeout, connect_timeout=10)
    kwargs = {"region_name": region, "config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    if (endpoint_url or _points_at_emulator()) and session.get_credentials() is None:
        kwargs.update(LOCAL_CREDENTIALS)
    return session.client(service, **kwargs)


def _points_at_emulator() -> bool:
    return any(k.startswith("AWS_ENDPOINT_URL") for k in os.environ)
