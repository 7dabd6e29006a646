"""What the runtime API refuses before any container sees a request, read from botocore's sagemaker-runtime model.

boto3 validates a request's minimums but not its maximums (botocore's ParamValidator checks `min` only), so an
oversize body or header reaches the service, and AWS's front refuses it: a body over the operation's Body `max`
(InvokeEndpoint 6291456 bytes, InvokeEndpointAsync's inline Body 128000) is answered HTTP 413 with only a `message`
(no error code), which boto3 raises as ClientError code "413". The limits come from the model, so the local front
follows the botocore in the lock; AWS's exact wording today cannot be checked here (no account): the message is
the one users report from AWS, with the model's number.
"""
from __future__ import annotations

from functools import lru_cache

from bundle.local.reply import Reply, json_reply

INVOKE, INVOKE_ASYNC = "InvokeEndpoint", "InvokeEndpointAsync"


@lru_cache(maxsize=None)
def member_max(operation: str, member: str) -> int:
    """The `max` botocore's model gives the operation's input member (bytes for a blob, characters for a string)."""
    from bundle.params.shapes import service_model

    return service_model("sagemaker-runtime").operation_model(operation).input_shape.members[member].metadata["max"]


def body_too_large(operation: str, size: int) -> Reply | None:
    """AWS's 413 for a body over the operation's limit, else None."""
    limit = member_max(operation, "Body")
    if size <= limit:
        return None
    return json_reply(413, {"message": f"HTTP content length exceeded {limit} bytes."})


def bad_inference_id(inference_id: str | None) -> Reply | None:
    """A ValidationError for an InferenceId outside the model's length and pattern (1 to 64 printable characters, no
    leading blank), else None. boto3 checks the minimum itself; the maximum and the pattern only AWS does."""
    if inference_id is None:
        return None
    import regex

    from bundle.local.reply import aws_error
    from bundle.params.shapes import service_model

    shape = service_model("sagemaker-runtime").operation_model(INVOKE).input_shape.members["InferenceId"]
    low, high, pattern = shape.metadata.get("min", 1), shape.metadata["max"], shape.metadata.get("pattern")
    if low <= len(inference_id) <= high and (not pattern or regex.match(pattern.replace(r"\A", "^").replace(r"\z", r"\Z"), inference_id)):
        return None
    return aws_error(400, "ValidationError", f"InferenceId must be {low} to {high} printable characters, not starting with a blank (got {len(inference_id)})")
