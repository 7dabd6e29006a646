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
  guide                  booleans for sections mustache cannot compute (poc_model, custom_model, model_package, ...)
"""
from __future__ import annotations

import json
import math
from typing import Any

import chevron
from chevron.tokenizer import tokenize

from bundle.paths import GUIDE_TEMPLATE
from bundle.errors import BundleError
from bundle.params.model import Params
from bundle.params.rolling_rules import describe
from bundle.params.rules import validate

TEMPLATE_PATH = GUIDE_TEMPLATE
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
    multi_model = bool(outputs.get("multi_model"))
    package = outputs.get("model_package") or {}
    return {
        "poc_model": params.builds_poc_model,
        "custom_model": params.model_source == "custom-s3" and not multi_model,
        # model_source model-package: the Model Registry version (a group's latest Approved, or a pinned ARN).
        "model_package": bool(package),
        "model_package_group": package.get("reference") == "group",
        "model_package_pinned": package.get("reference") == "arn",
        "multi_model": multi_model,
        "single_model": not multi_model,
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
        "rolling": strategy == "ROLLING",
        "blue_green": strategy != "ROLLING",
        "auto_rollback": bool(deployment.get("auto_rollback")),
        "alarm_topic": bool(outputs.get("alarm_topic_arn")),
        # The address itself is a secret output: the guide says an email subscription exists, not to whom.
        "alarm_email": bool(params.alarms.email or outputs.get("alarm_email")),
        "data_capture": bool((outputs.get("data_capture") or {}).get("enabled")),
        # bundle/deploy/storage.py: Pulumi keeps the bucket unless delete_bucket_on_destroy says otherwise.
        "bucket_kept": bool(outputs.get("bucket")) and not params.delete_bucket_on_destroy,
        "bucket_deleted": bool(outputs.get("bucket")) and params.delete_bucket_on_destroy,
        # Asynchronous inference and batch transform: their sections, and the real-time ones they replace.
        "asynchronous": bool(outputs.get("async_inference")),
        "synchronous": not outputs.get("async_inference"),
        "invocation_scaling": autoscaling and not outputs.get("async_inference"),
        "backlog_scaling": autoscaling and bool(outputs.get("async_inference")),
        "scale_to_zero": bool((outputs.get("async_inference") or {}).get("scale_to_zero")),
        "async_topics": bool((outputs.get("async_inference") or {}).get("success_topic_arn") or (outputs.get("async_inference") or {}).get("error_topic_arn")),
        "batch": bool(outputs.get("batch_transform")),
        # The inference pipeline: a preprocessing container before the model's (preprocessing.enabled).
        "pipeline": bool(outputs.get("preprocessing")),
        "pipeline_in_mm": (outputs.get("preprocessing") or {}).get("unit") == "mm",
        "monitoring": bool(outputs.get("monitoring")),  # model quality: ground truth, accuracy, drift, Model Monitor
        **api_flags(outputs),
        # A/B variants and the shadow: the first extra variant is the guide's challenger.
        **_variant_flags(params),
    }


def _variant_flags(params: Params) -> dict[str, Any]:
    ab = len(params.production_variants) > 1
    return {
        "ab_variants": ab,
        "challenger": params.production_variants[1].name if ab else False,
        "shadow_variant": params.shadow is not None,
        "expect_weights": " ".join(f"--expect-weight {v.name}={v.weight:g}" for v in params.production_variants) if ab else False,
    }


def guide_values(params: Params, outputs: dict) -> dict[str, Any]:
    """Values the guide prints that mustache cannot compute (not section flags): numbers, and policies as JSON
    text for {{{triple}}} tags."""
    api = outputs.get("api") or {}
    invoke_policy = (outputs.get("endpoint") or {}).get("invoke_policy")
    return {
        "model_package_label": model_package_label(outputs.get("model_package")),
        # The manual rollback's timing: every baking period and the termination wait of one rollout.
        "rollout_wait_seconds": params.deployment.total_wait_seconds,
        "rollout_blue_green_instances": (params.primary.initial_instance_count or 0) * 2,
        **_rolling_values(params),
        # The stack's params as the guide's local rehearsals read them (the exported, public document).
        "params_json": json.dumps(outputs.get("params") or {}, sort_keys=True),
        "api_caller_policy_json": json.dumps(api["invoke_policy"], indent=2) if api.get("invoke_policy") else "",
        "invoke_policy_json": json.dumps(invoke_policy, indent=2) if invoke_policy else "",
    }


def _rolling_values(params: Params) -> dict[str, Any]:
    """A rolling update's batches in words (bundle/params/rolling_rules.py), and the instances one batch adds."""
    rolling = params.deployment.rolling
    if rolling is None:
        return {"rolling_batch": "", "rollback_batch": "", "rollout_extra_instances": 0}
    back = rolling.rollback_batch
    return {
        "rolling_batch": describe(rolling.batch),
        "rollback_batch": f"{describe(back)} at a time" if back else "all at once",
        "rollout_extra_instances": max(1, math.floor(rolling.batch.instances(rolling.fleet))),
    }


def model_package_label(package: dict | None) -> str:
    """'version 3 of group iris-classifier, Approved' (an unversioned package has no group or version)."""
    if not package:
        return ""
    where = f"version {package['version']} of group {package['group']}" if package.get("version") else "an unversioned model package"
    return f"{where}, {package['approval_status'] or 'no approval status'}"


def api_flags(outputs: dict) -> dict[str, bool]:
    """The REST front's sections (bundle/deploy/api.py)."""
    api = outputs.get("api") or {}
    return {
        "api": bool(api),
        "no_api": not api,
        "api_iam": api.get("auth") == "iam",
        "api_key": api.get("auth") == "api_key",
        "api_direct": api.get("integration") == "direct",
        "api_lambda": api.get("integration") == "lambda",
        "api_quota": bool(api.get("quota_per_day")),
    }


def guide_context(params: Params, outputs: dict) -> dict[str, Any]:
    endpoint = outputs["endpoint"]
    return {
        "params": params.document,
        "artifacts": {"endpoint": endpoint},
        "resources": {"endpoint": endpoint},
        "stack": outputs,
        "guide": {**guide_flags(params, outputs), **guide_values(params, outputs)},
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
