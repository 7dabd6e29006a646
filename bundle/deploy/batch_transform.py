"""Batch transform's access: a transform job runs as the Model's execution role, so with `batch_transform.enabled` the
role may read the data sets under the input prefix and write `<input>.out` files (multipart) under the output prefix,
nothing else. The job itself is an operation (`python -m bundle batch`, bundle/ops/batch.py), not a resource."""
from __future__ import annotations

from dataclasses import dataclass

import pulumi

from bundle.names import BATCH_PREFIXES, split_s3_uri
from bundle.deploy.storage import s3_location
from bundle.params.model import BatchTransform


@dataclass(frozen=True)
class BatchLocations:
    input: pulumi.Output[str]  # s3://bucket/prefix, no trailing slash
    output: pulumi.Output[str]


def locations(settings: BatchTransform, bucket_name: pulumi.Output[str] | None) -> BatchLocations:
    def where(uri: str, part: str) -> pulumi.Output[str]:
        return s3_location(uri, bucket_name, BATCH_PREFIXES[part])

    return BatchLocations(where(settings.input_s3_uri, "input"), where(settings.output_s3_uri, "output"))


def role_statements(grants: dict, partition: str, kms_key_arn: str) -> list[dict]:
    """`grants`: {"input", "output": s3://bucket/prefix} (resolved)."""
    in_bucket, in_prefix = split_s3_uri(grants["input"])
    out_bucket, out_prefix = split_s3_uri(grants["output"])
    statements = [
        {"Sid": "ReadBatchInput", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"arn:{partition}:s3:::{in_bucket}/{in_prefix}/*"]},
        # The job lists the input prefix to find its files.
        {
            "Sid": "ListBatchInput",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:{partition}:s3:::{in_bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{in_prefix}/*", in_prefix]}},
        },
        {
            "Sid": "WriteBatchOutput",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": [f"arn:{partition}:s3:::{out_bucket}/{out_prefix}/*"],
        },
    ]
    if kms_key_arn:
        statements.append({"Sid": "EncryptBatchOutput", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [kms_key_arn]})
    return statements
