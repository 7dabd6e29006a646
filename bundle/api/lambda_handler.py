"""The REST front's Lambda proxy (`api.integration: lambda`): an API Gateway proxy event in, InvokeEndpoint through
bundle/ops/client.py (standard retries, ModelNotReady backoff, never a ModelError retried), the contract's status
mapping out. Packaged by bundle/api/package.py with the client and the contract, nothing else: the Lambda runtime
provides boto3 and botocore.

Environment: ENDPOINT_NAME, AWS_REGION (set by Lambda itself).
"""
from __future__ import annotations

import base64
import json
import os

from botocore.exceptions import BotoCoreError, ClientError

from bundle.api.contract import INFERENCE_ID_HEADER, PASSED_HEADERS, VARIANT_HEADER, error_body, rest_answer
from bundle.ops.client import EndpointClient, runtime_client

HANDLER = "bundle.api.lambda_handler.handler"
_client: EndpointClient | None = None


def endpoint_client() -> EndpointClient:
    global _client
    if _client is None or _client.endpoint_name != os.environ["ENDPOINT_NAME"]:
        # Lambda's own timeout (bundle/deploy/api.py) stays below API Gateway's 29 s: one try plus short retries fit.
        runtime = runtime_client(os.environ["AWS_REGION"], read_timeout=float(os.environ.get("READ_TIMEOUT", "25")))
        _client = EndpointClient(os.environ["ENDPOINT_NAME"], runtime=runtime, not_ready_attempts=int(os.environ.get("NOT_READY_ATTEMPTS", "3")))
    return _client


def _response(status: int, body: bytes, content_type: str, headers: dict | None = None) -> dict:
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {"statusCode": status, "headers": {"Content-Type": content_type, **(headers or {})}, "body": text, "isBase64Encoded": encoded}


def handler(event: dict, context=None) -> dict:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    passed = {name: headers.get(name.lower()) for name in PASSED_HEADERS}
    try:
        answer = endpoint_client().invoke(
            body,
            content_type=passed["Content-Type"] or "application/json",
            accept=passed["Accept"],
            target_model=passed["X-Amzn-SageMaker-Target-Model"],
            target_variant=passed["X-Amzn-SageMaker-Target-Variant"],
            inference_id=passed[INFERENCE_ID_HEADER],
        )
    except ClientError as error:
        response = error.response
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        details = response.get("Error", {})
        sagemaker_body = error_body(details.get("Code"), details.get("Message"), response.get("OriginalStatusCode"), response.get("OriginalMessage"))
        status, answer_body = rest_answer(status, sagemaker_body)
        return _response(status, answer_body, "application/json")
    except BotoCoreError as error:  # no answer at all (connection, timeout) after botocore's retries
        return _response(502, json.dumps({"error": type(error).__name__, "message": str(error)}).encode(), "application/json")
    return _response(200, answer.body, answer.content_type or "application/json", {VARIANT_HEADER: answer.variant})
