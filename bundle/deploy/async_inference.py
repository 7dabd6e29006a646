"""Asynchronous inference (deployment_mode async): where requests are read and answers written, who is notified, and
the role's grants for exactly those places.

SageMaker reads each request from the S3 object InvokeEndpointAsync names (InputLocation) and writes the answer
under S3OutputPath or the error under S3FailurePath, as the endpoint's execution role. So the role may read only
under the input prefix, write (and abort its multipart uploads) only under the two result prefixes, list only those
prefixes, publish only to the notification topics and, with the bundle's key, encrypt the results with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.names import ASYNC_PREFIXES, async_topic_name, logical_name, split_s3_uri
from bundle.deploy.storage import s3_location
from bundle.params.model import AsyncInference


@dataclass(frozen=True)
class AsyncSettings:
    endpoint_name: str
    settings: AsyncInference
    kms_key_arn: str  # the bundle's key: the results are encrypted with it ("" for the bucket's default)


@dataclass(frozen=True)
class AsyncLocations:
    """s3://bucket/prefix of each, without a trailing slash."""

    input: pulumi.Output[str]
    output: pulumi.Output[str]
    failure: pulumi.Output[str]


@dataclass(frozen=True)
class AsyncTopics:
    success: pulumi.Output[str] | None
    error: pulumi.Output[str] | None

    def arns(self) -> list[pulumi.Output[str]]:
        return [t for t in (self.success, self.error) if t is not None]


def locations(a: AsyncSettings, bucket_name: pulumi.Output[str] | None) -> AsyncLocations:
    """The params' URIs, else prefixes of the bundle's bucket."""

    def where(uri: str, part: str) -> pulumi.Output[str]:
        return s3_location(uri, bucket_name, ASYNC_PREFIXES[part])

    s = a.settings
    return AsyncLocations(where(s.input_s3_uri, "input"), where(s.output_s3_uri, "output"), where(s.failure_s3_uri, "failure"))


def topics(a: AsyncSettings, tags: dict, parent: pulumi.Resource) -> AsyncTopics:
    """An email creates one topic for both outcomes; else the given ARNs, each optional."""
    s = a.settings
    if s.notification_email:
        child = pulumi.ResourceOptions(parent=parent)
        topic = aws.sns.Topic(logical_name(a.endpoint_name, "async-results"), name=async_topic_name(a.endpoint_name), tags=tags, opts=child)
        aws.sns.TopicSubscription(
            logical_name(a.endpoint_name, "async-results-email"), topic=topic.arn, protocol="email", endpoint=s.notification_email, opts=child
        )
        return AsyncTopics(topic.arn, topic.arn)
    as_output = pulumi.Output.from_input
    return AsyncTopics(as_output(s.success_topic_arn) if s.success_topic_arn else None, as_output(s.error_topic_arn) if s.error_topic_arn else None)


def async_inference_config(a: AsyncSettings, where: AsyncLocations, notify: AsyncTopics) -> aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgs:
    config = aws.sagemaker
    notification = (
        config.EndpointConfigurationAsyncInferenceConfigOutputConfigNotificationConfigArgs(success_topic=notify.success, error_topic=notify.error)
        if notify.arns()
        else None
    )
    return config.EndpointConfigurationAsyncInferenceConfigArgs(
        output_config=config.EndpointConfigurationAsyncInferenceConfigOutputConfigArgs(
            s3_output_path=where.output,
            s3_failure_path=where.failure,
            kms_key_id=a.kms_key_arn or None,
            notification_config=notification,
        ),
        client_config=config.EndpointConfigurationAsyncInferenceConfigClientConfigArgs(
            max_concurrent_invocations_per_instance=a.settings.max_concurrent_invocations_per_instance
        ),
    )


def model_environment(a: AsyncSettings) -> dict[str, str]:
    """What the Model's environment gains: the image's gunicorn and nginx wait this long for one request."""
    return {"SAGEMAKER_MODEL_SERVER_TIMEOUT": str(a.settings.model_server_timeout_seconds)}


def role_statements(grants: dict, partition: str, kms_key_arn: str) -> list[dict]:
    """`grants`: {"input", "output", "failure": s3://bucket/prefix, "topics": [arn, ...]} (resolved)."""

    def objects(uri: str) -> str:
        bucket, prefix = split_s3_uri(uri)
        return f"arn:{partition}:s3:::{bucket}/{prefix}/*"

    statements = [
        {"Sid": "ReadAsyncRequests", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [objects(grants["input"])]},
        {
            "Sid": "WriteAsyncResults",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": sorted({objects(grants["output"]), objects(grants["failure"])}),
        },
    ]
    listed: dict[str, set[str]] = {}
    for key in ("input", "output", "failure"):
        bucket, prefix = split_s3_uri(grants[key])
        listed.setdefault(bucket, set()).add(f"{prefix}/*")
    for index, (bucket, prefixes) in enumerate(sorted(listed.items())):
        statements.append(
            {
                "Sid": f"ListAsyncPrefixes{index}" if len(listed) > 1 else "ListAsyncPrefixes",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:{partition}:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": sorted(prefixes)}},
            }
        )
    if grants["topics"]:
        statements.append({"Sid": "PublishAsyncNotifications", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": sorted(set(grants["topics"]))})
    if kms_key_arn:
        # Results are encrypted with the bundle's key (requests are read with UseBundleKey's kms:Decrypt).
        statements.append({"Sid": "EncryptAsyncResults", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [kms_key_arn]})
    return statements
