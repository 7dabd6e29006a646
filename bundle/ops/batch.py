"""`python -m bundle batch`: score a data set in S3 with the stack's model (SageMaker batch transform).

Batch transform is an operation, not infrastructure (CreateTransformJob; pulumi-aws has no resource for it): the
command starts a job on the stack's Model, waits with botocore's `TransformJobCompletedOrStopped` waiter while
showing the job's status, and reports FailureReason when it fails.

Defaults per format (SageMaker's TransformInput/TransformOutput; `--format`):
  csv     ContentType text/csv, SplitType Line, BatchStrategy MultiRecord (several rows per request, up to
          MaxPayloadInMB), Accept text/csv, AssembleWith Line: one answer line per input row.
  jsonl   JSON lines, each line one request for this model ({"instances": [...]} or [[...]]): ContentType
          application/json, SplitType Line, BatchStrategy SingleRecord (lines joined by newlines are not one JSON
          document), Accept application/json, AssembleWith Line: one answer line per input line.
MaxPayloadInMB 6 (real-time's limit, which the handlers enforce), MaxConcurrentTransforms 1 (x 6 MB <= 100 MB).

`--local` runs the same job here: each input file (a local file or folder, or an S3 prefix, e.g. in moto) is split
and batched as SageMaker would, every request goes through the serving image's real worker (.venv-image), and the
answers are written to `<output>/<input file name>.out`. As in SageMaker, a bad record fails its file: that file gets
no .out, the others do, and the job reports the failure. With `--outputs` of a stack with an inference pipeline
(preprocessing.enabled), every request goes through the preprocessing stage's worker first, then the model's, as the
stack's two-container Model runs them; the archive is built from this checkout and must be the stack's (its sha256).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import botocore.exceptions

from bundle.errors import BundleError
from bundle.names import split_s3_uri
from bundle.ops import aws
from bundle.ops.arguments import transform_instance_type

MAX_PAYLOAD_MB = 6
MAX_CONCURRENT_TRANSFORMS = 1


@dataclass(frozen=True)
class Format:
    content_type: str
    accept: str
    batch_strategy: str  # MultiRecord | SingleRecord
    split_type: str = "Line"
    assemble_with: str = "Line"


FORMATS = {
    "csv": Format("text/csv", "text/csv", "MultiRecord"),
    "jsonl": Format("application/json", "application/json", "SingleRecord"),
}


def transform_job_request(name: str, model_name: str, source: str, destination: str, fmt: Format, instance_type: str, instance_count: int, kms_key: str = "") -> dict:
    output = {"S3OutputPath": destination.rstrip("/"), "Accept": fmt.accept, "AssembleWith": fmt.assemble_with}
    if kms_key:
        output["KmsKeyId"] = kms_key
    return {
        "TransformJobName": name,
        "ModelName": model_name,
        "MaxConcurrentTransforms": MAX_CONCURRENT_TRANSFORMS,
        "MaxPayloadInMB": MAX_PAYLOAD_MB,
        "BatchStrategy": fmt.batch_strategy,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
            "ContentType": fmt.content_type,
            "SplitType": fmt.split_type,
        },
        "TransformOutput": output,
        "TransformResources": {"InstanceType": instance_type, "InstanceCount": instance_count},
    }


def job_name(endpoint_name: str) -> str:
    """`<endpoint>-batch-<UTC time>`, within SageMaker's 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{endpoint_name[: 63 - len(stamp) - 7].rstrip('-')}-batch-{stamp}"


def run_transform_job(sagemaker, request: dict, timeout: float, progress=None, poll: float = 30.0) -> dict:
    """Start the job, wait with botocore's waiter (in a thread, so that progress can be shown), return DescribeTransformJob."""
    name = request["TransformJobName"]
    sagemaker.create_transform_job(**request)
    waiter = sagemaker.get_waiter("transform_job_completed_or_stopped")
    outcome: dict = {}

    def wait() -> None:
        try:
            waiter.wait(TransformJobName=name, WaiterConfig={"Delay": poll, "MaxAttempts": max(1, int(timeout // poll) + 1)})
        except botocore.exceptions.WaiterError as e:
            outcome["error"] = e

    thread = threading.Thread(target=wait, daemon=True)
    start = time.monotonic()
    thread.start()
    while thread.is_alive():
        thread.join(timeout=min(poll, 10.0))
        if thread.is_alive() and progress:
            progress(name, sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"], time.monotonic() - start)
    described = sagemaker.describe_transform_job(TransformJobName=name)
    if described["TransformJobStatus"] in ("InProgress", "Stopping"):
        raise BundleError(f"transform job {name} is still {described['TransformJobStatus']} after {timeout:g} s; follow it with `aws sagemaker describe-transform-job --transform-job-name {name}`")
    return described


# --- the same job, here: the image's worker instead of SageMaker's instances -------------------------------------


@dataclass
class LocalJob:
    outputs: dict[str, str] = field(default_factory=dict)  # input name -> output location
    failures: dict[str, str] = field(default_factory=dict)  # input name -> why it has no output

    @property
    def ok(self) -> bool:
        return not self.failures

    def failure_reason(self) -> str:
        return "; ".join(f"{name}: {why}" for name, why in sorted(self.failures.items()))


class _Place:
    """A local folder/file or an S3 prefix (boto3, so moto when AWS_ENDPOINT_URL points at it)."""

    def __init__(self, where: str, region: str):
        self.where = where.rstrip("/")
        self.s3 = aws.client("s3", region) if where.startswith("s3://") else None

    def inputs(self) -> list[tuple[str, bytes]]:
        if self.s3 is None:
            path = Path(self.where)
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
            if not files:
                raise BundleError(f"--input {self.where}: no such file or folder, or nothing in it")
            return [(str(p.relative_to(path)) if path.is_dir() else p.name, p.read_bytes()) for p in files]
        bucket, prefix = split_s3_uri(self.where)
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue
                name = item["Key"][len(prefix) :].lstrip("/") or item["Key"].rsplit("/", 1)[-1]
                found.append((name, self.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()))
        if not found:
            raise BundleError(f"--input {self.where}: no objects under this prefix")
        return found

    def write(self, name: str, body: bytes, content_type: str) -> str:
        if self.s3 is None:
            path = Path(self.where) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            return str(path)
        bucket, prefix = split_s3_uri(self.where)
        key = f"{prefix}/{name}".lstrip("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        return f"s3://{bucket}/{key}"


def mini_batches(data: bytes, fmt: Format, max_bytes: int = MAX_PAYLOAD_MB * 1024 * 1024) -> list[bytes]:
    """SplitType Line: records are lines (blank ones skipped); MultiRecord packs as many as fit in MaxPayloadInMB."""
    records = [line for line in data.split(b"\n") if line.strip()]
    if fmt.batch_strategy == "SingleRecord":
        return records
    batches, current, size = [], [], 0
    for record in records:
        if current and size + len(record) + 1 > max_bytes:
            batches.append(b"\n".join(current) + b"\n")
            current, size = [], 0
        current.append(record)
        size += len(record) + 1
    if current:
        batches.append(b"\n".join(current) + b"\n")
    return batches


def score_locally(source: str, destination: str, fmt: Format, region: str, post) -> LocalJob:
    """`post(body, content_type, accept)` -> (status, body): one request to the worker."""
    job = LocalJob()
    src, dst = _Place(source, region), _Place(destination, region)
    for name, data in src.inputs():
        answers = []
        for number, batch in enumerate(mini_batches(data, fmt), 1):
            status, body = post(batch, fmt.content_type, fmt.accept)
            if status >= 400:
                job.failures[name] = f"request {number} answered {status}: {body.decode('utf-8', 'replace')[:300]}"
                break
            answers.append(body.rstrip(b"\n"))
        else:
            # AssembleWith Line: one line per answer.
            job.outputs[name] = dst.write(f"{name}.out", b"".join(a + b"\n" for a in answers), fmt.accept)
    return job


def run_locally(
    source: str, destination: str, fmt: Format, region: str, artifact: Path | None = None, preprocessing: Path | None = None
) -> LocalJob:
    """With `preprocessing` (an inference pipeline's archive), every request goes through its stage, then the model's."""
    import urllib3

    from bundle.artifact.build import build_artifact
    from bundle.local.endpoint import LocalEndpoint

    with LocalEndpoint(artifact or build_artifact().path, port=0, preprocessing=preprocessing) as served:
        host, port = served.container_url.rsplit("/", 1)[-1].rsplit(":", 1)
        pool = urllib3.HTTPConnectionPool(host, int(port), retries=False, timeout=urllib3.Timeout(connect=5.0, read=90.0))

        def post(body: bytes, content_type: str, accept: str) -> tuple[int, bytes]:
            reply = pool.request("POST", "/invocations", body=body, headers={"Content-Type": content_type, "Accept": accept})
            return reply.status, reply.data

        try:
            return score_locally(source, destination, fmt, region, post)
        finally:
            pool.close()


def pipeline_archive(outputs: dict) -> Path | None:
    """The stack's preprocessing stage (its outputs' `preprocessing`), built from this checkout: it must be the very
    archive the stack ships (the same sha256), or the local job would not score as the stack's Model does."""
    pipeline = outputs.get("preprocessing")
    if not pipeline:
        return None
    from bundle.artifact.preprocessing import preprocessing_artifact

    built = preprocessing_artifact(pipeline["unit"])
    if built.sha256 != pipeline["code_sha256"]:
        raise BundleError(
            f"the stack's preprocessing code is {pipeline['code_sha256'][:12]}, this checkout's {built.sha256[:12]}: "
            "check out the commit the stack was deployed from to score as its Model does"
        )
    return built.path


# --- the command ----------------------------------------------------------------------------------------


def add_arguments(p) -> None:
    p.add_argument("--input", required=True, help="s3://bucket/prefix of the input files (with --local also a local file or folder)")
    p.add_argument("--output", required=True, help="s3://bucket/prefix for the <input>.out files (with --local also a local folder)")
    p.add_argument("--format", choices=sorted(FORMATS), default="csv", help="csv (rows) or jsonl (one JSON request per line); default csv")
    p.add_argument("--outputs", help="the stack's outputs JSON: the Model, region and bucket's key (or give --model and --region)")
    p.add_argument("--model", help="SageMaker Model name (default: the stack's, from --outputs)")
    p.add_argument("--region", help="AWS region (default: the outputs', else AWS_REGION / AWS_DEFAULT_REGION)")
    p.add_argument("--instance-type", type=transform_instance_type, default="ml.m5.large", help="transform instances' type, x86 CPU (default ml.m5.large)")
    p.add_argument("--instance-count", type=int, default=1, help="transform instances (default 1)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job (default 3600)")
    p.add_argument("--local", action="store_true", help="score here through the serving image's worker instead of starting a job")
    p.add_argument("--artifact", type=Path, help="with --local: model.tar.gz (default: the bundle's)")


def run(args) -> int:
    import os

    from bundle.guide.outputs import read_outputs_file

    outputs = read_outputs_file(args.outputs) if args.outputs else {}
    region = args.region or (outputs.get("endpoint") or {}).get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    fmt = FORMATS[args.format]
    if args.local:
        job = run_locally(args.input, args.output, fmt, region or "us-east-1", args.artifact, pipeline_archive(outputs))
        for name, where in sorted(job.outputs.items()):
            print(f"{name} -> {where}")
        if not job.ok:
            print(json.dumps({"status": "Failed", "FailureReason": job.failure_reason()}), file=sys.stderr)
            return 1
        print(json.dumps({"status": "Completed", "files": len(job.outputs)}))
        return 0
    model = args.model or (outputs.get("endpoint") or {}).get("model_name")
    if not (model and region):
        raise BundleError("batch needs --outputs FILE, or --model and a region (--region, AWS_REGION); or --local")
    for option, uri in (("--input", args.input), ("--output", args.output)):
        if not uri.startswith("s3://"):
            raise BundleError(f"{option} {uri}: a transform job reads and writes S3 (s3://bucket/prefix); use --local for local files")
    endpoint = (outputs.get("endpoint") or {}).get("endpoint_name") or model
    request = transform_job_request(job_name(endpoint), model, args.input, args.output, fmt, args.instance_type, args.instance_count)

    def progress(name: str, status: str, elapsed: float) -> None:
        print(f"{name}: {status} ({elapsed:.0f} s)", file=sys.stderr, flush=True)

    described = run_transform_job(aws.client("sagemaker", region), request, args.timeout, progress)
    status = described["TransformJobStatus"]
    print(json.dumps({"job": described["TransformJobName"], "status": status, "output": args.output, "FailureReason": described.get("FailureReason")}))
    return 0 if status == "Completed" else 1
