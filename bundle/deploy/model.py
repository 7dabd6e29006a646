"""The SageMaker Model: where its data comes from (the POC artifact uploaded under a content-addressed key, the
user's own archive, or a Model Registry version), the prebuilt scikit-learn image, and the environment that points the
image at the shipped code.

A Model Registry version (model_source model-package) is named by ModelPackageName: SageMaker takes the image and the
archive from the version, so the container gives neither Image nor ModelDataUrl (AWS refuses both together); it keeps
the bundle's environment, which points the image at the handlers inside the archive.

A multi-model endpoint (Mode MultiModel) serves every archive under one S3 prefix of the bundle's bucket,
`multi-model/models/`, by the name a request gives as TargetModel. The stack puts there, each under a
content-addressed name (a changed model is a new name, never an overwrite, which an instance's cache would hide):
the recipes' multi-model archives (`<recipe>-<sha256[:12]>.tar.gz`), and copies of the user's archives
(`<key's stem>-<ETag[:12]>.tar.gz`). The handlers come from `multi-model/code/sourcedir-<sha256[:12]>.tar.gz`
(SAGEMAKER_SUBMIT_DIRECTORY), which the image downloads when it starts; the role may read the prefix and that object.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from bundle.deploy import pipeline
from bundle.deploy.storage import STABLE_PREFIX, BundleBucket
from bundle.names import MODEL_ENVIRONMENT, logical_name, split_s3_uri
from bundle.ops.registry import ResolvedPackage
from bundle.params.model import Vpc

MULTI_MODEL_PREFIX = "multi-model/models/"
MULTI_MODEL_CODE_PREFIX = "multi-model/code/"

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
    url: pulumi.Output[str]  # ModelDataUrl (a multi-model endpoint's: the prefix)
    readable_arn: pulumi.Output  # the S3 resource(s) the execution role may read: an ARN, or a list of them
    hosted: list[dict] = field(default_factory=list)  # a multi-model endpoint's models: target_model, source, sha256
    code_url: pulumi.Output[str] | None = None  # a multi-model endpoint's SAGEMAKER_SUBMIT_DIRECTORY
    package_arn: str | None = None  # a Model Registry version's ARN: the Model's ModelPackageName
    describable_arn: str | None = None  # what the execution role may describe of the registry (ResolvedPackage)


@dataclass(frozen=True)
class HostedArchive:
    """A recipe's multi-model archive, packaged here: a local file, its sha256 and its name under the prefix."""

    recipe: str
    path: Path
    sha256: str
    target_model: str


@dataclass(frozen=True)
class MultiModelPackage:
    """What a multi-model endpoint's stack uploads: the recipes' archives, the user's archives to copy, the handlers."""

    archives: list[HostedArchive]
    copies: tuple[str, ...]  # the user's s3://bucket/key.tar.gz URIs
    sourcedir: Path
    sourcedir_sha256: str
    cache: str  # ModelCacheSetting

    @property
    def code_key(self) -> str:
        return f"{MULTI_MODEL_CODE_PREFIX}sourcedir-{self.sourcedir_sha256[:12]}.tar.gz"


def copied_archive_name(source_key: str, etag: str) -> str:
    """The content-addressed name of a copy of the user's archive: its key's stem and its ETag (quotes and '-' out)."""
    stem = source_key.rsplit("/", 1)[-1].removesuffix(".tar.gz")
    return f"{stem}-{re.sub(r'[^0-9a-fA-F]', '', etag)[:12].lower()}.tar.gz"


def _object_name(kind: str, identity: str) -> str:
    """Stable logical names per hosted model (not per endpoint): a rename keeps the objects."""
    slug = re.sub(r"[^a-z0-9]+", "-", identity.lower()).strip("-")[:40]
    return f"{STABLE_PREFIX}-mme-{kind}-{slug}"


def multi_model_data(
    bucket: BundleBucket, package: MultiModelPackage, partition: pulumi.Output[str], tags: dict, parent: pulumi.Resource
) -> ModelData:
    """Every model under the prefix, the handlers next to it, and what the role may read: the prefix and that object."""
    child = pulumi.ResourceOptions(parent=parent, depends_on=bucket.hardening)
    hosted: list[dict] = []
    for archive in package.archives:
        obj = aws.s3.BucketObjectv2(
            _object_name("model", archive.recipe),
            bucket=bucket.bucket.id,
            key=MULTI_MODEL_PREFIX + archive.target_model,
            source=pulumi.FileAsset(str(archive.path)),
            content_type="application/gzip",
            tags=tags,
            opts=child,
        )
        hosted.append({"target_model": obj.key.apply(lambda k: k.removeprefix(MULTI_MODEL_PREFIX)), "source": archive.recipe, "sha256": archive.sha256})
    for uri in package.copies:
        source_bucket, source_key = split_s3_uri(uri)
        etag = aws.s3.get_object_output(bucket=source_bucket, key=source_key, opts=pulumi.InvokeOptions(parent=parent)).etag
        name = etag.apply(lambda e, k=source_key: copied_archive_name(k, e))
        copy = aws.s3.ObjectCopy(
            _object_name("copy", uri.removeprefix("s3://")),
            bucket=bucket.bucket.id,
            key=name.apply(lambda n: MULTI_MODEL_PREFIX + n),
            source=f"{source_bucket}/{source_key}",
            tagging_directive="REPLACE",
            tags=tags,
            opts=child,
        )
        hosted.append({"target_model": copy.key.apply(lambda k: k.removeprefix(MULTI_MODEL_PREFIX)), "source": uri, "sha256": None})
    code = aws.s3.BucketObjectv2(
        _object_name("code", "sourcedir"),
        bucket=bucket.bucket.id,
        key=package.code_key,
        source=pulumi.FileAsset(str(package.sourcedir)),
        content_type="application/gzip",
        tags=tags,
        opts=child,
    )
    bucket_name = bucket.bucket.bucket
    return ModelData(
        url=pulumi.Output.concat("s3://", bucket_name, "/", MULTI_MODEL_PREFIX),
        readable_arn=pulumi.Output.all(partition, bucket_name, code.key).apply(
            lambda v: [f"arn:{v[0]}:s3:::{v[1]}/{MULTI_MODEL_PREFIX}*", f"arn:{v[0]}:s3:::{v[1]}/{v[2]}"]
        ),
        hosted=hosted,
        code_url=pulumi.Output.concat("s3://", code.bucket, "/", code.key),
    )


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


def package_model_data(package: ResolvedPackage, partition: pulumi.Output[str]) -> ModelData:
    """A Model Registry version, as bundle/ops/registry.py resolved it: nothing is uploaded; the role may describe the
    version (a group reference: any version of the group) and read its archive (ResolvedPackage.readable_key)."""
    bucket, key = package.readable_key
    return ModelData(
        url=pulumi.Output.from_input(package.model_data_url),
        readable_arn=pulumi.Output.concat("arn:", partition, f":s3:::{bucket}/{key}"),
        package_arn=package.arn,
        describable_arn=package.describable_arn,
    )


@dataclass(frozen=True)
class ModelSettings:
    endpoint_name: str
    network_isolation: bool
    vpc: Vpc
    extra_environment: tuple[tuple[str, str], ...] = ()  # async: the model server's timeout
    multi_model_cache: str | None = None  # None: a single model; else the multi-model endpoint's ModelCacheSetting
    pipeline: pipeline.Pipeline | None = None  # a preprocessing container before the model's (preprocessing.enabled)


def multi_model_environment(code_url: pulumi.Output[str], region: pulumi.Output[str]) -> dict:
    """The image's multi-model mode: the handlers from the sourcedir tarball in S3 (downloaded with the role, in the
    region the image is told), and SAGEMAKER_MULTI_MODEL, which picks its server (SageMaker sets it too)."""
    return {
        "SAGEMAKER_PROGRAM": MODEL_ENVIRONMENT["SAGEMAKER_PROGRAM"],
        "SAGEMAKER_SUBMIT_DIRECTORY": code_url,
        "SAGEMAKER_REGION": region,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": MODEL_ENVIRONMENT["SAGEMAKER_CONTAINER_LOG_LEVEL"],
        "SAGEMAKER_MULTI_MODEL": "true",
    }


def create_model(
    settings: ModelSettings,
    role_arn: pulumi.Output[str],
    image_uri: pulumi.Output[str],
    data: ModelData,
    tags: dict,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource],
    region: pulumi.Output[str] | None = None,  # a multi-model endpoint's: where the image downloads its handlers from
    suffix: str = "model",  # another model than the primary's: bundle/deploy/fleet.py model_suffix
) -> aws.sagemaker.Model:
    vpc = settings.vpc
    if settings.multi_model_cache is not None:
        container = aws.sagemaker.ModelPrimaryContainerArgs(
            image=image_uri,
            mode="MultiModel",
            model_data_url=data.url,
            multi_model_config=aws.sagemaker.ModelPrimaryContainerMultiModelConfigArgs(model_cache_setting=settings.multi_model_cache),
            environment=multi_model_environment(data.code_url, region),
        )
    elif data.package_arn is not None:
        container = aws.sagemaker.ModelPrimaryContainerArgs(
            model_package_name=data.package_arn, environment={**MODEL_ENVIRONMENT, **dict(settings.extra_environment)}
        )
    else:
        container = aws.sagemaker.ModelPrimaryContainerArgs(
            image=image_uri, model_data_url=data.url, environment={**MODEL_ENVIRONMENT, **dict(settings.extra_environment)}
        )
    served = pipeline.containers(settings.pipeline, image_uri, container, dict(settings.extra_environment))
    return aws.sagemaker.Model(
        logical_name(settings.endpoint_name, suffix),
        execution_role_arn=role_arn,
        **served,
        enable_network_isolation=settings.network_isolation,
        vpc_config=aws.sagemaker.ModelVpcConfigArgs(subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)) if vpc.enabled else None,
        tags=tags,
        # SageMaker checks the role's access when it creates the model: the policy must exist first.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
