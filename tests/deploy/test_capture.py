"""Data capture under the mock runtime: where it lands, and the role's write access to exactly that prefix."""
from __future__ import annotations

import json

import pytest

from bundle.params.rules import validate
from bundle.local.plan import evaluate
from tokens import BUCKET, CONFIG, CUSTOM, HARDENING, OBJECT, ROLE_POLICY

BUNDLE_KEY = "arn:aws:kms:us-east-1:123456789012:key/1111aaaa-12ab-34cd-56ef-1234567890ab"
CAPTURE_KEY = "arn:aws:kms:us-east-1:123456789012:key/2222bbbb-12ab-34cd-56ef-1234567890ab"


def statements(run) -> dict:
    return {s["Sid"]: s for s in json.loads(run.one(ROLE_POLICY).inputs["policy"])["Statement"]}


def capture_config(run) -> dict:
    return run.one(CONFIG).inputs["dataCaptureConfig"]


@pytest.fixture(scope="module")
def into_bundle_bucket():
    return evaluate(validate({"data_capture": {"enabled": True, "sampling_percentage": 25}}))


def test_capture_lands_under_the_bundle_bucket_prefix(into_bundle_bucket):
    run = into_bundle_bucket
    bucket = run.outputs["bucket"]
    config = capture_config(run)
    assert config["destinationS3Uri"] == f"s3://{bucket}/data-capture"
    assert (config["enableCapture"], config["initialSamplingPercentage"]) == (True, 25)
    assert config["captureOptions"] == [{"captureMode": "Input"}, {"captureMode": "Output"}]
    assert config["captureContentTypeHeader"] == {"csvContentTypes": ["text/csv"], "jsonContentTypes": ["application/json"]}
    assert "kmsKeyId" not in config
    assert run.outputs["data_capture"] == {"enabled": True, "destination": f"s3://{bucket}/data-capture/iris-endpoint/", "sampling_percentage": 25}


def test_role_writes_only_objects_under_the_capture_prefix(into_bundle_bucket):
    by_sid = statements(into_bundle_bucket)
    bucket = into_bundle_bucket.outputs["bucket"]
    assert by_sid["WriteDataCapture"] == {
        "Sid": "WriteDataCapture",
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/data-capture/iris-endpoint/*"],
    }
    assert "EncryptDataCapture" not in by_sid, "SSE-S3: no key to use"
    writes = [s for s in by_sid.values() if any(a.startswith("s3:") and a != "s3:GetObject" for a in s["Action"])]
    assert writes == [by_sid["WriteDataCapture"]], "no other S3 write, no s3:* and no bucket-wide resource"
    assert by_sid["ReadModelArtifact"]["Action"] == ["s3:GetObject"]


def test_a_custom_model_capturing_into_the_bundle_bucket_gets_a_hardened_bucket():
    run = evaluate(validate({**CUSTOM, "data_capture": {"enabled": True}}))
    assert run.one(BUCKET) and not run.of_type(OBJECT), "the bucket is created for the captured data, no artifact uploaded"
    hardening = {run.one(t).name for t in HARDENING}
    assert hardening <= run.one(CONFIG).depends_on, "captured data lands only in a hardened bucket"
    by_sid = statements(run)
    assert by_sid["ReadModelArtifact"]["Resource"] == ["arn:aws:s3:::my-models/iris/v2/model.tar.gz"]
    assert by_sid["WriteDataCapture"]["Resource"] == [f"arn:aws:s3:::{run.outputs['bucket']}/data-capture/iris-endpoint/*"]


def test_a_given_destination_and_key_need_no_bucket_and_scope_the_role_to_them():
    capture = {"enabled": True, "destination_s3_uri": "s3://audit-bucket/sagemaker/capture/", "kms_key_arn": CAPTURE_KEY}
    run = evaluate(validate({**CUSTOM, "data_capture": capture}))
    assert not run.of_type(BUCKET) and run.outputs["bucket"] is None
    config = capture_config(run)
    assert (config["destinationS3Uri"], config["kmsKeyId"]) == ("s3://audit-bucket/sagemaker/capture", CAPTURE_KEY)
    by_sid = statements(run)
    assert by_sid["WriteDataCapture"]["Resource"] == ["arn:aws:s3:::audit-bucket/sagemaker/capture/iris-endpoint/*"]
    assert by_sid["EncryptDataCapture"] == {
        "Sid": "EncryptDataCapture",
        "Effect": "Allow",
        "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
        "Resource": [CAPTURE_KEY],
    }
    assert run.outputs["data_capture"]["destination"] == "s3://audit-bucket/sagemaker/capture/iris-endpoint/"


def test_capture_into_a_kms_encrypted_bundle_bucket_uses_the_bundle_key():
    run = evaluate(validate({"kms_key_arn": BUNDLE_KEY, "data_capture": {"enabled": True}}))
    assert capture_config(run)["kmsKeyId"] == BUNDLE_KEY
    by_sid = statements(run)
    assert by_sid["EncryptDataCapture"]["Resource"] == [BUNDLE_KEY]
    assert by_sid["UseBundleKey"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]


def test_no_capture_no_statement_and_null_outputs():
    run = evaluate(validate({"data_capture": {"enabled": False, "sampling_percentage": 50}}))
    assert "dataCaptureConfig" not in run.one(CONFIG).inputs
    assert not {"WriteDataCapture", "EncryptDataCapture"} & set(statements(run))
    assert run.outputs["data_capture"] == {"enabled": False, "destination": None, "sampling_percentage": None}
