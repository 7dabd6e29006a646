"""The `endpoint` artifact: what the stack exports for a catalog and for downstream bundles.

`schemas/artifacts/endpoint.schema.json` specifies it: endpoint_name, endpoint_arn, region, model_name
(the catalog's four), the IAM policy a caller needs to invoke the endpoint, and `api_url` when there is
a REST front (there is none today). The program builds the document here and validates it before
exporting it (an invalid artifact fails `pulumi up` with its fields named); the operator guide's
`artifacts.endpoint` is this same document.
"""
from __future__ import annotations

from typing import Any

import pulumi

from bundle.catalog.documents import InvalidDocuments, Problem, load_schema, problems_in

SCHEMA = "artifacts/endpoint.schema.json"
INVOKE_ACTIONS = ["sagemaker:InvokeEndpoint"]


def invoke_policy(endpoint_arn: str) -> dict:
    """Allows calling this endpoint (InvokeEndpoint) and nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "InvokeEndpoint", "Effect": "Allow", "Action": list(INVOKE_ACTIONS), "Resource": [endpoint_arn]}],
    }


def artifact_problems(document: Any, source: str = "endpoint artifact") -> list[Problem]:
    return problems_in(document, load_schema(SCHEMA), source)


def check_artifact(document: Any, source: str = "endpoint artifact") -> dict:
    problems = artifact_problems(document, source)
    if problems:
        raise InvalidDocuments(problems, "endpoint artifact fields")
    return document


def endpoint_document(endpoint_name: str, endpoint_arn: str, region: str, model_name: str, api_url: str | None = None) -> dict:
    document = {
        "endpoint_name": endpoint_name,
        "endpoint_arn": endpoint_arn,
        "region": region,
        "model_name": model_name,
        "invoke_policy": invoke_policy(endpoint_arn),
    }
    if api_url:
        document["api_url"] = api_url
    return check_artifact(document)


def endpoint_artifact(endpoint_name, endpoint_arn, region, model_name, api_url=None) -> pulumi.Output[dict]:
    """The artifact as a stack output, validated once AWS knows its values."""
    return pulumi.Output.all(endpoint_name, endpoint_arn, region, model_name, api_url).apply(lambda v: endpoint_document(*v))
