"""preprocessing.tar.gz: byte-identical from the same sources and unit, content-addressed, and carrying the stage's
code, the model's handlers it reuses and its settings (the model's feature names in column order, the unit)."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile

from bundle.artifact.preprocessing import preprocessing_artifact, preprocessing_tarball
from bundle.paths import MODEL_DIR


def test_the_same_sources_and_unit_give_the_same_bytes_and_another_unit_other_bytes(tmp_path):
    assert preprocessing_tarball("cm") == preprocessing_tarball("cm") != preprocessing_tarball("mm")
    built = preprocessing_artifact("mm", cache_dir=tmp_path)
    assert built.sha256 == hashlib.sha256(built.path.read_bytes()).hexdigest() == hashlib.sha256(preprocessing_tarball("mm")).hexdigest()
    assert built.key == f"preprocessing/{built.sha256}/preprocessing.tar.gz"


def test_it_ships_the_stage_the_models_handlers_and_the_settings():
    with tarfile.open(fileobj=io.BytesIO(preprocessing_tarball("mm"))) as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}
    assert files["code/preprocessing.py"] == (MODEL_DIR / "preprocessing.py").read_bytes()
    assert files["code/inference.py"] == (MODEL_DIR / "inference.py").read_bytes()
    settings = json.loads(files["preprocessing.json"])
    assert settings == {"feature_names": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "unit": "mm"}
