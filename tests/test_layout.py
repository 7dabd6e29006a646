"""The import rules that keep the tree's architecture: each package loads only what its concern needs.

  bundle.names, bundle.paths, bundle.errors   the standard library only (shared by every package)
  bundle.params, bundle.guide                  never pulumi, never boto3 (params reads botocore's service models)
  bundle.artifact                              never pulumi, never boto3
  bundle.ops                                   never pulumi: the smoke test, the load test and the clients run
                                               where only boto3 is installed
  bundle.local.container, model                nothing from `bundle`: they run inside the serving image

Checked by importing each module in a fresh interpreter and reading sys.modules, so an indirect import breaks
the rule as surely as a direct one.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from conftest import REPO

STDLIB_ONLY = ("pulumi", "pulumi_aws", "boto3", "botocore", "moto", "jsonschema", "chevron", "numpy", "sklearn")
RULES = {
    "bundle.names": STDLIB_ONLY,
    "bundle.paths": STDLIB_ONLY,
    "bundle.errors": STDLIB_ONLY,
    "bundle.params": ("pulumi", "pulumi_aws", "boto3", "moto"),
    "bundle.guide": ("pulumi", "pulumi_aws", "boto3", "moto"),
    "bundle.artifact": ("pulumi", "pulumi_aws", "boto3", "moto"),
    "bundle.ops": ("pulumi", "pulumi_aws", "moto"),
    # The REST front's contract and Lambda: shipped to Lambda as they are, with boto3 and botocore only.
    "bundle.api": ("pulumi", "pulumi_aws", "moto", "jsonschema", "chevron", "numpy", "sklearn"),
}


def modules_of(package: str) -> list[str]:
    path = REPO / package.replace(".", "/")
    if path.with_suffix(".py").exists():
        return [package]
    return sorted(f"{package}.{f.stem}" for f in path.glob("*.py") if f.stem != "__init__")


CASES = [(module, forbidden) for package, forbidden in RULES.items() for module in modules_of(package)]


@pytest.mark.parametrize("module, forbidden", CASES, ids=[c[0] for c in CASES])
def test_module_loads_only_what_its_package_may(module, forbidden):
    probe = f"import sys, json, {module}; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert not loaded & set(forbidden), f"{module} loads {sorted(loaded & set(forbidden))}"


@pytest.mark.parametrize("path", sorted((REPO / "bundle" / "local" / "container").glob("*.py")) + sorted((REPO / "model").glob("*.py")), ids=lambda p: p.name)
def test_code_that_runs_in_the_serving_image_imports_nothing_from_bundle(path):
    tree = ast.parse(path.read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m == "bundle" or m.startswith("bundle.")]


def test_no_two_test_modules_share_a_basename():
    """The test folders are not packages, so pytest imports each module by its basename: a second module of the same
    name is an import error for the whole run."""
    names: dict[str, list[str]] = {}
    for path in (REPO / "tests").rglob("test_*.py"):
        names.setdefault(path.name, []).append(str(path.relative_to(REPO)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}
