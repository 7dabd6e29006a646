"""Build `model.tar.gz`: train, version-gate, package byte-identically, and cache by inputs, for any recipe
(bundle/artifact/recipes.py names them; `build_artifact()` is the default one's).

Layout (what the serving container expects under /opt/ml/model):
    model.joblib          the fitted estimator
    manifest.json         versions, inputs sha, metrics, feature and class names
    code/inference.py     the handlers (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code)
No code/requirements.txt: the image already has every library the handlers use, and the container
would pip-install it at every start.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TypedDict

import joblib
import numpy
import scipy
import sklearn

from bundle.paths import CACHE_DIR
from bundle.artifact.recipes import DEFAULT_RECIPE, INFERENCE_SOURCE, Recipe, recipe_artifact
from bundle.artifact.tarball import deterministic_tarball
from bundle.errors import BundleError
from bundle.artifact.image import DEFAULT_VERSION, IMAGES, REPOSITORY, ServingImage, serving_image
from model import train as training

ARTIFACT_NAME = "model.tar.gz"
# Bump when the tarball's layout or manifest changes: it is part of the cache key.
PACKAGE_FORMAT = 1


class Versions(TypedDict):
    python: str
    scikit_learn: str
    numpy: str
    scipy: str
    joblib: str


class _RequiredManifest(TypedDict):
    format: int
    image: str
    versions: Versions
    inputs_sha256: str
    hyperparameters: dict
    metrics: dict
    feature_names: list[str]
    class_names: list[str]


class Manifest(_RequiredManifest, total=False):
    recipe: str  # every recipe's but the default's (see _build_into)
    estimator: str


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size_bytes: int
    manifest: Manifest
    cached: bool
    recipe: str  # the recipe's name (the default's manifest carries none: it predates recipes)

    def summary(self) -> dict:
        """The CLI's one JSON object."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "inputs_sha256": self.manifest["inputs_sha256"],
            "image": self.manifest["image"],
            "versions": self.manifest["versions"],
            "recipe": self.recipe,
            "cv_accuracy": self.manifest["metrics"]["cv_accuracy_mean"],
            "cached": self.cached,
        }


class VersionMismatch(BundleError):
    pass


def running_versions() -> Versions:
    return Versions(
        python=".".join(platform.python_version_tuple()[:2]),
        scikit_learn=sklearn.__version__,
        numpy=numpy.__version__,
        scipy=scipy.__version__,
        joblib=joblib.__version__,
    )


def check_versions(image: ServingImage, running: Versions) -> None:
    """Refuse to package a pickle the image cannot load (see FACTS.md: numpy._core, dtype errors)."""
    problems = [
        f"{lib} {have} is installed here but the serving image {REPOSITORY}:{image.version} has {lib} {want}"
        for lib, have, want in (
            ("scikit-learn", running["scikit_learn"], image.scikit_learn),
            ("numpy", running["numpy"], image.numpy),
        )
        if have != want
    ]
    if problems:
        raise VersionMismatch(
            "; ".join(problems) + ". A model pickled with other versions fails to load in the container. "
            "Run `make setup` to install the pinned versions, or choose the image that matches."
        )


def inputs_sha256(image: ServingImage, versions: Versions, recipe: Recipe) -> str:
    """What the model and its handlers are made of, hashed: the manifest's identity (`inputs_sha256`); the cache
    key adds the packaging code (cache_key).

    The default recipe's identity is computed exactly as before recipes existed (train.py, inference.py and no recipe
    name), so its manifest and its bytes are unchanged; every other recipe adds its name and its own sources.
    """
    digest = hashlib.sha256()
    for source in recipe.sources:
        digest.update(source.read_bytes())
    key = {"format": PACKAGE_FORMAT, "image": image.version, "versions": versions, "hyperparameters": asdict(recipe.hyperparameters)}
    if not recipe.default:
        key["recipe"] = recipe.name
    digest.update(json.dumps(key, sort_keys=True).encode())
    return digest.hexdigest()


def packaging_sources() -> tuple[Path, ...]:
    """The code that turns those inputs into bytes: this module and the tarball writer."""
    from bundle.artifact import tarball

    return (Path(__file__), Path(tarball.__file__))


def cache_key(inputs: str) -> str:
    """The cache entry's name: the inputs, and the packaging code. Editing any of them rebuilds; an edit that
    leaves the bytes alone (a comment in the packaging code) gives the same artifact, so nothing is redeployed."""
    digest = hashlib.sha256(inputs.encode())
    for source in packaging_sources():
        digest.update(source.read_bytes())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("BUNDLE_CACHE_DIR", CACHE_DIR / "artifacts"))


def build_artifact(
    image_version: str = DEFAULT_VERSION,
    out_dir: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    running: Versions | None = None,
) -> Artifact:
    """The default recipe's artifact (the RandomForest): see `bundle.artifact.recipes.recipe_artifact`."""
    return recipe_artifact(DEFAULT_RECIPE, image_version=image_version, out_dir=out_dir, force=force, cache_dir=cache_dir, running=running)


def package(
    recipe: Recipe,
    image_version: str = DEFAULT_VERSION,
    out_dir: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    running: Versions | None = None,
) -> Artifact:
    """Return the recipe's artifact for these inputs, from the cache unless `force`; copy it to `out_dir` if given."""
    if image_version not in IMAGES:
        raise BundleError(f"serving image version {image_version!r} is not known; choose one of {sorted(IMAGES)}")
    image = serving_image(image_version)
    versions = running or running_versions()
    check_versions(image, versions)
    key = inputs_sha256(image, versions, recipe)
    entry = (cache_dir or default_cache_dir()) / cache_key(key)
    cached = not force and (entry / ARTIFACT_NAME).exists() and (entry / "manifest.json").exists()
    if not cached:
        _build_into(entry, image, versions, recipe, key)
    artifact = _load(entry, cached, recipe.name)
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise BundleError(f"--out {out_dir} is a file, not a directory: give a directory to copy {ARTIFACT_NAME} into")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(artifact.path, out_dir / ARTIFACT_NAME)
        except OSError as e:
            raise BundleError(f"cannot copy {ARTIFACT_NAME} into {out_dir}: {e.strerror}") from None
        artifact = replace(artifact, path=out_dir / ARTIFACT_NAME)
    return artifact


def _build_into(entry: Path, image: ServingImage, versions: Versions, recipe: Recipe, key: str) -> None:
    trained = recipe.train()
    manifest = Manifest(
        format=PACKAGE_FORMAT,
        image=f"{REPOSITORY}:{image.version}",
        versions=versions,
        inputs_sha256=key,
        hyperparameters=asdict(recipe.hyperparameters),
        metrics=trained.metrics(),
        feature_names=trained.feature_names,
        class_names=trained.class_names,
    )
    if not recipe.default:  # the default's manifest predates recipes and stays byte-identical: no recipe name in it
        manifest["recipe"] = recipe.name
        manifest["estimator"] = type(trained.estimator).__name__
    with tempfile.TemporaryDirectory() as scratch:
        model_bytes = Path(training.save(trained, scratch)).read_bytes()
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    tarball = deterministic_tarball(
        {
            training.MODEL_FILENAME: model_bytes,
            "manifest.json": manifest_bytes,
            "code/inference.py": INFERENCE_SOURCE.read_bytes(),
        }
    )
    # Write to a temporary name and rename: a crash never leaves a half-written cache entry.
    entry.mkdir(parents=True, exist_ok=True)
    for name, data in ((ARTIFACT_NAME, tarball), ("manifest.json", manifest_bytes)):
        partial = entry / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(entry / name)


def _load(entry: Path, cached: bool, recipe: str) -> Artifact:
    path = entry / ARTIFACT_NAME
    data = path.read_bytes()
    manifest = json.loads((entry / "manifest.json").read_text())
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), manifest, cached, recipe)
