"""Data capture: where SageMaker writes sampled requests and responses, and the one prefix the role may write.

SageMaker writes under <DestinationS3Uri>/<endpoint name>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, so the
role's s3:PutObject is scoped to <DestinationS3Uri>/<endpoint name>/, not to the whole destination.
"""
from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from bundle.params.model import DataCapture

BUNDLE_BUCKET_PREFIX = "data-capture"
# Bodies of these types are stored as text, not base64, so that they can be read back as they were sent.
CSV_TYPES = ["text/csv"]
JSON_TYPES = ["application/json"]


@dataclass(frozen=True)
class CaptureSettings:
    endpoint_name: str
    capture: DataCapture
    bundle_kms_key_arn: str  # the bundle's bucket's key: captured data in that bucket is encrypted with it

    @property
    def into_bundle_bucket(self) -> bool:
        return self.capture.enabled and not self.capture.destination_s3_uri

    @property
    def key(self) -> str:
        """The key captured data is encrypted with: the one given, else the bundle's key in the bundle's bucket."""
        if not self.capture.enabled:
            return ""
        return self.capture.kms_key_arn or (self.bundle_kms_key_arn if self.into_bundle_bucket else "")


def capture_destination(settings: CaptureSettings, bucket_name: pulumi.Output[str] | None) -> pulumi.Output[str] | None:
    """SageMaker's DestinationS3Uri, or None when nothing is captured."""
    if not settings.capture.enabled:
        return None
    if settings.capture.destination_s3_uri:
        return pulumi.Output.from_input(settings.capture.destination_s3_uri.rstrip("/"))
    assert bucket_name is not None, "capturing into the bundle's bucket needs the bucket"
    return pulumi.Output.concat("s3://", bucket_name, f"/{BUNDLE_BUCKET_PREFIX}")


def landing_prefix(destination: str, endpoint_name: str) -> str:
    """Where captured files of this endpoint land: the destination's <endpoint name>/ folder."""
    return f"{destination}/{endpoint_name}/"


def data_capture_config(settings: CaptureSettings, destination: pulumi.Output[str]) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs:
    option = aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureOptionArgs
    return aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs(
        enable_capture=True,
        initial_sampling_percentage=settings.capture.sampling_percentage,
        destination_s3_uri=destination,
        kms_key_id=settings.key or None,
        capture_options=[option(capture_mode="Input"), option(capture_mode="Output")],
        capture_content_type_header=aws.sagemaker.EndpointConfigurationDataCaptureConfigCaptureContentTypeHeaderArgs(
            csv_content_types=CSV_TYPES, json_content_types=JSON_TYPES
        ),
    )


@dataclass(frozen=True)
class Capture:
    """Where the endpoint's captured requests go: the settings, SageMaker's destination, and the endpoint's folder under
    it (the role's only write there, and a stack output). Nothing when capture is off."""

    settings: CaptureSettings
    destination: pulumi.Output[str] | None
    prefix: pulumi.Output[str] | None

    def config(self) -> aws.sagemaker.EndpointConfigurationDataCaptureConfigArgs | None:
        return data_capture_config(self.settings, self.destination) if self.destination else None


def plan_capture(endpoint_name: str, capture: DataCapture, kms_key_arn: str, bucket_name: pulumi.Output[str] | None) -> Capture:
    settings = CaptureSettings(endpoint_name, capture, kms_key_arn)
    destination = capture_destination(settings, bucket_name)
    prefix = destination.apply(lambda d: landing_prefix(d, endpoint_name)) if destination else None
    return Capture(settings, destination, prefix)
