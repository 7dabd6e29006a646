"""Issue 15, item 7: a newcomer's first run: no traceback from CLI input, guide from `plan --json`, smoke's region."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import bundle.smoke
from bundle.cli import main
from bundle.params import validate
from bundle.plan import evaluate, plan_document
from conftest import REPO


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bundle", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("port, words", [("70000", "70000 is not a port: ports are 0 to 65535"), ("-1", "-1 is not a port"), ("http", "'http' is not a port number")])
def test_serve_refuses_a_port_that_is_not_one(port, words):
    result = run_cli("serve", "--port", port)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_artifact_out_a_file_is_a_message(tmp_path):
    a_file = tmp_path / "model.tar.gz"
    a_file.write_text("not a directory")
    result = run_cli("artifact", "--out", str(a_file))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--out {a_file} is a file, not a directory" in result.stderr


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(json.dumps(plan_document(evaluate(validate({})))))
    return path


def test_guide_accepts_plan_json(planned, tmp_path, capsys):
    out = tmp_path / "guide.md"
    assert main(["guide", "--outputs", str(planned), "--out", str(out)]) == 0
    assert "# SageMaker Endpoint Operator Guide: `iris-endpoint`" in out.read_text()


def test_guide_lists_each_missing_tag_once(planned, tmp_path, capsys):
    document = json.loads(planned.read_text())
    del document["outputs"]["log_group"]  # used in several places of the guide
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    assert main(["guide", "--outputs", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("{{stack.log_group}} is not in the context") == 1, err


def test_smoke_takes_the_region_from_the_usual_aws_variables(monkeypatch, capsys):
    seen = []

    class Report:
        ok = True

        def table(self):
            return "ok"

    monkeypatch.setattr(bundle.smoke, "run_smoke", lambda expected: seen.append(expected) or Report())
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert main(["smoke", "--endpoint", "iris-endpoint"]) == 0
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert main(["smoke", "--endpoint", "iris-endpoint"]) == 0
    assert [e.region for e in seen] == ["eu-central-1", "eu-west-3"]
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert main(["smoke", "--endpoint", "iris-endpoint"]) == 2
    assert "AWS_REGION or AWS_DEFAULT_REGION" in capsys.readouterr().err


def test_the_serverless_guide_states_its_own_payload_limit():
    serverless = evaluate(validate({"deployment_mode": "serverless"})).outputs["operator_guide"]
    realtime = evaluate(validate({})).outputs["operator_guide"]
    assert "at most 4 MB" in serverless and "A request or response body may be at most **4 MB**" in serverless
    assert "at most 6 MB" in realtime and "4 MB" not in realtime
