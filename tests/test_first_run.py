"""A newcomer's first run: no traceback from CLI input, guide from `plan --json`, smoke's region."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import bundle.ops.smoke
from bundle.cli import main
from bundle.params.rules import validate
from bundle.local.plan import evaluate, plan_document
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

    monkeypatch.setattr(bundle.ops.smoke, "run_smoke", lambda expected: seen.append(expected) or Report())
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


# --- make setup: which Python, and a word before the long install -------------------------------------------

import glob  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402

MAKE = shutil.which("make")


def make_with(tmp_path, pythons: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`make` where PATH holds only `pythons` (name -> target) and HOME has no pyenv."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, target in pythons.items():
        (bin_dir / name).symlink_to(target)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    return subprocess.run([MAKE, "-s", "--no-print-directory", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


def real_python(version: str) -> str:
    found = shutil.which(f"python{version}") if version == f"{sys.version_info[0]}.{sys.version_info[1]}" else None
    candidates = [sys.executable] if version == f"{sys.version_info[0]}.{sys.version_info[1]}" else []
    candidates += glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}*/bin/python{version}")) + [f"/usr/bin/python{version}"]
    for path in [c for c in candidates if c] + ([found] if found else []):
        if os.path.exists(path) and subprocess.run([path, "-c", "import venv, ensurepip"], capture_output=True).returncode == 0:
            return path
    pytest.skip(f"no Python {version} with venv on this machine")


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_prefers_python_3_10_and_says_which(tmp_path):
    result = make_with(tmp_path, {"python3.11": real_python("3.11"), "python3.10": real_python("3.10")}, "which-python")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Using python3.10 (Python 3.10.")


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_says_what_to_install_when_no_supported_python_is_there(tmp_path):
    fake = tmp_path / "python3.13"
    fake.write_text("#!/bin/sh\nexit 1\n")  # a python3 that is not 3.10-3.12 (Debian 13's is 3.13)
    fake.chmod(0o755)
    result = make_with(tmp_path, {"python3": str(fake)}, "which-python")
    assert result.returncode != 0
    assert "No Python 3.10, 3.11 or 3.12 with venv found" in result.stdout
    assert "pyenv install 3.10" in result.stdout and "make setup PYTHON=" in result.stdout


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_setup_announces_the_long_install_before_it(tmp_path):
    result = subprocess.run([MAKE, "-n", "--no-print-directory", "setup", f"VENV={tmp_path}/venv", f"IMAGE_VENV={tmp_path}/image"], cwd=REPO, capture_output=True, text=True, timeout=60)
    lines = result.stdout.splitlines()
    announce = next(i for i, line in enumerate(lines) if "Installing the pinned libraries" in line)
    install = next(i for i, line in enumerate(lines) if "pip install" in line and "requirements.txt" in line)
    assert announce < install
