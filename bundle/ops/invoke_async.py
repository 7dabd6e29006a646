"""`python -m bundle invoke-async`: one asynchronous inference, end to end.

Uploads the request body under the endpoint's input prefix (boto3's transfer manager: multipart for big bodies, up
to async inference's 1 GB), calls InvokeEndpointAsync, then waits for whichever of the output and failure objects
appears first, showing progress on stderr, and prints the answer (or the failure, exit 1). A timeout is an error
that names where the answer will land: the request stays queued on the endpoint.
"""
from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import botocore.exceptions

from bundle.errors import BundleError
from bundle.names import split_s3_uri
from bundle.ops import aws

EXTENSIONS = {"application/json": "json", "text/csv": "csv", "application/x-npy": "npy", "application/jsonlines": "jsonl"}


@dataclass(frozen=True)
class AsyncResult:
    inference_id: str
    ok: bool
    location: str
    body: bytes
    seconds: float


def upload(s3, body_file: str, input_prefix: str, content_type: str) -> str:
    """The body's S3 location: `<input prefix>/<uuid>.<ext>`. `-` reads stdin."""
    bucket, prefix = split_s3_uri(input_prefix.rstrip("/"))
    key = f"{prefix}/{uuid.uuid4()}.{EXTENSIONS.get(content_type, 'bin')}".lstrip("/")
    if body_file == "-":
        s3.put_object(Bucket=bucket, Key=key, Body=sys.stdin.buffer.read(), ContentType=content_type)
    else:
        path = Path(body_file)
        if not path.is_file():
            raise BundleError(f"--body {body_file}: no such file")
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})
    return f"s3://{bucket}/{key}"


def _exists(s3, uri: str) -> bool:
    bucket, key = split_s3_uri(uri)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def wait_for_result(s3, output: str, failure: str, timeout: float, interval: float = 1.0, progress=None) -> tuple[bool, str, float]:
    """(ok, location, seconds) once the output or the failure object exists. botocore's ObjectExists waiter watches one
    key; the answer is one of two, so this polls both (a head_object each per interval) until the deadline."""
    start = time.monotonic()
    while True:
        for ok, uri in ((True, output), (False, failure)):
            if _exists(s3, uri):
                return ok, uri, time.monotonic() - start
        elapsed = time.monotonic() - start
        if elapsed >= timeout:
            raise BundleError(
                f"no answer after {timeout:g} s; the request is still queued or running: its answer will be at {output} "
                f"(or its error at {failure})"
            )
        if progress:
            progress(elapsed)
        time.sleep(min(interval, max(0.0, timeout - elapsed)))


def invoke_async(
    endpoint_name: str,
    region: str,
    body_file: str,
    input_prefix: str,
    content_type: str = "application/json",
    accept: str | None = None,
    timeout: float = 900.0,
    invocation_timeout: int | None = None,
    endpoint_url: str | None = None,
    progress=None,
) -> AsyncResult:
    s3 = aws.client("s3", region)
    runtime = aws.client("sagemaker-runtime", region, endpoint_url=endpoint_url)
    location = upload(s3, body_file, input_prefix, content_type)
    request = {"EndpointName": endpoint_name, "InputLocation": location, "ContentType": content_type}
    if accept:
        request["Accept"] = accept
    if invocation_timeout:
        request["InvocationTimeoutSeconds"] = invocation_timeout
    answer = runtime.invoke_endpoint_async(**request)
    ok, where, seconds = wait_for_result(s3, answer["OutputLocation"], answer["FailureLocation"], timeout, progress=progress)
    bucket, key = split_s3_uri(where)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return AsyncResult(answer["InferenceId"], ok, where, body, seconds)


def _spinner():
    frames = "|/-\\"
    state = {"n": 0}

    def show(elapsed: float) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{frames[state['n'] % 4]} waiting for the answer: {elapsed:4.0f} s")
        elif state["n"] % 10 == 0:
            sys.stderr.write(f"waiting for the answer: {elapsed:.0f} s\n")
        sys.stderr.flush()
        state["n"] += 1

    return show


def add_arguments(p) -> None:
    p.add_argument("--outputs", help="the stack's outputs JSON (endpoint, region, input prefix); or give --endpoint and --input-prefix")
    p.add_argument("--endpoint", help="endpoint name")
    p.add_argument("--input-prefix", help="s3://bucket/prefix to upload the body under (the stack's async_inference.input_location)")
    p.add_argument("--region", help="AWS region (default: the outputs', else AWS_REGION / AWS_DEFAULT_REGION)")
    p.add_argument("--body", required=True, help="file holding the request body, or - for stdin")
    p.add_argument("--content-type", default="application/json", help="the body's type (default application/json)")
    p.add_argument("--accept", help="the answer's type (default: the model's, JSON)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the answer (default 900)")
    p.add_argument("--invocation-timeout", type=int, help="InvocationTimeoutSeconds: how long the endpoint may work on it (1-3600)")
    p.add_argument("--endpoint-url", help="runtime API URL, e.g. the local endpoint's http://127.0.0.1:8080")


def run(args) -> int:
    import json
    import os

    from bundle.guide.outputs import read_outputs_file

    endpoint, prefix, region = args.endpoint, args.input_prefix, args.region
    if args.outputs:
        outputs = read_outputs_file(args.outputs)
        if not outputs.get("async_inference"):
            raise BundleError(f"{args.outputs}: the stack is not asynchronous (deployment_mode async): use InvokeEndpoint")
        endpoint = endpoint or outputs["endpoint"]["endpoint_name"]
        prefix = prefix or outputs["async_inference"]["input_location"]
        region = region or outputs["endpoint"]["region"]
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not (endpoint and prefix and region):
        raise BundleError("invoke-async needs --outputs FILE, or --endpoint, --input-prefix and a region (--region, AWS_REGION)")
    result = invoke_async(
        endpoint, region, args.body, prefix, args.content_type, args.accept, args.timeout, args.invocation_timeout, args.endpoint_url, _spinner()
    )
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    summary = {"inference_id": result.inference_id, "status": "succeeded" if result.ok else "failed", "location": result.location, "seconds": round(result.seconds, 1)}
    print(json.dumps(summary), file=sys.stderr)
    if result.ok:
        sys.stdout.write(result.body.decode("utf-8", "replace") + ("" if result.body.endswith(b"\n") else "\n"))
        return 0
    print(result.body.decode("utf-8", "replace"), file=sys.stderr)
    return 1
