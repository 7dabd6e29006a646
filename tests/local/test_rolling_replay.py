"""A rolling update replayed with the image's real workers (bundle/local/rolling.py): the stack's fleet replaced batch
by batch while a load runs through the runtime-API front. Every request is answered, by the old model or the new one;
a new model that answers 5XX while its batch bakes is rolled back, and the old fleet serves again."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bundle.artifact.build import recipe_artifact
from bundle.artifact.tarball import deterministic_tarball
from bundle.errors import BundleError
from bundle.local.plan import evaluate
from bundle.local.rolling import Replay, RollingPlan
from bundle.params.rules import validate
from bundle.params.sources import read_params_file
from conftest import REPO

EXAMPLE = REPO / "examples" / "rolling" / "params.json"


@pytest.fixture(scope="module")
def outputs():
    return evaluate(validate(read_params_file(str(EXAMPLE)))).outputs


def test_the_plan_is_read_from_the_stacks_outputs(outputs):
    plan = RollingPlan.from_outputs(outputs, bake_seconds=1)
    assert (plan.instances, plan.batch, plan.rollback_batch, plan.bake_seconds) == (2, 1, 2, 1.0)
    assert (plan.alarm_threshold, plan.endpoint_name, plan.variant_name) == (5, "iris-rolling", "primary")
    assert RollingPlan.from_outputs(outputs).bake_seconds == 300, "the stack's wait_interval_seconds"


def test_a_blue_green_stack_has_no_rolling_update_to_replay():
    with pytest.raises(BundleError, match="deployment.strategy is ALL_AT_ONCE, not ROLLING"):
        RollingPlan.from_outputs(evaluate(validate({})).outputs)


def test_serve_replays_the_rolling_update_and_no_request_fails():
    """The command as the README and the guide give it: the report is the proof, printed for the record."""
    result = subprocess.run(
        [sys.executable, "-m", "bundle", "serve", "--params", str(EXAMPLE), "--replay-rolling-update", "logistic-regression", "--bake-seconds", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)  # the steps go to stderr
    print(json.dumps({k: report[k] for k in ("requests", "failed", "answered_by", "serving_after")}))
    assert report["status"] == "completed" and report["failed"] == 0 and report["failures"] == []
    old, new = report["answered_by"]["old"], report["answered_by"]["new: logistic-regression"]
    assert old > 0 and new > 0 and old + new == report["requests"]
    assert report["serving_after"] == ["new-1", "new-2"]
    assert [s for s in report["steps"] if s.endswith("terminated")] == ["batch 1: baked, old-1 terminated", "batch 2: baked, old-2 terminated"]
    assert "rolling update: batch 2: new-2 in service, old-2 out; baking 1 s" in result.stderr


def broken_artifact(tmp_path):
    """The POC model with handlers that fail every request (HTTP 500 from the image's worker)."""
    import tarfile

    files = {}
    with tarfile.open(recipe_artifact().path) as tar:
        for member in tar.getmembers():
            if member.isfile():
                files[member.name] = tar.extractfile(member).read()
    files["code/inference.py"] += b"\n\ndef transform_fn(model, body, content_type, accept):\n    raise RuntimeError('a broken release')\n"
    path = tmp_path / "broken.tar.gz"
    path.write_bytes(deterministic_tarball(files))
    return path


def test_a_new_model_answering_5xx_while_baking_is_rolled_back(outputs, tmp_path):
    plan = RollingPlan.from_outputs(outputs, bake_seconds=2)
    report = Replay(plan, recipe_artifact().path, broken_artifact(tmp_path), log=lambda line: None).run()
    assert report["status"] == "rolled back", report["steps"]
    assert report["serving_after"] == ["old-1", "old-2"], "the batch taken out of service is back in it"
    assert report["new_instances_5xx"] >= plan.alarm_threshold
    # Every failed request is one the new instance answered with a 5XX (the front's 424 ModelError), none other.
    assert report["failed"] == report["new_instances_5xx"] and report["answered_by"]["new"] == 0 and report["answered_by"]["old"] > 0
    assert report["steps"][-1] == "rollback: no old instance back, new-1 removed", report["steps"]
    assert not any(s.startswith("batch 2") for s in report["steps"]), "no batch after the alarm"
