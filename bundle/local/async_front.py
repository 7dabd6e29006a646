"""The local endpoint's asynchronous runtime API: `POST /endpoints/{name}/async-invocations`, as SageMaker's
InvokeEndpointAsync (botocore's sagemaker-runtime model gives its shape).

AWS queues the request and answers at once: HTTP 202, the InferenceId in the JSON body and the
X-Amzn-SageMaker-OutputLocation / -FailureLocation headers. Later, one of its instances reads the request body
from InputLocation in S3, calls the container's POST /invocations, and writes the answer to
`<S3OutputPath>/<InferenceId>.out` or the error to `<S3FailurePath>/<InferenceId>-error.out`. Here the same
happens with a small thread pool (MaxConcurrentInvocationsPerInstance) in front of the image's real worker,
reading and writing S3 through boto3 (moto when AWS_ENDPOINT_URL points at it). No SNS notification is sent
and no queue metric is published: those belong to AWS's managed side, which no package provides.
"""
from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from bundle.local.reply import Reply, aws_error
from bundle.names import split_s3_uri

HEADER = "X-Amzn-SageMaker-"
# The request headers InvokeEndpointAsync carries (botocore: sagemaker-runtime, InvokeEndpointAsync's input shape).
INPUT_LOCATION, CONTENT_TYPE, ACCEPT, INFERENCE_ID = (HEADER + h for h in ("InputLocation", "Content-Type", "Accept", "Inference-Id"))


@dataclass(frozen=True)
class AsyncConfig:
    """The endpoint configuration's AsyncInferenceConfig: where answers and failures go."""

    output: str  # s3://bucket/prefix
    failure: str
    max_concurrent_invocations: int = 2

    @classmethod
    def from_outputs(cls, outputs: dict) -> "AsyncConfig | None":
        """From the stack's `async_inference` output (None unless deployment_mode async)."""
        a = outputs.get("async_inference")
        if not a:
            return None
        return cls(a["output_location"], a["failure_location"], a["max_concurrent_invocations_per_instance"])


class AsyncInvocations:
    """Accepts InvokeEndpointAsync requests and processes them in the background through `forward`."""

    def __init__(self, config: AsyncConfig, forward: Callable[[str, str, bytes, dict], object], s3_client: Callable[[], object]):
        self.config = config
        self._forward = forward  # the front's forward(method, path, body, headers) -> Reply (status, body, content_type)
        self._s3 = s3_client
        self._pool = ThreadPoolExecutor(max_workers=config.max_concurrent_invocations, thread_name_prefix="async-invocation")
        self._lock = threading.Lock()
        self.pending: set[str] = set()

    def submit(self, headers: dict[str, str], body: bytes = b"") -> Reply:
        """The 202 answer, or a 400 for a request AWS would refuse before queueing it. The input is the object at
        InputLocation, or the inline Body (botocore's model: exactly one of them)."""
        found = {k.lower(): v for k, v in headers.items()}
        location = found.get(INPUT_LOCATION.lower(), "")
        if location and body:
            return aws_error(400, "ValidationError", f"Body and InputLocation ({INPUT_LOCATION}) are mutually exclusive: provide exactly one of them")
        if not location and not body:
            return aws_error(400, "ValidationError", f"provide exactly one of Body and InputLocation ({INPUT_LOCATION})")
        if location and (not location.startswith("s3://") or not split_s3_uri(location)[1]):
            return aws_error(400, "ValidationError", f"InputLocation {location!r} is not an s3://bucket/key URI")
        inference_id = found.get(INFERENCE_ID.lower()) or str(uuid.uuid4())
        output = f"{self.config.output.rstrip('/')}/{inference_id}.out"
        failure = f"{self.config.failure.rstrip('/')}/{inference_id}-error.out"
        request = {"content-type": found.get(CONTENT_TYPE.lower(), "application/octet-stream")}
        if found.get(ACCEPT.lower()):
            request["accept"] = found[ACCEPT.lower()]
        with self._lock:
            self.pending.add(inference_id)
        self._pool.submit(self._process, inference_id, location or None, body, output, failure, request)
        return Reply(
            202,
            json.dumps({"InferenceId": inference_id}).encode(),
            "application/json",
            ((HEADER + "OutputLocation", output), (HEADER + "FailureLocation", failure)),
        )

    def _process(self, inference_id: str, location: str | None, body: bytes, output: str, failure: str, headers: dict) -> None:
        s3 = self._s3()
        try:
            if location is not None:
                try:
                    bucket, key = split_s3_uri(location)
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except Exception as e:  # noqa: BLE001 - any S3 error is the request's failure, as AWS reports it
                    self._put(s3, failure, f"Failed to download the input from {location}: {e}".encode(), "text/plain")
                    return
            reply = self._forward("POST", "/invocations", body, headers)
            if reply.status < 400:
                self._put(s3, output, reply.body, reply.content_type)
            else:
                message = reply.body.decode("utf-8", "replace")
                self._put(s3, failure, f"Received client error ({reply.status}) from primary with message \"{message}\"".encode() if reply.status < 500
                          else f"Received server error ({reply.status}) from primary with message \"{message}\"".encode(), "text/plain")  # fmt: skip
        finally:
            with self._lock:
                self.pending.discard(inference_id)

    @staticmethod
    def _put(s3, uri: str, body: bytes, content_type: str) -> None:
        bucket, key = split_s3_uri(uri)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
