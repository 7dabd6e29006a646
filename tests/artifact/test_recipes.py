"""The model recipes: each deterministic, version-gated, content-addressed, cached, served by the same handlers;
the default's bytes computed exactly as before recipes existed."""
from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import asdict

import pytest

from bundle.artifact.build import PACKAGE_FORMAT, VersionMismatch, build_artifact, running_versions
from bundle.artifact.recipes import DEFAULT_RECIPE, RECIPES, get_recipe
from bundle.artifact.build import recipe_artifact
from bundle.errors import BundleError
from bundle.local.inprocess import invoke, load_artifact
from conftest import REPO
from corpus import CORPUS, ids

OTHERS = [name for name in RECIPES if name != DEFAULT_RECIPE]


@pytest.fixture(scope="module")
def recipe_artifacts(tmp_path_factory):
    cache = tmp_path_factory.mktemp("recipes-cache")
    return {name: recipe_artifact(name, cache_dir=cache) for name in RECIPES}


def test_the_three_recipes_and_the_default():
    assert DEFAULT_RECIPE == "random-forest"
    assert {"random-forest", "logistic-regression", "gradient-boosting"} <= set(RECIPES)


@pytest.mark.parametrize("name", OTHERS)
def test_forced_rebuilds_are_byte_identical_and_a_repeat_comes_from_the_cache(tmp_path, name):
    first = recipe_artifact(name, cache_dir=tmp_path / "a", force=True)
    second = recipe_artifact(name, cache_dir=tmp_path / "b", force=True)
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256 == hashlib.sha256(first.path.read_bytes()).hexdigest()
    again = recipe_artifact(name, cache_dir=tmp_path / "a")
    assert (first.cached, again.cached, again.sha256) == (False, True, first.sha256)
    assert again.recipe == name and again.manifest["recipe"] == name


def test_every_recipe_has_its_own_key_and_bytes(recipe_artifacts):
    assert len({a.manifest["inputs_sha256"] for a in recipe_artifacts.values()}) == len(RECIPES)
    assert len({a.sha256 for a in recipe_artifacts.values()}) == len(RECIPES)
    from bundle.artifact.build import cache_key  # the cache entry's name: the inputs and the packaging code

    assert {a.path.parent.name for a in recipe_artifacts.values()} == {cache_key(a.manifest["inputs_sha256"]) for a in recipe_artifacts.values()}


def test_the_default_recipe_is_build_artifact_with_its_key_computed_as_before_recipes(recipe_artifacts, tmp_path):
    default = recipe_artifacts[DEFAULT_RECIPE]
    assert build_artifact(cache_dir=default.path.parent.parent).sha256 == default.sha256
    # The key of the artifact as it was built before recipes existed: train.py + inference.py + this JSON.
    digest = hashlib.sha256((REPO / "model" / "train.py").read_bytes() + (REPO / "model" / "inference.py").read_bytes())
    key = {"format": PACKAGE_FORMAT, "image": "1.4-2", "versions": running_versions(), "hyperparameters": asdict(RECIPES[DEFAULT_RECIPE].hyperparameters)}
    digest.update(json.dumps(key, sort_keys=True).encode())
    assert default.manifest["inputs_sha256"] == digest.hexdigest()
    assert "recipe" not in default.manifest and "estimator" not in default.manifest, "the default's manifest is unchanged"
    assert default.recipe == DEFAULT_RECIPE


@pytest.mark.parametrize("name", OTHERS)
def test_layout_and_manifest_name_the_recipe_and_ship_the_same_handlers(recipe_artifacts, name):
    artifact = recipe_artifacts[name]
    with tarfile.open(artifact.path, "r:gz") as tar:
        assert tar.getnames() == ["code", "code/inference.py", "manifest.json", "model.joblib"]
        assert tar.extractfile("code/inference.py").read() == (REPO / "model" / "inference.py").read_bytes()
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest == artifact.manifest
    assert manifest["recipe"] == name and manifest["estimator"] == RECIPES[name].estimator
    assert manifest["feature_names"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert manifest["metrics"]["cv_accuracy_mean"] >= 0.9


@pytest.mark.parametrize("name", OTHERS)
def test_version_gate_refuses_every_recipe(tmp_path, name):
    with pytest.raises(VersionMismatch):
        recipe_artifact(name, cache_dir=tmp_path, running={**running_versions(), "scikit_learn": "1.5.0"})
    assert not any(tmp_path.iterdir())


def test_an_unknown_recipe_is_a_message_naming_the_known_ones():
    with pytest.raises(BundleError, match="unknown model recipe 'gradient-bosting'.*random-forest.*did you mean 'gradient-boosting'"):
        get_recipe("gradient-bosting")


@pytest.fixture(scope="module")
def loaded_recipes(recipe_artifacts, tmp_path_factory):
    return {name: load_artifact(a.path, tmp_path_factory.mktemp(name)) for name, a in recipe_artifacts.items() if name != DEFAULT_RECIPE}


@pytest.mark.parametrize("name", OTHERS)
@pytest.mark.parametrize("case", CORPUS, ids=ids(CORPUS))
def test_the_shipped_handlers_answer_the_corpus_for_every_recipe(loaded_recipes, name, case):
    reply = invoke(loaded_recipes[name], case.body, case.content_type, case.accept)
    assert reply.status == case.status
    if case.status == 200 and reply.content_type == "application/json":
        assert json.loads(reply.body)["predictions"] == list(case.predictions)
    elif case.status != 200:
        assert json.loads(reply.body)["error"] == case.error


# --- multi-model archives ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(RECIPES))
def test_multi_model_archives_have_no_root_manifest_json_and_no_code(tmp_path, name):
    first = recipe_artifact(name, cache_dir=tmp_path / "a", layout="multi-model", force=True)
    second = recipe_artifact(name, cache_dir=tmp_path / "b", layout="multi-model", force=True)
    assert first.path.read_bytes() == second.path.read_bytes() and first.layout == "multi-model"
    with tarfile.open(first.path, "r:gz") as tar:
        assert tar.getnames() == ["model-manifest.json", "model.joblib"]
        manifest = json.load(tar.extractfile("model-manifest.json"))
    assert manifest["layout"] == "multi-model" and manifest["class_names"] == ["setosa", "versicolor", "virginica"]
    single = recipe_artifact(name, cache_dir=tmp_path / "a")
    assert single.manifest["inputs_sha256"] != first.manifest["inputs_sha256"], "each layout has its own cache entry"
    assert "layout" not in single.manifest


def test_target_model_names_are_content_addressed():
    from bundle.artifact.recipes import target_model_name

    assert target_model_name("gradient-boosting", "ab" * 32) == "gradient-boosting-abababababab.tar.gz"


def test_the_sourcedir_tarball_holds_the_handlers_alone_byte_identically():
    from bundle.artifact.build import sourcedir_tarball
    import io

    assert sourcedir_tarball() == sourcedir_tarball()
    with tarfile.open(fileobj=io.BytesIO(sourcedir_tarball()), mode="r:gz") as tar:
        assert tar.getnames() == ["inference.py"]
        assert tar.extractfile("inference.py").read() == (REPO / "model" / "inference.py").read_bytes()


def test_an_unknown_layout_is_a_message():
    with pytest.raises(BundleError, match="unknown artifact layout 'zip'"):
        recipe_artifact(DEFAULT_RECIPE, layout="zip")
