"""Reshaping the code must not change what the stack creates: each case's plan, resource by resource, equals the plan
recorded in tests/deploy/golden/ before the reshape (the examples' params files, `{}`, and one case per feature).

To record a deliberate change of the plan, rewrite the files and review their diff:
    .venv/bin/python tests/deploy/test_golden_plans.py
"""
from __future__ import annotations

import difflib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden")
CASES = json.loads((GOLDEN / "cases.json").read_text())


def case_params(name: str) -> dict:
    raw = CASES[name]
    return json.loads((ROOT / raw).read_text()) if isinstance(raw, str) else raw


# The artifact cache's key hashes the packaging code too: a path under it says nothing of the stack's inputs.
CACHE_KEY = re.compile(r"(\.cache/artifacts/)[0-9a-f]{64}/")
# S3 keys and file names are content-addressed (a full sha256, or its first 12 digits): they change with the models'
# code or weights, which is no change of the stack's shape.
# Each distinct digest becomes <digest-N> in order of first appearance, so which resources share an artifact (the
# Model, its grant, its upload) is still compared; that a key is the digest of the bytes is proven in tests/artifact.
CONTENT_KEY = re.compile(r"(?<=[/-])([0-9a-f]{64}|[0-9a-f]{12})(?=[/.])")


def neutral(text: str) -> str:
    """The plan with the cache key and content digests masked, its resources in a fixed order: registration order is
    no input of AWS's (Pulumi orders creation by the dependencies, which the inputs and options carry)."""
    plan = json.loads(CACHE_KEY.sub(r"\1<key>/", text))
    plan["resources"].sort(key=lambda r: (r["type"], r["name"]))
    ordered = json.dumps(plan, indent=1, sort_keys=True) + "\n"
    tokens: dict[str, str] = {}
    return CONTENT_KEY.sub(lambda m: tokens.setdefault(m.group(1), f"<digest-{len(tokens) + 1}>"), ordered)


def plan_of(name: str) -> str:
    """The case's resources as recorded: type, logical name, inputs, options; the checkout's path made neutral."""
    from bundle.local.plan import evaluate, plan_document
    from bundle.params.rules import validate

    params = case_params(name)
    resources = plan_document(evaluate(validate(params)))["resources"]
    return json.dumps({"params": params, "resources": resources}, indent=1, sort_keys=True).replace(str(ROOT), "<checkout>") + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_plan_equals_the_recorded_one(name):
    recorded = neutral((GOLDEN / f"{name}.json").read_text())
    planned = neutral(plan_of(name))
    if planned != recorded:
        diff = "".join(difflib.unified_diff(recorded.splitlines(True), planned.splitlines(True), f"golden/{name}.json", "planned", n=2))
        pytest.fail(f"the plan of {name!r} changed:\n{diff[:6000]}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for case in sorted(CASES):
        (GOLDEN / f"{case}.json").write_text(plan_of(case))
        print("recorded", case)
