"""What the AWS prebuilt scikit-learn serving images contain.

No maintained library publishes these versions (the image URIs come from
`aws.sagemaker.get_prebuilt_ecr_image`; this is only what runs *inside* the image), so they are
recorded here from aws/sagemaker-scikit-learn-container's Dockerfiles (see shared FACTS.md).
A model must be pickled with the image's exact scikit-learn and numpy to load there.
"""
from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "sagemaker-scikit-learn"
DEFAULT_VERSION = "1.4-2"


@dataclass(frozen=True)
class ServingImage:
    version: str  # the image's framework version, e.g. "1.4-2"
    python: str
    scikit_learn: str
    numpy: str

    @property
    def tag(self) -> str:
        return f"{self.version}-cpu-py3"


IMAGES: dict[str, ServingImage] = {
    "1.4-2": ServingImage("1.4-2", python="3.10", scikit_learn="1.4.2", numpy="2.1.0"),
    "1.2-1": ServingImage("1.2-1", python="3.9", scikit_learn="1.2.1", numpy="1.24.1"),
}


def serving_image(version: str = DEFAULT_VERSION) -> ServingImage:
    return IMAGES[version]
