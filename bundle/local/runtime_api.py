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
