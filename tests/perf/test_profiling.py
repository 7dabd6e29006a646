"""The A/B tool behind PERF_NOTES.md: same answers or no comparison; any git revision's handlers."""
from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from bundle.perf.timing import iris_rows
from bundle.errors import BundleError
from bundle.perf.profiling import compare, handlers_at
from bundle.local.inprocess import LoadedModel
from conftest import REPO


def in_git_checkout() -> bool:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True).returncode == 0


needs_git = pytest.mark.skipif(not in_git_checkout(), reason="the A/B reads git revisions: not a git checkout")


@needs_git
def test_handlers_from_a_git_revision_answer_like_the_current_ones(loaded, tmp_path):
    baseline = handlers_at("HEAD", loaded.directory, tmp_path)
    measured = compare(loaded, baseline, iris_rows(10), requests=3)
    assert [t.runs for t in measured.values()] == [3, 3]


def test_handlers_that_answer_differently_are_not_compared(loaded):
    without_labels = LoadedModel(loaded.handlers, replace(loaded.model, labels=None, class_names=None), loaded.directory)
    with pytest.raises(BundleError, match="answer differently"):
        compare(loaded, without_labels, iris_rows(10), requests=3)


def test_an_unknown_revision_is_a_message(loaded, tmp_path):
    with pytest.raises(BundleError, match="no-such-revision"):
        handlers_at("no-such-revision", loaded.directory, tmp_path)
