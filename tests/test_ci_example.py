"""The CI/CD example (examples/ci/deploy.yml): actionlint finds nothing wrong with it, it runs the steps it promises
in the order it promises, every `python -m bundle` command in it parses with the bundle's own argument parser, and its
params plan a Model made from the Model Registry's approved version.

actionlint is looked for in .venv/bin (what `make setup` installs from the lock), then on PATH; without it the lint
tests skip saying so. GitHub itself (OIDC, the environment's reviewers, the Pulumi CLI) cannot run here.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO

WORKFLOW = REPO / "examples" / "ci" / "deploy.yml"
PARAMS = REPO / "examples" / "ci" / "params.json"


def actionlint() -> str | None:
    local = REPO / ".venv" / "bin" / "actionlint"
    return str(local) if local.exists() else shutil.which("actionlint")


# Skipped only off CI: in CI (CI set, as .ci/run sets it) make setup has installed the lock, so a missing actionlint fails.
needs_actionlint = pytest.mark.skipif(
    actionlint() is None and not os.environ.get("CI"),
    reason="actionlint is not installed (looked in .venv/bin and on PATH): the lock's actionlint wrapper installs it with make setup",
)


def lint(path) -> subprocess.CompletedProcess:
    # -shellcheck= and -pyflakes= : the run: scripts are checked only where those tools exist; say so by turning them off.
    return subprocess.run([actionlint(), "-no-color", "-shellcheck=", "-pyflakes=", str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)


@needs_actionlint
def test_actionlint_passes_on_the_example():
    result = lint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_actionlint
def test_actionlint_catches_a_broken_copy(tmp_path):
    broken = tmp_path / "deploy.yml"
    broken.write_text(WORKFLOW.read_text().replace("needs: check", "needs: chek").replace("role-to-assume:", "role-to-asume:", 1))
    result = lint(broken)
    assert result.returncode == 1
    assert '"chek"' in result.stdout and "role-to-asume" in result.stdout, result.stdout


def workflow() -> dict:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def runs(job: dict) -> list[str]:
    return [step.get("run", step.get("uses", "")) for step in job["steps"]]


def test_pull_requests_test_validate_plan_and_preview_and_main_deploys_after_approval():
    flow = workflow()
    assert {"pull_request", "push"} <= set(flow["on"]) and flow["on"]["push"]["branches"] == ["main"]
    check, deploy = flow["jobs"]["check"], flow["jobs"]["deploy"]
    steps = "\n".join(runs(check))
    order = ["make test", "bundle validate", "aws-actions/configure-aws-credentials", "bundle plan", "pulumi preview"]
    assert [steps.index(s) for s in order] == sorted(steps.index(s) for s in order), "the checks run in this order"
    assert check["permissions"]["id-token"] == "write" and deploy["permissions"]["id-token"] == "write", "OIDC, no stored keys"
    assert deploy["needs"] == "check" and deploy["environment"] == "production", "a reviewer of the environment approves the deploy"
    assert "pull_request" in deploy["if"] and "refs/heads/main" in deploy["if"]
    steps = "\n".join(runs(deploy))
    order = ["pulumi up", "bundle smoke --outputs outputs.json", "bundle guide --outputs outputs.json", "actions/upload-artifact"]
    assert [steps.index(s) for s in order] == sorted(steps.index(s) for s in order)
    assert "operator_guide.md" in deploy["steps"][-1]["with"]["path"]
    credentials = [s for job in (check, deploy) for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials")]
    assert len(credentials) == 2 and all("role-to-assume" in s["with"] and "aws-access-key-id" not in s["with"] for s in credentials)


def test_every_bundle_command_in_the_workflow_parses():
    from bundle.cli import build_parser

    flow = workflow()
    env = flow["env"]
    commands = [
        line.strip()
        for job in flow["jobs"].values()
        for step in job["steps"]
        for line in step.get("run", "").splitlines()
        if "-m bundle " in line
    ]
    assert len(commands) >= 4
    for command in commands:
        for name, value in env.items():  # the workflow's own values for its variables
            command = command.replace(f"${name}", str(value))
        words = shlex.split(command)
        build_parser().parse_args(words[words.index("bundle") + 1 :])  # exits 2 on an unknown option


def test_the_examples_params_plan_a_model_from_the_registrys_approved_version():
    from bundle.local.plan import evaluate
    from bundle.params.rules import validate
    from model_registry import model_registry

    params = json.loads(PARAMS.read_text())
    with model_registry() as registry:
        version = registry.register(group=params["model_package"]["group"], approve=True)
        run = evaluate(validate(params))
    model = run.one("aws:sagemaker/model:Model")
    assert model.inputs["primaryContainer"]["modelPackageName"] == version["arn"]
    assert run.outputs["model_package"]["approval_status"] == "Approved"
