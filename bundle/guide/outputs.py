"""Where the guide's outputs come from: `pulumi stack output --json`, a file of it, `plan --json`, or a catalog's {params, artifacts}."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from bundle.errors import BundleError


def read_outputs_file(path: str | Path) -> dict:
    """A `pulumi stack output --json` file, or a catalog's {params, artifacts|resources, stack?} file."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as e:
        raise BundleError(f"cannot read outputs file {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise BundleError(f"outputs file {path} is not valid JSON: {e}") from None
    if not isinstance(document, dict):
        raise BundleError(f"outputs file {path} must hold a JSON object")
    if isinstance(document.get("resources"), list) and isinstance(document.get("outputs"), dict):
        document = document["outputs"]  # `python -m bundle plan --json`: its outputs are the stack's, as planned
    catalog = document.get("artifacts") or document.get("resources")
    if isinstance(catalog, dict) and "endpoint" in catalog and "endpoint" not in document:
        outputs = dict(document.get("stack") or {})
        outputs["endpoint"] = catalog["endpoint"]
        outputs.setdefault("params", document.get("params"))
        return outputs
    if "endpoint" not in document:
        raise BundleError(f"outputs file {path} has no `endpoint` output (expected `pulumi stack output --json`)")
    return document


def read_stack_outputs(stack: str) -> dict:
    if shutil.which("pulumi") is None:
        raise BundleError("the Pulumi CLI is not installed: use --outputs FILE (e.g. from `pulumi stack output --json`)")
    result = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack], capture_output=True, text=True)
    if result.returncode != 0:
        raise BundleError(f"`pulumi stack output --json --stack {stack}` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


