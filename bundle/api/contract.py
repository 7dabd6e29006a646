"""The REST front's contract, in one table: its path, the headers it passes through, and how SageMaker's answers
become the API's statuses. Standard library only (the Lambda ships it).

Three consumers, one table:
  bundle/deploy/api.py        the API Gateway integration responses (direct integration): `selection_pattern`s
                              matched against the SageMaker runtime's HTTP status, the 424 one with a mapping
                              template that answers the model's own status and body ($context.responseOverride);
  bundle/api/lambda_handler.py  the Lambda proxy, through `rest_answer`;
  bundle/local/rest.py        the local endpoint's REST front, through `rest_answer`.
`rest_answer` applies the table as API Gateway does (the pattern that fully matches the status; Java and Python
regexes agree on these); the mapping template's VTL itself cannot run here (no API Gateway on this machine).

| SageMaker runtime answers          | the API answers                                      |
|------------------------------------|------------------------------------------------------|
| 200                                | 200, the body, X-Amzn-Invoked-Production-Variant      |
| 424 ModelError (the model's 4xx/5xx)| the model's status (400/406/413/415/500...) and body |
| 429 throttling, ModelNotReady      | 429                                                  |
| 400 ValidationError                | 400 (e.g. an unknown TargetVariant)                  |
| 413 (the body over the runtime's limit) | 413                                             |
| other 4xx (403, 404)               | 500: the API's own role or target is wrong           |
| 5xx                                | 502: SageMaker failed                                |
Never a 200 carrying an error.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

STAGE = "v1"
RESOURCE = "invocations"
REST_PATH = f"/{STAGE}/{RESOURCE}"
# Request headers the API passes to InvokeEndpoint (header name -> the runtime's header of the same name).
# InferenceId: the caller's id of the request, recorded with its captured data (ground truth is joined on it).
INFERENCE_ID_HEADER = "X-Amzn-SageMaker-Inference-Id"
PASSED_HEADERS = ("Content-Type", "Accept", "X-Amzn-SageMaker-Target-Model", "X-Amzn-SageMaker-Target-Variant", INFERENCE_ID_HEADER)
VARIANT_HEADER = "X-Amzn-Invoked-Production-Variant"
API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class IntegrationResponse:
    pattern: str  # API Gateway's selection_pattern on the runtime's HTTP status ("" = the default response)
    status: int  # the method response's status
    from_model: bool = False  # the answer takes the model's own status and body (OriginalStatusCode/OriginalMessage)
    meaning: str = ""


INTEGRATION_RESPONSES: tuple[IntegrationResponse, ...] = (
    IntegrationResponse("", 200, meaning="the model's answer"),
    IntegrationResponse("424", 424, from_model=True, meaning="ModelError: the model's own 4xx/5xx and its body"),
    IntegrationResponse("429", 429, meaning="throttled, or ModelNotReadyException: retry with backoff"),
    IntegrationResponse("400", 400, meaning="ValidationError: the request (e.g. TargetModel/TargetVariant) is wrong"),
    IntegrationResponse("413", 413, meaning="the body is over the runtime's payload limit: send less per request"),
    IntegrationResponse(r"4(?!00|13|24|29)\d{2}", 500, meaning="the API's role or target is wrong: not the caller's doing"),
    IntegrationResponse(r"5\d{2}", 502, meaning="SageMaker failed"),
)
# The statuses the method may answer: the table's, and the model's 4xx/5xx that the 424 response passes on.
MODEL_STATUSES = (400, 406, 413, 415, 500)
METHOD_STATUSES = tuple(sorted({r.status for r in INTEGRATION_RESPONSES} | set(MODEL_STATUSES)))

# The 424 response's mapping template: the model's status (when it is an HTTP error status) and its body.
MODEL_ERROR_TEMPLATE = """#set($status = $input.path('$.OriginalStatusCode'))
#if($status >= 400 && $status <= 599)
#set($context.responseOverride.status = $status)
#else
#set($context.responseOverride.status = 502)
#end
$input.path('$.OriginalMessage')"""


def select(sagemaker_status: int) -> IntegrationResponse:
    """The integration response API Gateway picks for the runtime's status: the one whose pattern matches it whole."""
    matches = [r for r in INTEGRATION_RESPONSES if r.pattern and re.fullmatch(r.pattern, str(sagemaker_status))]
    if len(matches) > 1:
        raise AssertionError(f"status {sagemaker_status} matches several selection patterns: {[m.pattern for m in matches]}")
    return matches[0] if matches else INTEGRATION_RESPONSES[0]


def rest_answer(sagemaker_status: int, body: bytes) -> tuple[int, bytes]:
    """The API's status and body for the runtime's status and body (the runtime's error JSON for errors)."""
    response = select(sagemaker_status)
    if not response.from_model:
        return response.status, body
    try:
        error = json.loads(body)
    except ValueError:
        return 502, body
    original = error.get("OriginalStatusCode")
    status = original if isinstance(original, int) and 400 <= original <= 599 else 502
    return status, str(error.get("OriginalMessage", "")).encode()


def error_body(code: str | None, message: str | None, original_status: int | None = None, original_message: str | None = None) -> bytes:
    """The runtime's error JSON, as the SageMaker runtime sends it (botocore parses it into ClientError.response)."""
    document: dict = {"__type": code or "", "message": message or ""}
    if original_status is not None:
        document["OriginalStatusCode"] = original_status
        document["OriginalMessage"] = original_message or ""
    return json.dumps(document).encode()
