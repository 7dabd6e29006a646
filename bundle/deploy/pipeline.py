"""The inference pipeline (preprocessing.enabled): a preprocessing container before the model's, as a SageMaker
PipelineModel builds it: one Model whose `containers` run in series (InferenceExecutionConfig Mode Serial: each
container's answer is the next one's request), both on the scikit-learn image, each with its own /opt/ml/model.

The preprocessing container's code and settings (bundle/artifact/preprocessing.py) are uploaded into the hardened bucket
under their content-addressed key (`preprocessing/<sha256>/preprocessing.tar.gz`), like the POC model; the execution
role may read that object too. The model's container is the one a single-container Model has, unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.deploy.storage import STABLE_PREFIX, BundleBucket
from bundle.names import PIPELINE_STAGES, PREPROCESSING_ENVIRONMENT

SERIAL = "Serial"
# A stable name, as the model artifact's: a rename of the endpoint keeps the object.
CODE_OBJECT_NAME = f"{STABLE_PREFIX}-preprocessing-code"


@dataclass(frozen=True)
class PreprocessingCode:
    """The packaged preprocessing stage: a local file, its sha256 and its key (bundle/artifact/preprocessing.py)."""

    path: str
    sha256: str
    key: str
    unit: str


@dataclass(frozen=True)
class Pipeline:
    code: PreprocessingCode
    url: pulumi.Output[str]  # the preprocessing container's ModelDataUrl
    readable_arn: pulumi.Output[str]  # what the execution role may read of it


def upload(bucket: BundleBucket | None, code: PreprocessingCode | None, partition: pulumi.Output[str], tags: dict, parent: pulumi.Resource) -> Pipeline | None:
    """The preprocessing code in the bundle's bucket; None (one container) without preprocessing.enabled."""
    if code is None:
        return None
    obj = aws.s3.BucketObjectv2(
        CODE_OBJECT_NAME,
        bucket=bucket.bucket.id,
        key=code.key,
        source=pulumi.FileAsset(code.path),
        content_type="application/gzip",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=bucket.hardening),
    )
    return Pipeline(
        code,
        url=pulumi.Output.concat("s3://", obj.bucket, "/", obj.key),
        readable_arn=pulumi.Output.concat("arn:", partition, ":s3:::", bucket.bucket.bucket, "/", code.key),
    )


def readable(models: pulumi.Output, pipeline: Pipeline | None) -> pulumi.Output:
    """What the role may read: the models' data, and with a pipeline the preprocessing code as well."""
    if pipeline is None:
        return models
    return pulumi.Output.all(models, pipeline.readable_arn).apply(lambda v: [*(v[0] if isinstance(v[0], list) else [v[0]]), v[1]])


def containers(pipeline: Pipeline | None, image_uri: pulumi.Output[str], model: aws.sagemaker.ModelPrimaryContainerArgs, extra: dict) -> dict:
    """The Model's container arguments: the model's as its primary container, or with a pipeline the preprocessing
    container, then the model's (the same container), run in series."""
    if pipeline is None:
        return dict(primary_container=model)
    preprocessing, served = PIPELINE_STAGES
    return dict(
        containers=[
            aws.sagemaker.ModelContainerArgs(
                container_hostname=preprocessing, image=image_uri, model_data_url=pipeline.url, environment={**PREPROCESSING_ENVIRONMENT, **extra}
            ),
            aws.sagemaker.ModelContainerArgs(container_hostname=served, image=model.image, model_data_url=model.model_data_url, environment=model.environment),
        ],
        inference_execution_config=aws.sagemaker.ModelInferenceExecutionConfigArgs(mode=SERIAL),
    )


def output(pipeline: Pipeline) -> dict:
    """The `preprocessing` stack output: the stages in order, and where the preprocessing code is."""
    return {
        "enabled": True,
        "mode": SERIAL,
        "containers": list(PIPELINE_STAGES),
        "code_url": pipeline.url,
        "code_sha256": pipeline.code.sha256,
        "unit": pipeline.code.unit,
    }
