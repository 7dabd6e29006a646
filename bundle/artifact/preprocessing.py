"""preprocessing.tar.gz: the code and settings of the inference pipeline's first container, as its /opt/ml/model.

    code/preprocessing.py   the handlers (model/preprocessing.py; SAGEMAKER_PROGRAM=preprocessing.py)
    code/inference.py       the model's handlers, whose decoding and checks the preprocessing stage reuses
    preprocessing.json      the model's feature names in its column order (as the POC model's manifest has them, from
                            model/train.py) and the unit of measurements sent without one

Byte-identical from the same sources and settings (bundle/artifact/tarball.py), content-addressed by its sha256, and
cached under .cache/preprocessing/<sha256>.tar.gz: a change of the code or the unit is a new key, hence a new Model.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bundle.artifact.baseline import training_data
from bundle.artifact.recipes import INFERENCE_SOURCE
from bundle.artifact.tarball import deterministic_tarball
from bundle.files import write_atomically
from bundle.paths import CACHE_DIR, MODEL_DIR

PREPROCESSING_SOURCE = MODEL_DIR / "preprocessing.py"
ARCHIVE_NAME = "preprocessing.tar.gz"
CONFIG_NAME = "preprocessing.json"


@dataclass(frozen=True)
class PreprocessingArtifact:
    path: Path
    sha256: str
    unit: str
    feature_names: tuple[str, ...]

    @property
    def key(self) -> str:
        """Its content-addressed S3 key in the bundle's bucket."""
        return f"preprocessing/{self.sha256}/{ARCHIVE_NAME}"


def feature_names() -> tuple[str, ...]:
    """The POC model's features in column order, named as its manifest names them (model/train.py)."""
    return training_data().names


def preprocessing_tarball(unit: str) -> bytes:
    config = {"feature_names": list(feature_names()), "unit": unit}
    return deterministic_tarball(
        {
            "code/preprocessing.py": PREPROCESSING_SOURCE.read_bytes(),
            "code/inference.py": INFERENCE_SOURCE.read_bytes(),
            CONFIG_NAME: (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(),
        }
    )


def preprocessing_artifact(unit: str = "cm", cache_dir: Path | None = None) -> PreprocessingArtifact:
    data = preprocessing_tarball(unit)
    sha = hashlib.sha256(data).hexdigest()
    path = (cache_dir or CACHE_DIR / "preprocessing") / f"{sha}.tar.gz"
    if not path.exists():
        write_atomically(path, data)
    return PreprocessingArtifact(path, sha, unit, feature_names())
