"""The operator guide: `operator_guide.md.mustache` rendered strictly, with chevron, from stack outputs.

Chevron (like every mustache renderer) turns a missing key into an empty string without a word, so
a guide can look right and name nothing. Before rendering, every tag is resolved against the context
through the template's own section scopes (chevron's tokenizer gives the tags): a variable that is
missing or empty, or a section whose key is missing, is an error that names the tag. Bodies of
sections that do not render are not checked here; the tests render every combination of sections.

Context (the catalog's names, plus what only the stack knows):
  params                 validated params with every default
  artifacts.endpoint     {endpoint_name, endpoint_arn, region, model_name}  (the catalog's artifact)
  resources.endpoint     the same, under the catalog's newer name
  stack                  every stack output (config name, log group, autoscaling, ...)
  guide                  booleans for sections mustache cannot compute (poc_model, custom_model, ...)
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import chevron
from chevron.tokenizer import tokenize

from bundle.errors import BundleError
from bundle.params import Params, validate

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_PATH = REPO_ROOT / "operator_guide.md.mustache"
_MISSING = object()
HTML_ESCAPED = '&<>"'  # what a mustache {{variable}} escapes: in markdown code it would show as &amp; etc.


class TemplateError(BundleError):
    pass


def guide_flags(params: Params, outputs: dict) -> dict[str, Any]:
    """Derived values for sections: mustache can test truthiness, not compare strings."""
    serverless = outputs.get("deployment_mode") == "serverless"
    autoscaling = bool((outputs.get("autoscaling") or {}).get("enabled"))
    deployment = outputs.get("deployment") or {}
    strategy = deployment.get("strategy")
    return {
        "poc_model": params.builds_poc_model,
        "custom_model": not params.builds_poc_model,
        "realtime": not serverless,
        "serverless": serverless,
        "autoscaling": autoscaling,
        "no_autoscaling": not autoscaling,
        "realtime_fixed": not serverless and not autoscaling,
        "provisioned": bool((outputs.get("serverless") or {}).get("provisioned_concurrency")),
        "vpc": params.vpc.enabled,
        "all_at_once": strategy == "ALL_AT_ONCE",
        "canary": strategy == "CANARY",
        "linear": strategy == "LINEAR",
        "auto_rollback": bool(deployment.get("auto_rollback")),
        "alarm_topic": bool(outputs.get("alarm_topic_arn")),
        # The address itself is a secret output: the guide says an email subscription exists, not to whom.
        "alarm_email": bool(params.alarms.email or outputs.get("alarm_email")),
        "data_capture": bool((outputs.get("data_capture") or {}).get("enabled")),
        # bundle/retention.py: Pulumi keeps the bucket unless delete_bucket_on_destroy says otherwise.
        "bucket_kept": bool(outputs.get("bucket")) and not params.delete_bucket_on_destroy,
        "bucket_deleted": bool(outputs.get("bucket")) and params.delete_bucket_on_destroy,
    }


def guide_context(params: Params, outputs: dict) -> dict[str, Any]:
    endpoint = outputs["endpoint"]
    return {
        "params": params.document,
        "artifacts": {"endpoint": endpoint},
        "resources": {"endpoint": endpoint},
        "stack": outputs,
        "guide": guide_flags(params, outputs),
    }


def _lookup(key: str, scopes: list) -> Any:
    """Mustache's lookup: the dotted key in the innermost scope that has its first part."""
    if key == ".":
        return scopes[-1]
    for scope in reversed(scopes):
        value = scope
        for part in key.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = _MISSING
                break
        if value is not _MISSING:
            return value
    return _MISSING


def check_template(template: str, context: dict) -> None:
    """Raise TemplateError naming every tag that is missing or empty where it would render."""
    problems: list[str] = []
    tokens = list(tokenize(template))
    _check(tokens, 0, [context], problems, rendering=True)
    if problems:
        problems = list(dict.fromkeys(problems))  # a tag used in several places is one problem
        raise TemplateError("operator guide template has unresolved tags:\n" + "\n".join(f"  - {p}" for p in problems))


def _check(tokens: list, start: int, scopes: list, problems: list[str], rendering: bool) -> int:
    """Walk tokens from `start` to the matching end tag; returns the index after it."""
    index = start
    while index < len(tokens):
        tag, key = tokens[index]
        index += 1
        if tag == "end":
            return index
        if tag in ("variable", "no escape") and rendering:
            value = _lookup(key, scopes)
            if value is _MISSING:
                problems.append(f"{{{{{key}}}}} is not in the context")
            elif value is None or value == "" or value == [] or value == {}:
                problems.append(f"{{{{{key}}}}} is empty")
            elif tag == "variable" and isinstance(value, str) and any(c in value for c in HTML_ESCAPED):
                problems.append(f"{{{{{key}}}}} = {value!r} would be HTML-escaped in the markdown (mustache escapes {HTML_ESCAPED})")
        elif tag in ("section", "inverted section"):
            value = _lookup(key, scopes) if rendering else None
            if rendering and value is _MISSING:
                problems.append(f"{{{{#{key}}}}} (section) is not in the context")
            renders = rendering and value is not _MISSING and (bool(value) if tag == "section" else not value)
            inner = scopes + [value] if renders and tag == "section" and isinstance(value, dict) else scopes
            if renders and tag == "section" and isinstance(value, list):
                for item in value:  # each item is checked as its own scope
                    end = _check(tokens, index, scopes + [item], problems, rendering=True)
                index = end
            else:
                index = _check(tokens, index, inner, problems, rendering=renders)
        elif tag == "partial":
            problems.append(f"{{{{>{key}}}}}: partials are not used by this guide")
    return index


def render(context: dict, template: str | None = None) -> str:
    template = template if template is not None else TEMPLATE_PATH.read_text()
    check_template(template, context)
    return chevron.render(template, context)


def render_from_outputs(outputs: dict, params: Params | None = None) -> str:
    """Render from `pulumi stack output --json` (which carries the validated params under `params`)."""
    if params is None:
        if "params" not in outputs:
            raise BundleError("the outputs carry no `params`; pass --params FILE")
        params = validate(outputs["params"], source="params in the stack outputs")
    return render(guide_context(params, outputs))


# --- where outputs come from -----------------------------------------------------------------------


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


# --- code blocks (the guide is proven by running them) ----------------------------------------------

BLOCK = re.compile(r"(?:<!--\s*(?P<marker>[a-z-]+):\s*(?P<reason>.*?)\s*-->\s*\n)?```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S)


# Markers an HTML comment right above a block may carry: why it is not run against the emulator.
SKIP_MARKERS = {"not-runnable-locally": "not runnable locally: {reason}", "moto-lacks": "moto does not implement {reason}"}


@dataclass(frozen=True)
class CodeBlock:
    index: int
    language: str
    code: str
    heading: str  # the nearest markdown heading above the block
    skip_reason: str | None  # from a SKIP_MARKERS comment right above the block


def code_blocks(markdown: str) -> list[CodeBlock]:
    blocks = []
    for index, match in enumerate(BLOCK.finditer(markdown)):
        prose = re.sub(r"```.*?```", "", markdown[: match.start()], flags=re.S)  # a '# comment' in code is no heading
        headings = re.findall(r"^#+ (.+)$", prose, re.M)
        marker, reason = match.group("marker"), match.group("reason")
        reason = SKIP_MARKERS[marker].format(reason=reason) if marker in SKIP_MARKERS else None
        blocks.append(CodeBlock(index, match.group("lang"), match.group("code"), headings[-1] if headings else "", reason))
    return blocks
