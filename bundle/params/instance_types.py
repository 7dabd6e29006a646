"""Which instance types the bundle accepts: AWS's own catalogue (botocore's service model), filtered to what the
scikit-learn serving image can run.

The catalogue is botocore's `ProductionVariantInstanceType` enum for an endpoint's variants and `TransformInstanceType`
for a batch transform job: a newer botocore brings the types AWS sells today, nothing here lists them. The filter follows from how
AWS names instance types ("Amazon EC2 instance type naming conventions": series, generation, then attributes; the
attribute `g` is AWS Graviton, an arm64 CPU) and from the image:

- the scikit-learn image is built for x86_64 CPUs only: aws/sagemaker-scikit-learn-container builds
  `docker/<version>/final/Dockerfile.cpu` on an x86_64 base, and the SageMaker Python SDK's
  `image_uri_config/sklearn.json` lists the processor `cpu` alone for every inference version; its
  `inference_graviton` scope holds version 1.0-1 only, which the bundle does not package (bundle/artifact/image.py);
- so GPU series (g, p), AWS Inferentia and Trainium (inf, trn), Habana Gaudi (dl) and Graviton are refused.
"""
from __future__ import annotations

import difflib
import functools
import re

# The series whose instances carry an accelerator the CPU image cannot use, with what they are.
ACCELERATED_SERIES = {"g": "a GPU", "p": "a GPU", "inf": "AWS Inferentia", "trn": "AWS Trainium", "dl": "Habana Gaudi accelerators"}
# AWS's naming convention: ml.<series><generation><attributes>[-<options>].<size>, e.g. ml.c6in.xlarge, ml.p6-b200.48xlarge.
NAME = re.compile(r"^ml\.(?P<series>[a-z]+?)(?P<generation>\d+)(?P<attributes>[a-z]*)(?:-[a-z0-9]+)?\.(?P<size>[a-z0-9]+)$")


# Where each kind of fleet's instance types are listed in botocore's SageMaker model.
SHAPES = {"endpoint": "ProductionVariantInstanceType", "transform": "TransformInstanceType"}
WHAT = {"endpoint": "a SageMaker endpoint", "transform": "a SageMaker batch transform job"}


@functools.lru_cache(maxsize=None)
def catalogue(kind: str = "endpoint") -> tuple[str, ...]:
    """Every instance type AWS accepts for an endpoint's production variant, or for a transform job."""
    from bundle.params.shapes import service_model

    return tuple(service_model("sagemaker").shape_for(SHAPES[kind]).enum)


def refusal(instance_type: str) -> str | None:
    """Why the scikit-learn image cannot run on `instance_type` (a name AWS knows), or None."""
    match = NAME.match(instance_type)
    if match is None:
        return None
    series, attributes = match["series"], match["attributes"]
    if series in ACCELERATED_SERIES:
        return (
            f"{instance_type} carries {ACCELERATED_SERIES[series]}: the scikit-learn serving image is built for x86_64 CPUs "
            "and cannot use it; choose a CPU type such as ml.m6i.large or ml.c7i.xlarge"
        )
    if "g" in attributes:
        return (
            f"{instance_type} is an AWS Graviton (arm64) type: the scikit-learn serving image versions the bundle packages are "
            "built for x86_64 only; choose an x86 type such as ml.m6i.large or ml.c7i.xlarge"
        )
    return None


@functools.lru_cache(maxsize=None)
def accepted(kind: str = "endpoint") -> tuple[str, ...]:
    """The catalogue's types the image runs on, in botocore's order."""
    return tuple(t for t in catalogue(kind) if refusal(t) is None)


def problem(instance_type, kind: str = "endpoint") -> str | None:
    """The message for an instance type the bundle cannot run the model on, or None."""
    if not isinstance(instance_type, str):
        return None  # the schema names the type
    if instance_type not in catalogue(kind):
        near = difflib.get_close_matches(instance_type, accepted(kind), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(near)}?)" if near else f"; e.g. {', '.join(accepted(kind)[:3])}"
        return f"{instance_type!r} is not an instance type AWS offers for {WHAT[kind]} (botocore's {SHAPES[kind]}){hint}"
    return refusal(instance_type)
