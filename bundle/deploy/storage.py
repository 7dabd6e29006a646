"""The bundle's bucket: private, encrypted, versioned, TLS-only, and kept through params changes, renames and
`pulumi destroy`, because it may hold captured data.

How, with Pulumi's resource options:
- Stable logical names (BUCKET_NAMES): the bucket's URN does not depend on the endpoint's name, so a rename
  is an update (new tags), never a delete and create. Each resource also answers to its former name
  `<endpoint>-artifacts...` (an alias), so a stack created before this version keeps its bucket.
- `retain_on_delete` (unless `delete_bucket_on_destroy`): when Pulumi would delete the bucket (`pulumi destroy`,
  or params that no longer need it: capture off or sent elsewhere, serverless, a custom model), it drops it
  from the stack and leaves it, its objects and its hardening (public-access block, encryption, versioning,
  TLS-only policy) in AWS. The engine reads the option from the state, so it holds after the resource has
  left the program too.
- `force_destroy` only with `delete_bucket_on_destroy`: otherwise S3 itself refuses to delete a bucket that
  holds objects, a second lock.
Nothing in the bucket's inputs forces a replacement (its name is Pulumi's auto-name from the stable
logical name; only tags and force_destroy change), which tests/deploy/test_retention.py checks across params changes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.names import logical_name

STABLE_PREFIX = "sagemaker-bundle"
BUCKET_NAMES = {
    part: f"{STABLE_PREFIX}-{part}"
    for part in ("artifacts", "artifacts-public-access", "artifacts-encryption", "artifacts-versioning", "artifacts-tls-only", "artifacts-lifecycle")
}
# Batch transform and async inference write their results with multipart uploads; an interrupted one leaves parts that
# are billed and invisible to listings until aborted.
ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS = 7


@dataclass(frozen=True)
class BucketSettings:
    endpoint_name: str  # only for the aliases to the per-endpoint names of earlier versions
    kms_key_arn: str  # "": SSE-S3
    delete_on_destroy: bool  # False: Pulumi never deletes the bucket


@dataclass(frozen=True)
class BundleBucket:
    bucket: aws.s3.Bucket
    hardening: list[pulumi.Resource]  # objects land only once these exist


def kept(settings: BucketSettings, parent: pulumi.Resource, part: str, lower: bool = False) -> pulumi.ResourceOptions:
    """Options of the bucket and of its hardening: kept on delete unless the params say otherwise, and aliased to
    the per-endpoint name they had before."""
    return pulumi.ResourceOptions(
        parent=parent,
        retain_on_delete=not settings.delete_on_destroy,
        aliases=[pulumi.Alias(name=logical_name(settings.endpoint_name, part, lower=lower))],
    )


def create_bucket(settings: BucketSettings, tags: dict, parent: pulumi.Resource) -> BundleBucket:
    bucket = aws.s3.Bucket(
        BUCKET_NAMES["artifacts"], force_destroy=settings.delete_on_destroy, tags=tags, opts=kept(settings, parent, "artifacts", lower=True)
    )
    block = aws.s3.BucketPublicAccessBlock(
        BUCKET_NAMES["artifacts-public-access"],
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=kept(settings, parent, "artifacts-public-access"),
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        BUCKET_NAMES["artifacts-encryption"],
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms" if settings.kms_key_arn else "AES256",
                    kms_master_key_id=settings.kms_key_arn or None,
                ),
                bucket_key_enabled=bool(settings.kms_key_arn),
            )
        ],
        opts=kept(settings, parent, "artifacts-encryption"),
    )
    versioning = aws.s3.BucketVersioning(
        BUCKET_NAMES["artifacts-versioning"],
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        opts=kept(settings, parent, "artifacts-versioning"),
    )
    policy = aws.s3.BucketPolicy(
        BUCKET_NAMES["artifacts-tls-only"],
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn), sort_keys=True)),
        # S3 refuses a bucket policy while the public-access block is still being applied.
        opts=pulumi.ResourceOptions.merge(kept(settings, parent, "artifacts-tls-only"), pulumi.ResourceOptions(depends_on=[block])),
    )
    abort_incomplete_uploads(bucket, settings, parent)
    return BundleBucket(bucket, [block, encryption, versioning, policy])


def abort_incomplete_uploads(bucket: aws.s3.Bucket, settings: BucketSettings, parent: pulumi.Resource) -> aws.s3.BucketLifecycleConfiguration:
    """The bucket's lifecycle: one rule, for the whole bucket, that aborts multipart uploads left incomplete. A resource
    of its own, so the bucket's inputs do not change (it is never replaced), and no object or version ever expires.
    It owns the bucket's lifecycle configuration: rules added by hand would be overwritten by the next `pulumi up`."""
    rule = aws.s3.BucketLifecycleConfigurationRuleArgs
    return aws.s3.BucketLifecycleConfiguration(
        BUCKET_NAMES["artifacts-lifecycle"],
        bucket=bucket.id,
        rules=[
            rule(
                id="abort-incomplete-multipart-uploads",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_INCOMPLETE_UPLOADS_AFTER_DAYS
                ),
            )
        ],
        # Kept with the bucket, like its hardening; new in this version, so it has no former name to answer to.
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=not settings.delete_on_destroy),
    )


def s3_location(uri: str, bucket_name: pulumi.Output[str] | None, prefix: str) -> pulumi.Output[str]:
    """A params' s3:// URI (no trailing slash), else `prefix` in the bundle's bucket."""
    if uri:
        return pulumi.Output.from_input(uri.rstrip("/"))
    assert bucket_name is not None, f"{prefix} in the bundle's bucket needs the bucket"
    return pulumi.Output.concat("s3://", bucket_name, f"/{prefix}")


def tls_only_policy(bucket_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
