"""`python -m bundle models add|list`: content-addressed names, never an overwrite, archives MMS can load (moto's S3)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile

import boto3
import pytest
from moto import mock_aws

from bundle.artifact.build import recipe_artifact
from bundle.artifact.tarball import deterministic_tarball
from bundle.errors import BundleError
from bundle.ops.models import Prefix, add_model, check_archive, list_models, table, target_name
from conftest import REPO

BUCKET = "sagemaker-bundle-artifacts-abc1234"
PREFIX = Prefix(f"s3://{BUCKET}/multi-model/models/", "us-east-1", stack_models=("random-forest-000000000000.tar.gz",))


@pytest.fixture
def s3(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_a_recipe_is_added_under_a_content_addressed_name_and_again_is_a_no_op(s3):
    data = recipe_artifact("gradient-boosting", layout="multi-model").path.read_bytes()
    first = add_model(PREFIX, data, "gb", "recipe gradient-boosting")
    assert first.written and first.target_model == target_name("gb", data) and first.target_model.startswith("gb-")
    stored = s3.get_object(Bucket=BUCKET, Key=f"multi-model/models/{first.target_model}")
    assert stored["Body"].read() == data and stored["Metadata"]["sha256"] == first.sha256
    again = add_model(PREFIX, data, "gb", "recipe gradient-boosting")
    assert not again.written and again.target_model == first.target_model


def test_a_key_holding_other_bytes_is_never_overwritten(s3):
    data = recipe_artifact("logistic-regression", layout="multi-model").path.read_bytes()
    key = f"multi-model/models/{target_name('lr', data)}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"something else")
    with pytest.raises(BundleError, match="exists with other bytes: it is never overwritten"):
        add_model(PREFIX, data, "lr", "x")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"something else"


def test_a_single_model_artifact_is_refused_naming_its_root_manifest():
    single = recipe_artifact("random-forest").path.read_bytes()
    with pytest.raises(BundleError, match="manifest.json at its root: the image's multi-model server refuses"):
        check_archive(single, "model.tar.gz")


@pytest.mark.parametrize(
    "data, words",
    [
        (b"not a tarball", "not a gzip-compressed tar archive"),
        (deterministic_tarball({"model/model.joblib": b"x"}), "no file at its root"),
    ],
)
def test_archives_mms_could_not_load_are_refused(data, words):
    with pytest.raises(BundleError, match=words):
        check_archive(data, "a.tar.gz")


def test_a_member_leaving_the_archive_is_refused():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BundleError, match="leaves the archive's directory"):
        check_archive(raw.getvalue(), "a.tar.gz")


def test_list_marks_what_the_stack_put_there(s3):
    s3.put_object(Bucket=BUCKET, Key="multi-model/models/random-forest-000000000000.tar.gz", Body=b"1")
    s3.put_object(Bucket=BUCKET, Key="multi-model/models/mine-111111111111.tar.gz", Body=b"22")
    s3.put_object(Bucket=BUCKET, Key="multi-model/code/sourcedir-222222222222.tar.gz", Body=b"333")
    listed = list_models(PREFIX)
    assert [(m.target_model, m.size_bytes, m.by_stack) for m in listed] == [
        ("mine-111111111111.tar.gz", 2, False),
        ("random-forest-000000000000.tar.gz", 1, True),
    ]
    text = table(listed, PREFIX)
    assert "the stack" in text and "models add" in text and "2 model(s)" in text


def test_a_stack_without_multi_model_is_a_message():
    with pytest.raises(BundleError, match="not a multi-model endpoint"):
        Prefix.from_outputs({"multi_model": None, "endpoint": {"region": "us-east-1"}})


def test_cli_refuses_a_bad_prefix_and_a_bad_name_with_messages(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "bundle", "models", *a], cwd=REPO, capture_output=True, text=True)  # noqa: E731
    bad_prefix = run("list", "--prefix", "bucket/models", "--region", "us-east-1")
    assert bad_prefix.returncode == 2 and "is not an s3://bucket/prefix/ URI" in bad_prefix.stderr and "Traceback" not in bad_prefix.stderr
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"endpoint": {"region": "us-east-1"}, "multi_model": {"prefix": f"s3://{BUCKET}/m/", "models": []}}))
    bad_name = run("add", "--outputs", str(outputs), "--recipe", "random-forest", "--name", "../up")
    assert bad_name.returncode == 2 and "model name '../up'" in bad_name.stderr
