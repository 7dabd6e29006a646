"""Inputs AWS would refuse, refused at validation: the plan's implied API requests (bundle/params/aws_requests.py)
checked against botocore's service models (bundle/params/shapes.py), and the rules no service model carries.

Nothing is copied from the API reference by hand: a new botocore brings AWS's current limits. A few limits AWS
documents are in no service model; they are rules of their own here, each with its source: non-finite numbers (JSON
has none, but Python's parser accepts NaN), S3's 10 tags per object, S3's reserved bucket-name prefixes and suffixes,
the region (botocore's partition data), the region of KMS keys, SNS topics and a model package (they must be the
stack's), and the image versions the POC model can be packaged for.
"""
from __future__ import annotations

import math
from importlib import metadata
from typing import Any, Iterator

from bundle.names import arn_region
from bundle.params.aws_requests import SAGEMAKER_RUNTIME, implied_requests, tag_pairs
from bundle.params.shapes import Violation, botocore_session, check_request
from bundle.names import split_s3_uri

# Not in any service model. S3 user guide, "Categorizing your storage using tags": up to 10 tags per object.
S3_OBJECT_MAX_TAGS = 10
# Not in any service model. S3 user guide, "General purpose bucket naming rules": reserved prefixes and suffixes.
S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


# --- the rules no service model carries ---------------------------------------------------------------------


def non_finite_numbers(value: Any, path: str = "") -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path or "(root)"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from non_finite_numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from non_finite_numbers(v, f"{path}.{i}" if path else str(i))


def reserved_bucket_name(bucket: str) -> str | None:
    if bucket.startswith(S3_RESERVED_PREFIXES):
        return f"S3 reserves bucket names starting with {[p for p in S3_RESERVED_PREFIXES if bucket.startswith(p)][0]!r}"
    if bucket.endswith(S3_RESERVED_SUFFIXES):
        return f"S3 reserves bucket names ending with {[s for s in S3_RESERVED_SUFFIXES if bucket.endswith(s)][0]!r}"
    return None


def known_regions() -> set[str]:
    """Every region of every partition where botocore knows the SageMaker runtime."""
    session = botocore_session()
    return {r for partition in session.get_available_partitions() for r in session.get_available_regions(SAGEMAKER_RUNTIME, partition)}


def partition_of(region: str) -> str:
    return botocore_session().get_partition_for_region(region)


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def other_rules(d: dict) -> list[tuple[str, str]]:
    """(field, message) for the limits no service model carries, region aside."""
    problems = [(path, "must be a finite number (NaN and infinities are not JSON numbers and AWS refuses them)") for path in non_finite_numbers(d)]
    object_tags = len(tag_pairs(d))
    if d["model_source"] == "poc-sklearn" and object_tags > S3_OBJECT_MAX_TAGS:
        problems.append(
            (
                "tags",
                f"the model artifact's S3 object would get {object_tags} tags ({len(d['tags'])} given + the bundle's 'bundle' and "
                f"'endpoint'), S3 allows {S3_OBJECT_MAX_TAGS} per object: give at most {S3_OBJECT_MAX_TAGS - 2}",
            )
        )
    for field, uri in (("custom_model_s3_uri", d.get("custom_model_s3_uri")), ("data_capture.destination_s3_uri", (d.get("data_capture") or {}).get("destination_s3_uri"))):
        if uri:
            reason = reserved_bucket_name(split_s3_uri(uri)[0])
            if reason:
                problems.append((field, f"bucket {split_s3_uri(uri)[0]!r}: {reason}, so no such bucket can exist"))
    if d["model_source"] == "poc-sklearn":
        from bundle.artifact.image import IMAGES  # no heavy imports: the recorded versions only

        image = IMAGES.get(d["serving_image_version"])
        if image is not None:
            mismatched = [
                f"{lib} {have} is installed, the image has {want}"
                for lib, want in (("scikit-learn", image.scikit_learn), ("numpy", image.numpy))
                if (have := installed_version(lib)) != want
            ]
            if mismatched:
                problems.append(
                    (
                        "serving_image_version",
                        f"the POC model cannot be packaged for image {image.version} here ({'; '.join(mismatched)}): a model pickled "
                        "with other versions fails to load in the container; choose the image this environment matches, or a custom model",
                    )
                )
    return problems


def region_rules(d: dict, region: str, region_source: str = "aws:region") -> list[tuple[str, str]]:
    """The stack's region must be a region, and the KMS keys, SNS topics and a model package ARN must be in it."""
    if region not in known_regions():
        return [(region_source, f"{region!r} is not a region botocore knows for SageMaker (e.g. us-east-1, eu-west-1)")]
    problems = []
    capture = d.get("data_capture") or {}
    asynchronous = d.get("async_inference") or {}
    arns = [("kms_key_arn", d.get("kms_key_arn")), ("data_capture.kms_key_arn", capture.get("kms_key_arn")), ("alarms.topic_arn", (d.get("alarms") or {}).get("topic_arn"))]
    arns += [(f"async_inference.{f}", asynchronous.get(f)) for f in ("success_topic_arn", "error_topic_arn")]
    if d.get("model_source") == "model-package":  # a version, or a group given by ARN: SageMaker needs it in the stack's region
        package = d.get("model_package") or {}
        arns += [(f"model_package.{f}", package.get(f)) for f in ("arn", "group") if str(package.get(f) or "").startswith("arn:")]
    for field, arn in arns:
        if arn and arn_region(arn) != region:
            problems.append((field, f"is in region {arn_region(arn) or '(none)'} but the stack deploys to {region}: AWS needs it in the stack's region"))
    return problems


def violations(d: dict, region: str = "us-east-1") -> list[Violation]:
    partition = partition_of(region) if region in known_regions() else "aws"
    found: list[Violation] = []
    for request in implied_requests(d, region, partition):
        found += check_request(request)
    return found


def problems(d: dict, region: str | None = None, region_source: str = "aws:region") -> list[tuple[str, str]]:
    """Every limit AWS would enforce on these params, as (params field, message); with a region, the region's too."""
    found = other_rules(d)
    if region is not None:
        found += region_rules(d, region, region_source)
    if any(path in dict(found) for path in ("aws:region", "--region")):
        return found
    if not any(not math.isfinite(v) for v in _numbers(d)):
        found += _grouped(violations(d, region or "us-east-1"))
    return list(dict.fromkeys(found))


def _grouped(found: list[Violation]) -> list[tuple[str, str]]:
    """One message per field and request member, naming every operation that would refuse it."""
    groups: dict[tuple[str, str], list[Violation]] = {}
    for v in found:
        groups.setdefault((v.field, v.member), []).append(v)
    return [
        (field, f"AWS would refuse {', '.join(dict.fromkeys(v.operation for v in vs))}: {member} {vs[0].rule}")
        for (field, member), vs in groups.items()
    ]


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def check_stack_region(document: dict, region: str | None, region_source: str, source: str = "params") -> None:
    """Raise InvalidParams when the stack's region is no region, or a key or topic of the params is elsewhere."""
    from bundle.params.model import InvalidParams, Problem

    if region is None:
        return
    found = region_rules(document, region, region_source)
    if found:
        raise InvalidParams([Problem(field, message) for field, message in found], source)
