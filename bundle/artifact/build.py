"""Build `model.tar.gz`: train, version-gate, package byte-identically, and cache by inputs, for any recipe
(bundle/artifact/recipes.py names them; `build_artifact()` is the default one's).

Layout "single-model" (what the serving container expects under /opt/ml/model):
    model.joblib          the fitted estimator
    manifest.json         versions, inputs sha, metrics, feature and class names
    code/inference.py     the handlers (SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code)
No code/requirements.txt: the image already has every library the handlers use, and the container
would pip-install it at every start.

Layout "multi-model" (one archive under a multi-model endpoint's S3 prefix, loaded to /opt/ml/models/<name>/model):
    model.joblib          the fitted estimator
    model-manifest.json   the same manifest, under another name: a root manifest.json makes multi-model-server's
                          registration fail (it reads it as its own legacy manifest; NullPointerException)
No code/: under multi-model-server the handlers are imported once at start from SAGEMAKER_SUBMIT_DIRECTORY, the
"sourcedir" tarball (`sourcedir_tarball()`: inference.py alone), never from a model's archive.
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

from bundle.files import write_atomically
from bundle.paths import CACHE_DIR
from bundle.artifact.recipes import DEFAULT_RECIPE, INFERENCE_SOURCE, Recipe, get_recipe
from bundle.artifact.tarball import deterministic_tarball
from bundle.errors import BundleError
from bundle.artifact.image import DEFAULT_VERSION, IMAGES, REPOSITORY, ServingImage, serving_image
from model import train as training

ARTIFACT_NAME = "model.tar.gz"
SINGLE_MODEL, MULTI_MODEL = "single-model", "multi-model"
LAYOUTS = (SINGLE_MODEL, MULTI_MODEL)
MULTI_MODEL_MANIFEST = "model-manifest.json"
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
    layout: str  # only in multi-model archives


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    size_bytes: int
    manifest: Manifest
    cached: bool
    recipe: str  # the recipe's name (the default's manifest carries none: it predates recipes)
    layout: str = SINGLE_MODEL

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
            "layout": self.layout,
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


def inputs_sha256(image: ServingImage, versions: Versions, recipe: Recipe, layout: str = SINGLE_MODEL) -> str:
    """What the model and its handlers are made of, hashed: the manifest's identity (`inputs_sha256`).

    The default recipe's key is computed exactly as before recipes existed (train.py, inference.py and no recipe
    name), so its manifest is unchanged; every other recipe adds its name and its own sources. The cache entry's
    name adds the packaging code (cache_key).
    """
    digest = hashlib.sha256()
    for source in recipe.sources:
        digest.update(source.read_bytes())
    key = {"format": PACKAGE_FORMAT, "image": image.version, "versions": versions, "hyperparameters": asdict(recipe.hyperparameters)}
    if not recipe.default:
        key["recipe"] = recipe.name
    if layout != SINGLE_MODEL:
        key["layout"] = layout
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


def recipe_artifact(
    name: str = DEFAULT_RECIPE,
    image_version: str = DEFAULT_VERSION,
    out_dir: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    running: Versions | None = None,
    layout: str = "single-model",
) -> Artifact:
    """The recipe's model.tar.gz (from the cache unless `force`; copied into `out_dir` if given).

    `layout` "single-model" (the default) is a model.tar.gz for one endpoint; "multi-model" is an archive for a
    multi-model endpoint's prefix (bundle/artifact/build.py describes both).
    """
    return package(
        get_recipe(name), image_version=image_version, out_dir=out_dir, force=force, cache_dir=cache_dir, running=running, layout=layout
    )


def build_artifact(
    image_version: str = DEFAULT_VERSION,
    out_dir: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    running: Versions | None = None,
) -> Artifact:
    """The default recipe's artifact (the RandomForest): see `recipe_artifact`."""
    return recipe_artifact(DEFAULT_RECIPE, image_version=image_version, out_dir=out_dir, force=force, cache_dir=cache_dir, running=running)


def package(
    recipe: Recipe,
    image_version: str = DEFAULT_VERSION,
    out_dir: Path | None = None,
    force: bool = False,
    cache_dir: Path | None = None,
    running: Versions | None = None,
    layout: str = SINGLE_MODEL,
) -> Artifact:
    """Return the recipe's artifact for these inputs, from the cache unless `force`; copy it to `out_dir` if given."""
    if layout not in LAYOUTS:
        raise BundleError(f"unknown artifact layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if image_version not in IMAGES:
        raise BundleError(f"serving image version {image_version!r} is not known; choose one of {sorted(IMAGES)}")
    image = serving_image(image_version)
    versions = running or running_versions()
    check_versions(image, versions)
    key = inputs_sha256(image, versions, recipe, layout)
    entry = (cache_dir or default_cache_dir()) / cache_key(key)
    cached = not force and (entry / ARTIFACT_NAME).exists() and (entry / "manifest.json").exists()
    if not cached:
        _build_into(entry, image, versions, recipe, key, layout)
    artifact = _load(entry, cached, recipe.name, layout)
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


def _build_into(entry: Path, image: ServingImage, versions: Versions, recipe: Recipe, key: str, layout: str) -> None:
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
    if layout != SINGLE_MODEL:
        manifest["layout"] = layout
    with tempfile.TemporaryDirectory() as scratch:
        model_bytes = Path(training.save(trained, scratch)).read_bytes()
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    if layout == MULTI_MODEL:
        files = {training.MODEL_FILENAME: model_bytes, MULTI_MODEL_MANIFEST: manifest_bytes}
    else:
        files = {training.MODEL_FILENAME: model_bytes, "manifest.json": manifest_bytes, "code/inference.py": INFERENCE_SOURCE.read_bytes()}
    tarball = deterministic_tarball(files)
    for name, data in ((ARTIFACT_NAME, tarball), ("manifest.json", manifest_bytes)):
        write_atomically(entry / name, data)


def _load(entry: Path, cached: bool, recipe: str, layout: str) -> Artifact:
    path = entry / ARTIFACT_NAME
    data = path.read_bytes()
    manifest = json.loads((entry / "manifest.json").read_text())
    return Artifact(path, hashlib.sha256(data).hexdigest(), len(data), manifest, cached, recipe, layout)


def sourcedir_tarball() -> bytes:
    """What a multi-model endpoint's SAGEMAKER_SUBMIT_DIRECTORY names: the handlers alone, as the SageMaker Python SDK
    packs an entry point (`sourcedir.tar.gz` with inference.py at its root); byte-identical from the same file."""
    return deterministic_tarball({"inference.py": INFERENCE_SOURCE.read_bytes()})


def sourcedir_file() -> tuple[Path, str]:
    """`sourcedir_tarball()` as a file (a Pulumi FileAsset needs one) and its sha256: content-addressed in the cache,
    written once."""
    code = sourcedir_tarball()
    sha = hashlib.sha256(code).hexdigest()
    path = CACHE_DIR / "sourcedir" / f"{sha}.tar.gz"
    if not path.exists():
        write_atomically(path, code)
    return path, sha
