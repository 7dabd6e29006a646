"""Data capture: where SageMaker writes sampled requests and responses, and the one prefix the role may write.

SageMaker writes under <DestinationS3Uri>/<endpoint name>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, so the
role's s3:PutObject is scoped to <DestinationS3Uri>/<endpoint name>/, not to the whole destination.
"""
from __future__ import annotations

import pulumi
import pulumi_aws as aws

from bundle.params import Params

BUNDLE_BUCKET_PREFIX = "data-capture"
# Bodies of these types are stored as text, not base64, so that they can be read back as they were sent.
CSV_TYPES = ["text/csv"]
JSON_TYPES = ["application/json"]


def capture_destination(p: Params, bucket_name: pulumi.Output[str] | None) -> pulumi.Output[str] | None:
    """SageMaker's DestinationS3Uri, or None when nothing is captured."""
    if not p.data_capture.enabled:
        return None
    if p.data_capture.destination_s3_uri:
        return pulumi.Output.from_input(p.data_capture.destination_s3_uri.rstrip("/"))
    assert bucket_name is not None, "capturing into the bundle's bucket needs the bucket"
    return pulumi.Output.concat("s3://", bucket_name, f"/{BUNDLE_BUCKET_PREFIX}")


def landing_prefix(destination: str, endpoint_name: str) -> str:
    """Where captured files of this endpoint land: the destination's <endpoint name>/ folder."""
    return f"{destination}/{endpoint_name}/"


def capture_key(p: Params) -> str:
    """The key captured data is encrypted with: the one given, else the bundle's key in the bundle's bucket."""
    if not p.data_capture.enabled:
        return ""
    return p.data_capture.kms_key_arn or (p.kms_key_arn if p.captures_into_bundle_bucket else "")


def data_capture_config(p: Params, destination: pulumi.Output[str]) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs:
    option = aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs
    return aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
        enable_capture=True,
        initial_sampling_percentage=p.data_capture.sampling_percentage,
        destination_s3_uri=destination,
        kms_key_id=capture_key(p) or None,
        capture_options=[option(capture_mode="Input"), option(capture_mode="Output")],
        capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
            csv_content_types=CSV_TYPES, json_content_types=JSON_TYPES
        ),
    )
