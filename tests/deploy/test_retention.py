"""No params change, rename or `pulumi destroy` deletes the bucket that may hold captured data.

Under the mock runtime (preview=False) the program runs once per params; comparing what it registers tells
what the engine would do between the two: a resource whose URN (type, parent type, logical name) is gone is
deleted unless it carries retainOnDelete; one whose replacement-forcing inputs changed is replaced.
"""
from __future__ import annotations

import pytest

from bundle.params.rules import validate
from bundle.local.plan import evaluate
from tokens import BUCKET, CUSTOM, HARDENING, OBJECT

CAPTURE = {"data_capture": {"enabled": True}}
CUSTOM_CAPTURING = {**CUSTOM, **CAPTURE}
BUCKET_TYPES = [BUCKET, *HARDENING]
# Inputs of the bucket that make the provider replace it (a new bucket: the old one, and its data, deleted).
REPLACING_INPUTS = {"bucket", "bucketPrefix", "objectLockEnabled"}

# From a deployment that captures into the bundle's bucket, to params that change it.
CHANGES = {
    "rename the endpoint": ({**CUSTOM_CAPTURING}, {**CUSTOM_CAPTURING, "endpoint_name": "iris-renamed"}),
    "rename, POC model": ({**CAPTURE}, {**CAPTURE, "endpoint_name": "iris-renamed"}),
    "capture off": (CUSTOM_CAPTURING, {**CUSTOM}),
    "capture elsewhere": (CUSTOM_CAPTURING, {**CUSTOM, "data_capture": {"enabled": True, "destination_s3_uri": "s3://other-bucket/capture"}}),
    "switch to serverless": (CUSTOM_CAPTURING, {**CUSTOM, "deployment_mode": "serverless"}),
    "POC to custom model": (CAPTURE, {**CUSTOM}),
    "new KMS key": (CAPTURE, {**CAPTURE, "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}),
}


def bucket_resources(run) -> dict:
    return {(r.type, r.name): r for r in run.resources if r.type in BUCKET_TYPES}


@pytest.fixture(scope="module")
def runs():
    cache = {}

    def run(raw: dict):
        key = repr(sorted(raw.items()))
        if key not in cache:
            cache[key] = evaluate(validate(raw))
        return cache[key]

    return run


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_no_params_change_deletes_or_replaces_the_bucket(runs, change):
    before, after = (runs(raw) for raw in CHANGES[change])
    old, new = bucket_resources(before), bucket_resources(after)
    assert len(old) == 5, "the bucket and its four hardening resources"
    for key, resource in old.items():
        if key in new:  # the same URN: an update at most, never a replacement
            changed = {k for k in set(resource.inputs) | set(new[key].inputs) if resource.inputs.get(k) != new[key].inputs.get(k)}
            assert not changed & REPLACING_INPUTS, (key, changed)
        else:  # gone from the program: the engine deletes it, unless it is retained
            assert resource.options.get("retainOnDelete") is True, f"{change}: {key} would be deleted"
    if new:
        assert set(new) == set(old), f"{change}: the bucket keeps its URN"


def test_renaming_keeps_the_same_urns_and_the_model_object_at_its_key(runs):
    before, after = runs({}), runs({"endpoint_name": "iris-renamed"})
    assert set(bucket_resources(before)) == set(bucket_resources(after))
    assert before.one(OBJECT).name == after.one(OBJECT).name, "one object resource per key: no create-then-delete of the same key"
    assert after.one(BUCKET).inputs["tags"]["endpoint"] == "iris-renamed"


def test_destroy_keeps_the_bucket_and_its_hardening_by_default(runs):
    run = runs(CAPTURE)
    for resource in bucket_resources(run).values():
        assert resource.options["retainOnDelete"] is True, resource.name
    assert run.one(BUCKET).inputs["forceDestroy"] is False, "S3 refuses to delete a bucket with objects: a second lock"


def test_a_param_lets_destroy_delete_the_bucket(runs):
    run = runs({**CAPTURE, "delete_bucket_on_destroy": True})
    assert run.one(BUCKET).inputs["forceDestroy"] is True
    assert all("retainOnDelete" not in r.options for r in bucket_resources(run).values())


def test_stacks_created_before_keep_their_bucket_through_aliases(runs):
    """Before this version the bucket was `<endpoint>-artifacts`: each resource answers to that former name."""
    run = runs({"endpoint_name": "Iris-Prod"})
    aliases = {r.name: names(r) for r in bucket_resources(run).values()}
    assert aliases == {
        "sagemaker-bundle-artifacts": ["iris-prod-artifacts"],
        "sagemaker-bundle-artifacts-public-access": ["Iris-Prod-artifacts-public-access"],
        "sagemaker-bundle-artifacts-encryption": ["Iris-Prod-artifacts-encryption"],
        "sagemaker-bundle-artifacts-versioning": ["Iris-Prod-artifacts-versioning"],
        "sagemaker-bundle-artifacts-tls-only": ["Iris-Prod-artifacts-tls-only"],
    }
    assert names(run.one(OBJECT)) == ["Iris-Prod-model-artifact"]


def names(resource) -> list[str]:
    """The former logical names a resource answers to (pulumi_aws adds type-only aliases of its own)."""
    return [a["spec"]["name"] for a in resource.options["aliases"] if a["spec"].get("name")]


def test_the_guide_says_what_destroy_does_to_the_bucket(runs):
    kept = runs(CAPTURE).outputs
    assert f"It does **not** delete the bucket `{kept['bucket']}`" in kept["operator_guide"]
    deleted = runs({**CAPTURE, "delete_bucket_on_destroy": True}).outputs
    assert f"It also deletes the bucket `{deleted['bucket']}` with every object and version" in deleted["operator_guide"]
    assert "delete the bucket" not in runs({**CUSTOM}).outputs["operator_guide"], "no bucket, nothing to say"
