"""The SageMaker Model: where its data comes from (the POC artifact uploaded under a content-addressed key, or the
user's own archive), the prebuilt scikit-learn image, and the environment that points the image at the shipped code."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from bundle.deploy.storage import STABLE_PREFIX, BundleBucket
from bundle.names import MODEL_ENVIRONMENT, logical_name, split_s3_uri
from bundle.params.model import Vpc

# A stable name: under a per-endpoint name, a rename would create the new object, then delete the old one at the
# same key (hiding the new one behind a delete marker).
MODEL_OBJECT_NAME = f"{STABLE_PREFIX}-model-artifact"


@dataclass(frozen=True)
class ModelArtifact:
    """The packaged POC model: a local file and its sha256 (its identity)."""

    path: Path
    sha256: str

    @property
    def key(self) -> str:
        return f"models/{self.sha256}/model.tar.gz"


@dataclass(frozen=True)
class ModelData:
    url: pulumi.Output[str]  # ModelDataUrl
    readable_arn: pulumi.Output[str]  # the one S3 resource the execution role may read


def uploaded_model_data(
    bucket: BundleBucket, artifact: ModelArtifact, endpoint_name: str, partition: pulumi.Output[str], tags: dict, parent: pulumi.Resource,
    recipe: str | None = None,  # another recipe than the default (A/B, shadow): its own object
) -> ModelData:
    """The POC artifact, uploaded into the hardened bucket under its content-addressed key."""
    obj = aws.s3.BucketObjectv2(
        f"{MODEL_OBJECT_NAME}-{recipe}" if recipe else MODEL_OBJECT_NAME,
        bucket=bucket.bucket.id,
        key=artifact.key,
        source=pulumi.FileAsset(str(artifact.path)),
        content_type="application/gzip",
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=bucket.hardening, aliases=[] if recipe else [pulumi.Alias(name=logical_name(endpoint_name, "model-artifact"))]
        ),
    )
    return ModelData(
        url=pulumi.Output.concat("s3://", obj.bucket, "/", obj.key),
        readable_arn=pulumi.Output.concat("arn:", partition, ":s3:::", bucket.bucket.bucket, f"/models/{artifact.sha256}/*"),
    )


def custom_model_data(uri: str, partition: pulumi.Output[str]) -> ModelData:
    """The user's own model.tar.gz: nothing is uploaded, and the role may read that one object."""
    custom_bucket, custom_key = split_s3_uri(uri)
    return ModelData(url=pulumi.Output.from_input(uri), readable_arn=pulumi.Output.concat("arn:", partition, f":s3:::{custom_bucket}/{custom_key}"))


@dataclass(frozen=True)
class ModelSettings:
    endpoint_name: str
    network_isolation: bool
    vpc: Vpc
    extra_environment: tuple[tuple[str, str], ...] = ()  # async: the model server's timeout


def create_model(
    settings: ModelSettings,
    role_arn: pulumi.Output[str],
    image_uri: pulumi.Output[str],
    data: ModelData,
    tags: dict,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    suffix: str = "model",  # another variant's model: bundle/deploy/variants.py model_suffix
) -> aws.sagemaker.Model:
    vpc = settings.vpc
    return aws.sagemaker.Model(
        logical_name(settings.endpoint_name, suffix),
        execution_role_arn=role_arn,
        primary_container=aws.sagemaker.ModelPrimaryContainerArgs(image=image_uri, model_data_url=data.url, environment={**MODEL_ENVIRONMENT, **dict(settings.extra_environment)}),
        enable_network_isolation=settings.network_isolation,
        vpc_config=aws.sagemaker.ModelVpcConfigArgs(subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)) if vpc.enabled else None,
        tags=tags,
        # SageMaker checks the role's access when it creates the model: the policy must exist first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
