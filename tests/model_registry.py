"""A SageMaker Model Registry in moto, in this process: `model_source: model-package` stacks are planned against it.

The versions are registered as `python -m bundle register` registers them (bundle/ops/registry.py), with the image the
stack's own plan names, and approved or rejected with UpdateModelPackage, as a reviewer does.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from unittest import mock

import boto3
from moto import mock_aws

from bundle.artifact.build import recipe_artifact
from bundle.ops import registry

GROUP = "iris-classifier"
BUCKET = "team-models"
PREFIX = f"s3://{BUCKET}/registry"
FAKE = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@functools.lru_cache(maxsize=None)
def plan_image(region: str = "us-east-1") -> str:
    """The serving image the stack's plan names in `region` (the mock runtime's ECR registry)."""
    from bundle.local.plan import evaluate
    from bundle.params.rules import validate

    return evaluate(validate({}), region=region).outputs["image_uri"]


class Registry:
    def __init__(self, region: str):
        self.region = region
        self.sagemaker = boto3.client("sagemaker", region_name=region)
        self.s3 = boto3.client("s3", region_name=region)

    def register(self, recipe: str = "random-forest", approve: bool = False, group: str = GROUP, image: str | None = None) -> dict:
        artifact = recipe_artifact(recipe)
        return registry.register(self.sagemaker, self.s3, artifact, group, image or plan_image(self.region), PREFIX, self.region, approve=approve)

    def set_status(self, arn: str, status: str) -> None:
        self.sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)


@contextmanager
def model_registry(region: str = "us-east-1"):
    """moto in this process (no AWS_ENDPOINT_URL: boto3 is patched), with the team's model bucket."""
    plan_image(region)  # planned before moto patches anything
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    with mock.patch.dict(os.environ, {**environment, **FAKE, "AWS_DEFAULT_REGION": region}, clear=True), mock_aws():
        boto3.client("s3", region_name=region).create_bucket(Bucket=BUCKET)
        yield Registry(region)
