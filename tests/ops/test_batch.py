"""Batch transform: the transform job's request (per format), the job's wait and FailureReason (moto), and `--local`, which
scores files through the serving image's real worker and writes <input>.out as SageMaker does."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from bundle.ops.batch import FORMATS, mini_batches, run_locally, run_transform_job, transform_job_request
from conftest import REPO

GOOD = b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n"
BAD = b"5.1,3.5,1.4,0.2\nnot,a,number,row\n"


def test_requests_pass_botocores_shapes_with_the_documented_defaults():
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTransformJob").input_shape
    for name, fmt in FORMATS.items():
        request = transform_job_request("iris-endpoint-batch-1", "iris-model", "s3://b/in", "s3://b/out/", fmt, "ml.m5.large", 1)
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()
        assert request["TransformInput"]["SplitType"] == "Line" and request["TransformOutput"]["AssembleWith"] == "Line"
        assert request["MaxPayloadInMB"] * request["MaxConcurrentTransforms"] <= 100
        assert request["TransformOutput"]["S3OutputPath"] == "s3://b/out"
    csv, jsonl = (transform_job_request("j", "m", "s3://b/in", "s3://b/out", FORMATS[f], "ml.m5.large", 1) for f in ("csv", "jsonl"))
    assert (csv["BatchStrategy"], csv["TransformInput"]["ContentType"], csv["TransformOutput"]["Accept"]) == ("MultiRecord", "text/csv", "text/csv")
    assert (jsonl["BatchStrategy"], jsonl["TransformInput"]["ContentType"]) == ("SingleRecord", "application/json")


def test_multi_record_packs_lines_up_to_the_payload_limit_and_single_record_does_not():
    data = b"1,2,3,4\n\n5,6,7,8\n9,9,9,9\n"
    assert mini_batches(data, FORMATS["csv"]) == [b"1,2,3,4\n5,6,7,8\n9,9,9,9\n"]
    assert mini_batches(data, FORMATS["csv"], max_bytes=16) == [b"1,2,3,4\n5,6,7,8\n", b"9,9,9,9\n"]
    assert mini_batches(data, FORMATS["jsonl"]) == [b"1,2,3,4", b"5,6,7,8", b"9,9,9,9"]


def test_the_job_is_waited_for_with_botocores_waiter_and_its_failure_reason_reported():
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model(ModelName="iris-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "x"})
        request = transform_job_request("iris-batch-1", "iris-model", "s3://b/in", "s3://b/out", FORMATS["csv"], "ml.m5.large", 1)
        described = run_transform_job(sagemaker, request, timeout=30, poll=1)
        assert described["TransformJobStatus"] == "Completed" and described["ModelName"] == "iris-model"

    class Failing:  # what a failed job looks like to the command: DescribeTransformJob's FailureReason
        def create_transform_job(self, **request):
            self.name = request["TransformJobName"]

        def describe_transform_job(self, TransformJobName):
            return {"TransformJobName": self.name, "TransformJobStatus": "Failed", "FailureReason": "ClientError: bad record in in/x.csv"}

    failing = Failing()
    # botocore's own waiter, over a client whose DescribeTransformJob answers Failed: the waiter's failure acceptor fires.
    waiter = botocore.session.get_session().create_client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    waiter.describe_transform_job = failing.describe_transform_job  # the waiter's own acceptors see the Failed status
    failing.get_waiter = waiter.get_waiter
    described = run_transform_job(failing, request, timeout=5, poll=1)
    assert described["TransformJobStatus"] == "Failed" and "bad record" in described["FailureReason"]


@pytest.fixture(scope="module")
def scored(artifact, tmp_path_factory):
    source, out = tmp_path_factory.mktemp("in"), tmp_path_factory.mktemp("out")
    (source / "good.csv").write_bytes(GOOD)
    (source / "bad.csv").write_bytes(BAD)
    return run_locally(str(source), str(out), FORMATS["csv"], "us-east-1", artifact.path), out


def test_local_batch_writes_one_answer_line_per_row_from_the_image_worker(scored):
    job, out = scored
    lines = (out / "good.csv.out").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["0", "2", "1"], "setosa, virginica, versicolor"
    assert all(len(line.split(",")) == 4 for line in lines), "the prediction and three probabilities"


def test_a_bad_record_leaves_no_output_for_its_file_and_fails_the_job(scored):
    job, out = scored
    assert not (out / "bad.csv.out").exists()
    assert set(job.outputs) == {"good.csv"} and not job.ok
    assert "bad.csv" in job.failure_reason() and "400" in job.failure_reason()


def test_local_batch_reads_and_writes_s3_in_json_lines(artifact):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        lines = [{"instances": [[5.1, 3.5, 1.4, 0.2]]}, [[6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]]
        s3.put_object(Bucket="data", Key="batch/in/part-1.jsonl", Body="".join(json.dumps(x) + "\n" for x in lines).encode())
        job = run_locally("s3://data/batch/in", "s3://data/batch/out", FORMATS["jsonl"], "us-east-1", artifact.path)
        assert job.ok and job.outputs == {"part-1.jsonl": "s3://data/batch/out/part-1.jsonl.out"}
        answers = s3.get_object(Bucket="data", Key="batch/out/part-1.jsonl.out")["Body"].read().decode().splitlines()
        assert [json.loads(a)["labels"] for a in answers] == [["setosa"], ["virginica", "versicolor"]]


def test_the_batch_command_reports_a_failed_local_job_with_exit_1(artifact, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_bytes(BAD)
    command = [sys.executable, "-m", "bundle", "batch", "--local", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--artifact", str(artifact.path)]
    done = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1 and json.loads(done.stderr.strip().splitlines()[-1])["status"] == "Failed"
    assert "Traceback" not in done.stderr


def test_local_batch_on_a_pipeline_stack_goes_through_the_preprocessing_stage_first(artifact, tmp_path):
    from bundle.artifact.preprocessing import preprocessing_artifact
    from bundle.ops.batch import pipeline_archive

    code = preprocessing_artifact("mm")
    outputs = {"preprocessing": {"unit": "mm", "code_sha256": code.sha256}}
    assert pipeline_archive(outputs) == code.path and pipeline_archive({}) is None
    source, out = tmp_path / "in", tmp_path / "out"
    source.mkdir()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    records = [[dict(zip(names, [51, 35, 14, 2]))], [dict(zip(names, [67, 30, 52, 23])), {**dict(zip(names, [59, 30, 42])), "petal_width_cm": 1.5}]]
    (source / "named.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    job = run_locally(str(source), str(out), FORMATS["jsonl"], "us-east-1", artifact.path, pipeline_archive(outputs))
    assert job.ok, job.failure_reason()
    answers = (out / "named.jsonl.out").read_text().splitlines()
    assert [json.loads(a)["labels"] for a in answers] == [["setosa"], ["virginica", "versicolor"]], "named features in the stack's mm"


def test_local_batch_refuses_preprocessing_code_other_than_the_stacks():
    from bundle.errors import BundleError
    from bundle.ops.batch import pipeline_archive

    with pytest.raises(BundleError, match="the stack's preprocessing code is 000000000000"):
        pipeline_archive({"preprocessing": {"unit": "cm", "code_sha256": "0" * 64}})
