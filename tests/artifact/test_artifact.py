"""The artifact: byte-identical rebuilds, the version gate, the tarball layout, the manifest, the cache."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from bundle.artifact import build
from bundle.artifact.build import VersionMismatch, build_artifact, running_versions
from bundle.artifact.tarball import ENTRY_MTIME
from conftest import REPO


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "bundle", *args], cwd=REPO, capture_output=True, text=True, env=env)


def test_two_forced_builds_are_byte_identical(tmp_path):
    env = {**os.environ, "BUNDLE_CACHE_DIR": str(tmp_path / "cache")}
    first = run_cli("artifact", "--force", "--out", str(tmp_path / "a"), env=env)
    second = run_cli("artifact", "--force", "--out", str(tmp_path / "b"), env=env)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["cached"] is False and two["cached"] is False
    a, b = (tmp_path / "a" / "model.tar.gz").read_bytes(), (tmp_path / "b" / "model.tar.gz").read_bytes()
    assert a == b
    assert one["sha256"] == two["sha256"] == hashlib.sha256(a).hexdigest()
    assert one["size_bytes"] == len(a)
    assert one["versions"]["scikit_learn"] == "1.4.2" and one["versions"]["numpy"] == "2.1.0"
    assert one["cv_accuracy"] >= 0.9


@pytest.fixture(scope="module")
def fresh_builds(tmp_path_factory):
    """Two builds from nothing, never from a cache: the second a day later by the clock, under another umask and
    another user id, so equal bytes cannot come from two builds that happened to share a second or a user."""
    first = build_artifact(force=True, cache_dir=tmp_path_factory.mktemp("first"))
    real_time = time.time
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", lambda: real_time() + 86400)
        patch.setattr(os, "getuid", lambda: 4242)
        patch.setattr(os, "getgid", lambda: 4242)
        previous = os.umask(0o077)
        try:
            second = build_artifact(force=True, cache_dir=tmp_path_factory.mktemp("second"))
        finally:
            os.umask(previous)
    assert (first.cached, second.cached) == (False, False)
    return first, second


def test_fresh_builds_a_day_apart_as_another_user_are_byte_identical(fresh_builds):
    first, second = fresh_builds
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256


@pytest.mark.parametrize("edited", ["handlers", "training", "packaging"])
def test_editing_anything_that_shapes_the_artifact_rebuilds_it(tmp_path, monkeypatch, edited):
    import dataclasses

    import bundle.artifact.build as build
    from bundle.artifact import recipes

    cold = build_artifact(cache_dir=tmp_path)
    original = {"handlers": recipes.INFERENCE_SOURCE, "training": recipes.TRAIN_SOURCE, "packaging": build.packaging_sources()[1]}[edited]
    copy = tmp_path / f"edited-{original.name}"
    copy.write_bytes(original.read_bytes() + b"\n# an edit\n")
    default = recipes.RECIPES[recipes.DEFAULT_RECIPE]  # its sources are hashed into the key
    if edited == "handlers":
        monkeypatch.setattr(build, "INFERENCE_SOURCE", copy)
        monkeypatch.setitem(recipes.RECIPES, recipes.DEFAULT_RECIPE, dataclasses.replace(default, sources=(recipes.TRAIN_SOURCE, copy)))
    elif edited == "training":
        monkeypatch.setitem(recipes.RECIPES, recipes.DEFAULT_RECIPE, dataclasses.replace(default, sources=(copy, recipes.INFERENCE_SOURCE)))
    else:
        monkeypatch.setattr(build, "packaging_sources", lambda: (Path(build.__file__), copy))
    rebuilt = build_artifact(cache_dir=tmp_path)
    assert rebuilt.cached is False, f"an edit to the {edited} code must not ship the cached artifact"
    assert rebuilt.path.parent != cold.path.parent
    if edited == "handlers":
        with tarfile.open(rebuilt.path, "r:gz") as tar:
            assert tar.extractfile("code/inference.py").read().endswith(b"# an edit\n")


def test_other_library_versions_rebuild(tmp_path):
    cold = build_artifact(cache_dir=tmp_path)
    other = build_artifact(cache_dir=tmp_path, running={**running_versions(), "scipy": "1.99.0"})
    assert (cold.cached, other.cached) == (False, False)
    assert other.manifest["versions"]["scipy"] == "1.99.0"


def test_repeat_build_comes_from_the_cache(tmp_path, monkeypatch):
    cold = build_artifact(cache_dir=tmp_path)

    def no_training(*args):
        raise AssertionError("a repeat build with the same inputs trained and packaged again")

    monkeypatch.setattr(build, "_build_into", no_training)
    warm = build_artifact(cache_dir=tmp_path)
    assert (cold.cached, warm.cached) == (False, True)
    assert warm.sha256 == cold.sha256 and warm.path.read_bytes() == cold.path.read_bytes()


@pytest.mark.parametrize(
    "library, installed, wanted",
    [("scikit_learn", "1.5.0", "1.4.2"), ("numpy", "1.26.4", "2.1.0")],
)
def test_version_gate_refuses_a_mismatch_naming_both_versions(tmp_path, library, installed, wanted):
    running = {**running_versions(), library: installed}
    with pytest.raises(VersionMismatch) as refused:
        build_artifact(cache_dir=tmp_path, running=running)
    assert installed in str(refused.value) and wanted in str(refused.value)
    assert not any(tmp_path.iterdir()), "nothing is packaged when the gate refuses"


def test_cli_refuses_an_image_whose_versions_differ_with_a_message_not_a_traceback():
    result = run_cli("artifact", "--image-version", "1.2-1")
    assert result.returncode == 2
    assert "scikit-learn 1.4.2 is installed here but the serving image sagemaker-scikit-learn:1.2-1 has scikit-learn 1.2.1" in result.stderr
    assert "numpy 2.1.0" in result.stderr and "numpy 1.24.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_tarball_layout(fresh_builds):
    artifact = fresh_builds[0]
    with tarfile.open(artifact.path, "r:gz") as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == ["code", "code/inference.py", "manifest.json", "model.joblib"]
        assert members[0].isdir() and all(m.isfile() for m in members[1:])
        assert all(m.uid == 0 and m.gid == 0 and m.mtime == ENTRY_MTIME for m in members)
        shipped = tar.extractfile("code/inference.py").read()
    assert shipped == (REPO / "model" / "inference.py").read_bytes()
    assert "code/requirements.txt" not in names
    header = artifact.path.read_bytes()[:10]
    assert header[:2] == b"\x1f\x8b" and header[4:8] == b"\x00\x00\x00\x00", "gzip mtime is 0"


def test_manifest_carries_versions_inputs_metrics_and_names(fresh_builds):
    artifact = fresh_builds[0]
    with tarfile.open(artifact.path, "r:gz") as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
    assert manifest == artifact.manifest
    assert manifest["image"] == "sagemaker-scikit-learn:1.4-2"
    assert manifest["versions"]["scikit_learn"] == "1.4.2"
    assert len(manifest["inputs_sha256"]) == 64
    assert manifest["feature_names"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert manifest["class_names"] == ["setosa", "versicolor", "virginica"]
    assert 0.9 <= manifest["metrics"]["cv_accuracy_mean"] <= 1.0
    assert manifest["hyperparameters"]["random_state"] == 42
