"""Validation: the schema's rules and the cross-field rules it cannot express, every problem at once with its path.

Messages use JSON's words (true, null, object), suggest the nearest known key for an unknown one, and name
each problem once. `validate` returns the typed `Params` or raises `InvalidParams` listing every problem.
"""
from __future__ import annotations

import difflib
import json
from typing import Any

import jsonschema

from bundle.params import feature_rules, instance_types, rolling_rules, variant_rules
from bundle.params.composition import follow_features
from bundle.params.model import (
    API_OFF,
    Alarms,
    Api,
    ApiThrottle,
    AsyncInference,
    Autoscaling,
    BatchTransform,
    DataCapture,
    Deployment,
    InvalidParams,
    ModelPackageRef,
    MONITORING_OFF,
    Monitoring,
    MultiModel,
    PREPROCESSING_OFF,
    Params,
    Preprocessing,
    Problem,
    ROLLING,
    Serverless,
    SHADOW,
    Variant,
    Vpc,
)
from bundle.params.variant_models import DEFAULT_RECIPE
from bundle.params.schema import ASYNC, MODES, MODES_KEY, SERVERLESS, document_with_defaults, integers, load_schema, with_defaults


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}


def as_json(value: Any) -> str:
    """A value as the user wrote it in JSON (true, null, "text"), not as Python prints it (True, None, 'text')."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def json_type(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def _unknown_keys(unknown: list[str], known: list[str]) -> str:
    """`unknown parameter "x" (did you mean "y"?)`: the nearest known key, by difflib's similarity."""
    parts = []
    for key in unknown:
        near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        parts.append(as_json(key) + (f" (did you mean {as_json(near[0])}?)" if near else ""))
    return f"unknown parameter {', '.join(parts)}"


def _schema_problem(error: jsonschema.ValidationError) -> Problem:
    """jsonschema's message, unless the schema states the rule in words (`x-rule`) or the choices are consts."""
    rule = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        rule = _unknown_keys(sorted(set(error.instance) - set(known)), known)
    elif error.validator in ("oneOf", "anyOf") and not rule:
        choices = [s.get("const") for s in error.validator_value if isinstance(s, dict) and "const" in s]
        if len(choices) == len(error.validator_value):
            rule = f"must be one of {as_json(choices)}"
    if rule and not isinstance(error.instance, (dict, list)) and error.validator != "additionalProperties":
        rule = f"{rule} (got {as_json(error.instance)})"
    if not rule:
        rule = error.message
        if error.validator == "type":  # jsonschema prints the instance the Python way: True, None, {'a': 1}
            value = error.instance
            rule = f"must be {_json_words(error.validator_value)}, got {as_json(value)}"
            if value is not None and not isinstance(value, bool):
                rule += f" ({_json_words(json_type(value))})"
        elif not isinstance(error.instance, (dict, list)) and rule.startswith(repr(error.instance)):
            rule = as_json(error.instance) + rule[len(repr(error.instance)) :]
    return Problem(_path(error.absolute_path), rule)


def _json_words(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(("an " if n[0] in "aeiou" else "a ") + n for n in names)


def _errors(validator: jsonschema.protocols.Validator, document: dict):
    """Leaf errors: an if/then failure is reported by the keyword inside `then` that failed."""
    for error in validator.iter_errors(document):
        if error.validator == "allOf" or (error.context and error.validator not in ("oneOf", "anyOf")):
            yield from error.context
        else:
            yield error


def cross_field_problems(document: dict) -> list[Problem]:
    """The rules JSON Schema cannot state: comparisons between fields."""
    problems: list[Problem] = []
    problems += _rollout_problems(document)
    problems += rolling_rules.rolling_problems(document)
    problems += feature_rules.model_package_problems(document)
    problems += _multi_model_problems(document)
    problems += feature_rules.preprocessing_problems(document)
    problems += variant_rules.variant_problems(document) + variant_rules.shadow_problems(document)
    serverless = document.get("serverless", {})
    provisioned, most = serverless.get("provisioned_concurrency"), serverless.get("max_concurrency")
    if integers(provisioned, most) and provisioned > most:
        problems.append(
            Problem(
                "serverless.provisioned_concurrency",
                f"provisioned_concurrency {provisioned} is greater than max_concurrency {most}: lower it, or raise serverless.max_concurrency",
            )
        )
    scaling = document.get("autoscaling", {})
    initial = document.get("initial_instance_count")
    low, high = scaling.get("min_capacity"), scaling.get("max_capacity")
    if scaling.get("enabled") is True and all(isinstance(v, int) for v in (initial, low, high)):
        if low > high:
            problems.append(Problem("autoscaling.min_capacity", f"min_capacity {low} is greater than max_capacity {high}"))
        elif not low <= initial <= high:
            problems.append(
                Problem(
                    "initial_instance_count",
                    f"initial_instance_count {initial} is outside the autoscaling range [{low}, {high}]: "
                    "every update resets the variant to this count, so it must satisfy min <= initial <= max",
                )
            )
    problems += _api_problems(document.get("api"))
    problems += feature_rules.monitoring_problems(document)
    problems += _instance_type_problems(document)
    vpc = document.get("vpc", {})
    subnets, groups = vpc.get("subnet_ids", []), vpc.get("security_group_ids", [])
    if isinstance(subnets, list) and isinstance(groups, list) and bool(subnets) != bool(groups):
        missing = "security_group_ids" if subnets else "subnet_ids"
        problems.append(Problem(f"vpc.{missing}", "a VPC needs both subnet_ids and security_group_ids (or neither)"))
    return problems


def _instance_type_problems(document: dict) -> list[Problem]:
    """Every variant's instance type against AWS's catalogue and the image (instance_types.py)."""
    if document.get("deployment_mode") == SERVERLESS:
        return []
    sized = [("instance_type", document.get("instance_type"))]
    variants = document.get("variants")
    if isinstance(variants, list):
        sized += [(f"variants.{i}.instance_type", v.get("instance_type")) for i, v in enumerate(variants) if isinstance(v, dict)]
    shadow = document.get("shadow")
    if isinstance(shadow, dict) and shadow.get("enabled") is True:
        sized.append(("shadow.instance_type", shadow.get("instance_type")))
    return [Problem(where, message) for where, value in sized if (message := instance_types.problem(value))]


def _api_problems(api) -> list[Problem]:
    if not isinstance(api, dict) or api.get("enabled") is not True:
        return []
    quota = api.get("quota_per_day")
    if integers(quota) and quota > 0 and api.get("auth") != "api_key":
        return [
            Problem(
                "api.quota_per_day",
                f"a daily quota ({quota}) is counted per API key by a usage plan: set api.auth to api_key, or quota_per_day to 0",
            )
        ]
    return []
def _multi_model_problems(document: dict) -> list[Problem]:
    """What AWS refuses with a multi-model endpoint, and what this bundle's multi-model endpoint needs."""
    multi = document.get("multi_model")
    if not isinstance(multi, dict) or multi.get("enabled") is not True:
        return []
    problems: list[Problem] = []
    if document.get("deployment_mode") == "async":
        problems.append(
            Problem("multi_model.enabled", "AWS does not support asynchronous inference on multi-model endpoints: use deployment_mode realtime, or set multi_model.enabled to false")
        )
    if document.get("variants"):
        problems.append(Problem("variants", "this bundle serves one production variant on a multi-model endpoint: remove variants, or set multi_model.enabled to false"))
    if (document.get("shadow") or {}).get("enabled") is True:
        problems.append(Problem("shadow.enabled", "AWS does not support shadow variants on multi-model endpoints: set shadow.enabled to false, or multi_model.enabled to false"))
    if (document.get("data_capture") or {}).get("enabled") is True:
        problems.append(
            Problem("data_capture.enabled", "AWS does not support data capture (nor Model Monitor) on multi-model endpoints: set data_capture.enabled to false, or multi_model.enabled to false")
        )
    if document.get("model_source") in ("custom-s3", "model-package"):
        problems.append(
            Problem(
                "model_source",
                "a multi-model endpoint serves multi_model.models, not model_source: keep model_source poc-sklearn and list your "
                "archive's s3:// URI in multi_model.models",
            )
        )
    if document.get("enable_network_isolation") is True:
        problems.append(
            Problem(
                "enable_network_isolation",
                "enable_network_isolation true conflicts with multi_model.enabled true: a multi-model endpoint of the scikit-learn image downloads its handlers (code/inference.py, packed as sourcedir.tar.gz) "
                "from S3 when the container starts, which network isolation forbids: leave enable_network_isolation out (it then defaults to false) or set it to false",
            )
        )
    return problems



def _rollout_problems(document: dict) -> list[Problem]:
    """Guardrail settings that AWS would refuse, or that would make the rollback unable to happen."""
    problems: list[Problem] = []
    rollout, alarms = document.get("deployment", {}), document.get("alarms", {})
    strategy, count = rollout.get("strategy"), document.get("initial_instance_count")
    if strategy in ("CANARY", "LINEAR") and integers(count) and count < 2:
        problems.append(
            Problem(
                "deployment.strategy",
                f"{strategy} shifts traffic a share of the fleet's instances at a time, which needs at least 2 instances "
                f"(initial_instance_count is {count}): use ALL_AT_ONCE, or set initial_instance_count to 2 or more",
            )
        )
    keys = ("wait_interval_seconds", "termination_wait_seconds", "maximum_execution_timeout_seconds", "canary_size_percent", "linear_step_percent")
    rolling = rolling_rules.rolling_of(rollout.get("rolling"), count) if strategy == ROLLING else None
    known = strategy in ("ALL_AT_ONCE", "CANARY", "LINEAR") or (rolling is not None and rolling.fleet >= 2)
    if known and integers(*(rollout.get(k) for k in keys)):
        settings = Deployment(strategy=strategy, auto_rollback=bool(rollout.get("auto_rollback")), rolling=rolling, **{k: rollout[k] for k in keys})
        timeout = settings.maximum_execution_timeout_seconds
        if timeout <= settings.total_wait_seconds:
            waits = (
                f"(one per batch of {rolling_rules.describe(rolling.batch)} of {rolling.fleet} instances)"
                if rolling is not None
                else f"plus a termination wait of {settings.termination_wait_seconds} s"
            )
            problems.append(
                Problem(
                    "deployment.maximum_execution_timeout_seconds",
                    f"maximum_execution_timeout_seconds {timeout} must exceed the rollout's waiting: {settings.baking_periods} "
                    f"baking period(s) of {settings.wait_interval_seconds} s {waits} = {settings.total_wait_seconds} s, and "
                    "leave time to provision the new fleet",
                )
            )
        period, periods = alarms.get("period_seconds"), alarms.get("evaluation_periods")
        if settings.auto_rollback and integers(period, periods) and settings.wait_interval_seconds < period * periods:
            problems.append(
                Problem(
                    "deployment.wait_interval_seconds",
                    f"a baking period of {settings.wait_interval_seconds} s is shorter than the alarms' window "
                    f"(alarms.period_seconds {period} x alarms.evaluation_periods {periods} = {period * periods} s): no alarm "
                    "could fire before the rollout moves on, so nothing would roll back; raise wait_interval_seconds or shorten the alarms",
                )
            )
    return problems


def _document(schema: dict, raw: dict) -> dict:
    """The document as validated: the defaults the enabled features imply, then the schema's for the mode."""
    return document_with_defaults(schema, follow_features(raw, schema["properties"]["deployment_mode"]["default"]))


def problems_in(raw: Any, schema: dict | None = None) -> list[Problem]:
    schema = schema or load_schema()
    if not isinstance(raw, dict):
        return [Problem("(root)", f"params must be a JSON object, got a JSON {json_type(raw)}")]
    document = _document(schema, raw)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [_schema_problem(e) for e in _errors(validator, document)]
    if document.get("deployment_mode") not in MODES:
        # An unknown mode is the one problem: which keys belong to which mode cannot be judged without it.
        moded = {k for k, sub in schema["properties"].items() if MODES_KEY in sub} | {SERVERLESS}
        found = [p for p in found if p.path.split(".")[0] not in moded]
    # A field already wrong on its own is not compared with others: one problem, one message.
    found += [p for p in cross_field_problems(document) if p.path not in {f.path for f in found}]
    found += aws_limit_problems(document, found)
    unique = {(p.path, p.message): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.path, p.message))


def aws_limit_problems(document: dict, found: list[Problem]) -> list[Problem]:
    """What AWS itself would refuse (bundle/params/aws_limits.py: botocore's service models): checked once the params are
    valid on their own, except non-finite numbers, which are always named."""
    from bundle.params import aws_limits

    if found:
        return [Problem(path, "must be a finite number") for path in aws_limits.non_finite_numbers(document)]
    return [Problem(field, message) for field, message in aws_limits.problems(document)]


def validate(raw: Any, source: str = "params") -> Params:
    """Defaults filled from the schema, then every rule checked: a Params, or InvalidParams naming each problem."""
    schema = load_schema()
    found = problems_in(raw, schema)
    if found:
        raise InvalidParams(found, source)
    d = _document(schema, raw)
    # What does not apply to the mode is absent from `d`: the typed view gets its off state (defaults, disabled).
    off = with_defaults(schema, {"vpc": {}, "autoscaling": {}, "data_capture": {}, "multi_model": {}})
    return Params(
        endpoint_name=d["endpoint_name"],
        deployment_mode=d["deployment_mode"],
        model_source=d["model_source"],
        custom_model_s3_uri=d["custom_model_s3_uri"],
        serving_image_version=d["serving_image_version"],
        variants=_variants(d, off),
        async_inference=AsyncInference(**d["async_inference"]) if d["deployment_mode"] == ASYNC else None,
        batch_transform=BatchTransform(**d["batch_transform"]),
        deployment=_deployment(d),
        alarms=Alarms(**d["alarms"]),
        data_capture=DataCapture(**d.get("data_capture", off["data_capture"])),
        enable_network_isolation=d.get("enable_network_isolation", False),
        kms_key_arn=d["kms_key_arn"],
        vpc=Vpc(*(tuple(d.get("vpc", off["vpc"])[k]) for k in ("subnet_ids", "security_group_ids"))),
        tags=dict(d["tags"]),
        document=d,
        delete_bucket_on_destroy=d["delete_bucket_on_destroy"],
        multi_model=_multi_model(d.get("multi_model"), off),
        api=_api(d.get("api")),
        preprocessing=Preprocessing(**d["preprocessing"]) if d.get("preprocessing") else PREPROCESSING_OFF,
        model_package=_model_package(d),
        monitoring=_monitoring(d.get("monitoring")),
    )


def _variants(d: dict, off: dict) -> tuple[Variant, ...]:
    """The endpoint's variants, one type: the flat params are the primary's short form, then `variants`, then the shadow."""
    serverless = d["deployment_mode"] == SERVERLESS
    package = _model_package(d)
    if package is not None:
        primary_model = package.text
    elif d["model_source"] == "poc-sklearn" and not (d.get("multi_model") or {}).get("enabled"):
        primary_model = DEFAULT_RECIPE
    else:
        primary_model = d["custom_model_s3_uri"]
    primary = Variant(
        d["variant_name"],
        primary_model,
        float(d.get("variant_weight", 1)),
        instance_type=d.get("instance_type"),
        initial_instance_count=d.get("initial_instance_count"),
        serverless=Serverless(**d["serverless"]) if serverless else None,
        autoscaling=Autoscaling(**{**d.get("autoscaling", off["autoscaling"]), **({"enabled": False} if serverless else {})}),
    )
    extra = [
        Variant(v["name"], v["model"], float(v["weight"]), v["instance_type"], v["initial_instance_count"], autoscaling=Autoscaling(**v["autoscaling"]))
        for v in d.get("variants", [])
    ]
    shadow = d.get("shadow") or {}
    if shadow.get("enabled"):
        extra.append(Variant(shadow["name"], shadow["model"], float(shadow["weight"]), shadow["instance_type"], shadow["initial_instance_count"], role=SHADOW))
    return (primary, *extra)


def _deployment(d: dict) -> Deployment:
    """The rollout settings; a rolling update's batches are counted against the primary's instances."""
    settings = dict(d["deployment"])
    block = settings.pop("rolling", None)
    rolling = rolling_rules.rolling_of(block, d.get("initial_instance_count")) if settings["strategy"] == ROLLING else None
    return Deployment(**settings, rolling=rolling)


def _api(document: dict | None) -> Api:
    """`api` has no default of its own, so a document without it stays as it was (the default plan is unchanged)."""
    if not document:
        return API_OFF
    return Api(
        enabled=document["enabled"],
        integration=document["integration"],
        auth=document["auth"],
        throttle=ApiThrottle(**document["throttle"]),
        quota_per_day=document["quota_per_day"],
    )


def _model_package(d: dict) -> ModelPackageRef | None:
    if d["model_source"] != "model-package":
        return None
    return ModelPackageRef(group=d["model_package"]["group"], arn=d["model_package"]["arn"])
def _monitoring(document: dict | None) -> Monitoring:
    """`monitoring` has no default of its own (x-absent-unless-set): a document without it plans as before."""
    if not document:
        return MONITORING_OFF
    return Monitoring(**{**document, "accuracy_threshold": float(document["accuracy_threshold"])})


def _multi_model(settings: dict | None, off: dict) -> MultiModel:
    settings = settings or off["multi_model"]
    return MultiModel(enabled=settings["enabled"], models=tuple(settings["models"]), cache=settings["cache"])


# --- sources -------------------------------------------------------------------------------------
