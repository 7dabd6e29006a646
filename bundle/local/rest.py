"""The local endpoint's REST front: what the API Gateway front (bundle/deploy/api.py) answers, served here.

Same path (POST /v1/invocations), same auth header check, same status mapping (bundle/api/contract.py's
`rest_answer`, the table the deployed integration responses are built from), in front of the local runtime
front and the image's real worker. What it does not do: verify SigV4 signatures (it checks that a request is
signed, as API Gateway's first check does, not that the signature is valid: that needs AWS's keys), meter a
usage plan, or apply the stage's throttling. The deployed mapping template (VTL) cannot run here either.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from bundle.api import contract


@dataclass(frozen=True)
class RestSettings:
    auth: str = "iam"  # iam | api_key
    api_key: str | None = None  # with auth api_key: the value callers must send in x-api-key

    def __post_init__(self):
        if self.auth not in ("iam", "api_key"):
            raise ValueError(f"auth must be iam or api_key, got {self.auth!r}")
        if self.auth == "api_key" and not self.api_key:
            raise ValueError("auth api_key needs the key's value")


def refusal(settings: RestSettings, headers) -> tuple[int, dict] | None:
    """API Gateway's own 403s, before anything reaches the endpoint."""
    if settings.auth == "api_key" and headers.get(contract.API_KEY_HEADER) != settings.api_key:
        return 403, {"message": "Forbidden"}
    if settings.auth == "iam" and not (headers.get("Authorization") or "").startswith("AWS4-HMAC-SHA256 "):
        return 403, {"message": "Missing Authentication Token"}
    return None


def passed_headers(headers) -> dict[str, str]:
    return {name: headers[name] for name in contract.PASSED_HEADERS if headers.get(name)}


def answer(settings: RestSettings, headers, runtime_reply):
    """`runtime_reply(passed headers)` -> the runtime front's Reply; returns (status, body, content type, headers)."""
    refused = refusal(settings, headers)
    if refused:
        return refused[0], json.dumps(refused[1]).encode(), "application/json", ()
    reply = runtime_reply(passed_headers(headers))
    status, body = contract.rest_answer(reply.status, reply.body)
    if status == 200:
        variant = dict((k.lower(), v) for k, v in reply.headers).get(contract.VARIANT_HEADER.lower(), "")
        return 200, reply.body, reply.content_type, ((contract.VARIANT_HEADER, variant),)
    return status, body, "application/json", ()
