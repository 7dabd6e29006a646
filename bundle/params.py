"""The bundle's parameters: where they come from, their defaults, and their validation.

`params.schema.json` is the single source: types, ranges, defaults, labelled choices and the
cross-field rules JSON Schema can express (if/then). The rules it cannot express (comparisons
between fields) are `cross_field_problems` below. Every problem is reported at once, each with
its path and the rule it breaks.

Sources, in this order: an explicit `--params FILE`, then the BUNDLE_PARAMS_FILE environment
variable (a catalog's params file), then Pulumi config (`pulumi config set <project>:key value`,
structured values with `--path`). A params file and Pulumi config together are refused rather
than silently merged.
"""
from __future__ import annotations

import copy
import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jsonschema

from bundle.errors import BundleError

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = REPO_ROOT / "params.schema.json"
PARAMS_FILE_ENV = "BUNDLE_PARAMS_FILE"
# A property marked with the modes it applies to gets no default in the other mode, so that a key the
# user did set there can be told apart from a default (the schema then names it as not applicable).
MODES_KEY = "x-deployment-modes"
REALTIME, SERVERLESS = "realtime", "serverless"


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


@dataclass(frozen=True)
class Problem:
    path: str  # dotted, e.g. "autoscaling.min_capacity"; "(root)" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidParams(BundleError):
    def __init__(self, problems: list[Problem], source: str = "params"):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} are invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")


@dataclass(frozen=True)
class Autoscaling:
    enabled: bool
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float
    scale_in_cooldown: int
    scale_out_cooldown: int


@dataclass(frozen=True)
class Serverless:
    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int  # 0: on demand only


@dataclass(frozen=True)
class Deployment:
    strategy: str  # ALL_AT_ONCE | CANARY | LINEAR
    canary_size_percent: int
    linear_step_percent: int
    wait_interval_seconds: int
    termination_wait_seconds: int
    maximum_execution_timeout_seconds: int
    auto_rollback: bool

    @property
    def baking_periods(self) -> int:
        """How many times SageMaker waits wait_interval_seconds in one rollout: one per traffic shift."""
        if self.strategy == "CANARY":
            return 2
        if self.strategy == "LINEAR":
            return -(-100 // self.linear_step_percent)  # ceil: the last step may be smaller
        return 1

    @property
    def total_wait_seconds(self) -> int:
        return self.baking_periods * self.wait_interval_seconds + self.termination_wait_seconds


@dataclass(frozen=True)
class Alarms:
    period_seconds: int
    evaluation_periods: int
    invocation_5xx_threshold: int
    model_latency_percentile: str
    model_latency_threshold_ms: float
    email: str
    topic_arn: str

    @property
    def window_seconds(self) -> int:
        """The shortest time in which an alarm can go from OK to ALARM."""
        return self.period_seconds * self.evaluation_periods


@dataclass(frozen=True)
class DataCapture:
    enabled: bool
    sampling_percentage: int
    destination_s3_uri: str  # "" = the bundle's bucket
    kms_key_arn: str


@dataclass(frozen=True)
class Vpc:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return bool(self.subnet_ids)


@dataclass(frozen=True)
class Params:
    endpoint_name: str
    deployment_mode: str  # realtime | serverless
    model_source: str
    custom_model_s3_uri: str
    serving_image_version: str
    instance_type: str | None  # None when serverless
    initial_instance_count: int | None  # None when serverless
    variant_name: str
    autoscaling: Autoscaling  # enabled is False when serverless
    serverless: Serverless | None  # None when realtime
    deployment: Deployment
    alarms: Alarms
    data_capture: DataCapture  # enabled is False when serverless
    enable_network_isolation: bool
    kms_key_arn: str
    vpc: Vpc
    tags: dict[str, str]
    document: dict  # the validated document with every default that applies filled in: the guide's `params`
    delete_bucket_on_destroy: bool = False  # False: Pulumi never deletes the bundle's bucket (it may hold captured data)

    @property
    def builds_poc_model(self) -> bool:
        return self.model_source == "poc-sklearn"

    @property
    def is_serverless(self) -> bool:
        return self.deployment_mode == SERVERLESS

    @property
    def captures_into_bundle_bucket(self) -> bool:
        return self.data_capture.enabled and not self.data_capture.destination_s3_uri

    @property
    def needs_bucket(self) -> bool:
        """The bundle's bucket holds the POC artifact and, unless told otherwise, captured data."""
        return self.builds_poc_model or self.captures_into_bundle_bucket


# --- defaults and validation --------------------------------------------------------------------


def with_defaults(schema: dict, value: Any, mode: str | None = None) -> Any:
    """Fill the schema's `default`s into objects, recursively (jsonschema validates, it does not fill).

    With a deployment `mode`, properties marked for other modes get no default: what is left is what the user set.
    """
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, subschema in schema.get("properties", {}).items():
        applies = mode is None or mode in subschema.get(MODES_KEY, [mode])
        if key not in filled and "default" in subschema and applies:
            filled[key] = copy.deepcopy(subschema["default"])
        if key in filled:
            filled[key] = with_defaults(subschema, filled[key])
    return filled


def document_with_defaults(schema: dict, raw: dict) -> dict:
    """The params document as validated: defaults filled for the chosen deployment mode only."""
    mode = raw.get("deployment_mode", schema["properties"]["deployment_mode"]["default"])
    return with_defaults(schema, raw, mode if mode in (REALTIME, SERVERLESS) else None)


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
    serverless = document.get("serverless", {})
    provisioned, most = serverless.get("provisioned_concurrency"), serverless.get("max_concurrency")
    if _ints(provisioned, most) and provisioned > most:
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
    vpc = document.get("vpc", {})
    subnets, groups = vpc.get("subnet_ids", []), vpc.get("security_group_ids", [])
    if isinstance(subnets, list) and isinstance(groups, list) and bool(subnets) != bool(groups):
        missing = "security_group_ids" if subnets else "subnet_ids"
        problems.append(Problem(f"vpc.{missing}", "a VPC needs both subnet_ids and security_group_ids (or neither)"))
    return problems


def _ints(*values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _rollout_problems(document: dict) -> list[Problem]:
    """Guardrail settings that AWS would refuse, or that would make the rollback unable to happen."""
    problems: list[Problem] = []
    rollout, alarms = document.get("deployment", {}), document.get("alarms", {})
    strategy, count = rollout.get("strategy"), document.get("initial_instance_count")
    if strategy in ("CANARY", "LINEAR") and _ints(count) and count < 2:
        problems.append(
            Problem(
                "deployment.strategy",
                f"{strategy} shifts traffic a share of the fleet's instances at a time, which needs at least 2 instances "
                f"(initial_instance_count is {count}): use ALL_AT_ONCE, or set initial_instance_count to 2 or more",
            )
        )
    keys = ("wait_interval_seconds", "termination_wait_seconds", "maximum_execution_timeout_seconds", "canary_size_percent", "linear_step_percent")
    if strategy in ("ALL_AT_ONCE", "CANARY", "LINEAR") and _ints(*(rollout.get(k) for k in keys)):
        settings = Deployment(strategy=strategy, auto_rollback=bool(rollout.get("auto_rollback")), **{k: rollout[k] for k in keys})
        timeout = settings.maximum_execution_timeout_seconds
        if timeout <= settings.total_wait_seconds:
            problems.append(
                Problem(
                    "deployment.maximum_execution_timeout_seconds",
                    f"maximum_execution_timeout_seconds {timeout} must exceed the rollout's waiting: {settings.baking_periods} "
                    f"baking period(s) of {settings.wait_interval_seconds} s plus a termination wait of "
                    f"{settings.termination_wait_seconds} s = {settings.total_wait_seconds} s, and leave time to provision the new fleet",
                )
            )
        period, periods = alarms.get("period_seconds"), alarms.get("evaluation_periods")
        if settings.auto_rollback and _ints(period, periods) and settings.wait_interval_seconds < period * periods:
            problems.append(
                Problem(
                    "deployment.wait_interval_seconds",
                    f"a baking period of {settings.wait_interval_seconds} s is shorter than the alarms' window "
                    f"(alarms.period_seconds {period} x alarms.evaluation_periods {periods} = {period * periods} s): no alarm "
                    "could fire before the rollout moves on, so nothing would roll back; raise wait_interval_seconds or shorten the alarms",
                )
            )
    return problems


def problems_in(raw: Any, schema: dict | None = None) -> list[Problem]:
    schema = schema or load_schema()
    if not isinstance(raw, dict):
        return [Problem("(root)", f"params must be a JSON object, got a JSON {json_type(raw)}")]
    document = document_with_defaults(schema, raw)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [_schema_problem(e) for e in _errors(validator, document)]
    if document.get("deployment_mode") not in (REALTIME, SERVERLESS):
        # An unknown mode is the one problem: which keys belong to which mode cannot be judged without it.
        moded = {k for k, sub in schema["properties"].items() if MODES_KEY in sub} | {SERVERLESS}
        found = [p for p in found if p.path.split(".")[0] not in moded]
    # A field already wrong on its own is not compared with others: one problem, one message.
    found += [p for p in cross_field_problems(document) if p.path not in {f.path for f in found}]
    found += aws_limit_problems(document, found)
    unique = {(p.path, p.message): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.path, p.message))


def aws_limit_problems(document: dict, found: list[Problem]) -> list[Problem]:
    """What AWS itself would refuse (bundle/aws_limits.py: botocore's service models): checked once the params are
    valid on their own, except non-finite numbers, which are always named."""
    from bundle import aws_limits

    if found:
        return [Problem(path, "must be a finite number") for path in aws_limits.non_finite_numbers(document)]
    return [Problem(field, message) for field, message in aws_limits.problems(document)]


def validate(raw: Any, source: str = "params") -> Params:
    """Defaults filled from the schema, then every rule checked: a Params, or InvalidParams naming each problem."""
    schema = load_schema()
    found = problems_in(raw, schema)
    if found:
        raise InvalidParams(found, source)
    d = document_with_defaults(schema, raw)
    # What does not apply to the mode is absent from `d`: the typed view gets its off state (defaults, disabled).
    off = with_defaults(schema, {"vpc": {}, "autoscaling": {}, "data_capture": {}})
    serverless = d["deployment_mode"] == SERVERLESS
    return Params(
        endpoint_name=d["endpoint_name"],
        deployment_mode=d["deployment_mode"],
        model_source=d["model_source"],
        custom_model_s3_uri=d["custom_model_s3_uri"],
        serving_image_version=d["serving_image_version"],
        instance_type=d.get("instance_type"),
        initial_instance_count=d.get("initial_instance_count"),
        variant_name=d["variant_name"],
        autoscaling=Autoscaling(**{**d.get("autoscaling", off["autoscaling"]), **({"enabled": False} if serverless else {})}),
        serverless=Serverless(**d["serverless"]) if serverless else None,
        deployment=Deployment(**d["deployment"]),
        alarms=Alarms(**d["alarms"]),
        data_capture=DataCapture(**d.get("data_capture", off["data_capture"])),
        enable_network_isolation=d.get("enable_network_isolation", False),
        kms_key_arn=d["kms_key_arn"],
        vpc=Vpc(*(tuple(d.get("vpc", off["vpc"])[k]) for k in ("subnet_ids", "security_group_ids"))),
        tags=dict(d["tags"]),
        document=d,
        delete_bucket_on_destroy=d["delete_bucket_on_destroy"],
    )


# --- sources -------------------------------------------------------------------------------------


def read_params_file(path: str | Path) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise BundleError(f"cannot read params file {path}: {e.strerror}") from None
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise BundleError(f"params file {path} is not valid JSON: {e}") from None
    except ValueError as e:
        raise BundleError(f"params file {path}: {e}") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    """JSON parsers keep the last of two equal keys without a word: one of the two values would be silently lost."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {as_json(key)} appears twice in one object; keep one")
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; AWS takes finite numbers only")


def params_file_from_env() -> str | None:
    return os.environ.get(PARAMS_FILE_ENV) or None


def coerce_to_schema(schema: dict, value: Any) -> Any:
    """Pulumi config holds strings ('4', 'true'); turn them into the schema's type where they parse."""
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        return {k: coerce_to_schema(properties.get(k, extra), v) for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [coerce_to_schema(schema.get("items", {}), v) for v in value]
    if isinstance(value, str) and kind in ("integer", "number", "boolean"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if kind == "boolean" and isinstance(parsed, bool):
            return parsed
        if kind in ("integer", "number") and isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            return parsed
    if kind in ("object", "array") and isinstance(value, str):
        try:
            return coerce_to_schema(schema, json.loads(value))
        except ValueError:
            return value
    return value


def params_from_config(get: Callable[[str], Any]) -> dict:
    """Project config keys named like the schema's properties; `get(key)` returns the raw value or None."""
    schema = load_schema()
    raw = {}
    for key, subschema in schema["properties"].items():
        value = get(key)
        if value is not None:
            raw[key] = coerce_to_schema(subschema, value)
    return raw


def resolve(
    params_file: str | None = None,
    config_get: Callable[[str], Any] | None = None,
    adjust: Callable[[dict], dict] | None = None,
) -> Params:
    """The one way params enter the program: a file (flag or env), else Pulumi config, else defaults.

    `adjust` changes the raw document before validation (a catalog's connections and metadata fill it in).
    """
    adjust = adjust or (lambda raw: raw)
    params_file = params_file or params_file_from_env()
    from_config = params_from_config(config_get) if config_get else {}
    if params_file:
        if from_config:
            raise BundleError(
                f"params come from {params_file} but Pulumi config also sets {sorted(from_config)}; "
                f"use one source (unset the config keys, or unset {PARAMS_FILE_ENV})"
            )
        return validate(adjust(read_params_file(params_file)), source=f"params in {params_file}")
    return validate(adjust(from_config), source="Pulumi config params" if from_config else "default params")


# --- documentation -------------------------------------------------------------------------------


def markdown_table(schema: dict | None = None) -> str:
    """The README's parameter table, generated from the schema (a test keeps the README in step)."""
    schema = schema or load_schema()
    rows = ["| parameter | type | default | description |", "|---|---|---|---|"]

    def walk(properties: dict, prefix: str) -> None:
        for key, sub in properties.items():
            kind = sub.get("type", "")
            choices = [c["const"] for c in sub.get("oneOf", []) if "const" in c]
            if choices:
                kind = " \\| ".join(f"`{c}`" for c in choices)
            default = "" if kind == "object" else f"`{json.dumps(sub.get('default'))}`"
            description = sub["description"].replace("|", "\\|").replace("\n", " ")
            if MODES_KEY in sub:
                description += f" ({' and '.join(sub[MODES_KEY])} only)"
            rows.append(f"| `{prefix}{key}` | {kind} | {default} | {sub['title']}. {description} |")
            if kind == "object":
                walk(sub.get("properties", {}), f"{prefix}{key}.")

    walk(schema["properties"], "")
    return "\n".join(rows)
