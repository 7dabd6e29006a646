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
class Vpc:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return bool(self.subnet_ids)


@dataclass(frozen=True)
class Params:
    endpoint_name: str
    model_source: str
    custom_model_s3_uri: str
    serving_image_version: str
    instance_type: str
    initial_instance_count: int
    variant_name: str
    autoscaling: Autoscaling
    enable_network_isolation: bool
    kms_key_arn: str
    vpc: Vpc
    tags: dict[str, str]
    document: dict  # the validated document with every default filled in: the guide's `params`

    @property
    def builds_poc_model(self) -> bool:
        return self.model_source == "poc-sklearn"


# --- defaults and validation --------------------------------------------------------------------


def with_defaults(schema: dict, value: Any) -> Any:
    """Fill the schema's `default`s into objects, recursively (jsonschema validates, it does not fill)."""
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, subschema in schema.get("properties", {}).items():
        if key not in filled and "default" in subschema:
            filled[key] = copy.deepcopy(subschema["default"])
        if key in filled:
            filled[key] = with_defaults(subschema, filled[key])
    return filled


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


def _schema_problem(error: jsonschema.ValidationError) -> Problem:
    """jsonschema's message, unless the schema states the rule in words (`x-rule`) or the choices are consts."""
    rule = error.schema.get("x-rule") if isinstance(error.schema, dict) else None
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        rule = f"unknown parameter {', '.join(repr(u) for u in unknown)}"
    elif error.validator in ("oneOf", "anyOf") and not rule:
        choices = [s.get("const") for s in error.validator_value if isinstance(s, dict) and "const" in s]
        if len(choices) == len(error.validator_value):
            rule = f"must be one of {choices}"
    if rule and not isinstance(error.instance, (dict, list)) and error.validator != "additionalProperties":
        rule = f"{rule} (got {error.instance!r})"
    return Problem(_path(error.absolute_path), rule or error.message)


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


def problems_in(raw: Any, schema: dict | None = None) -> list[Problem]:
    schema = schema or load_schema()
    if not isinstance(raw, dict):
        return [Problem("(root)", f"params must be a JSON object, got {type(raw).__name__}")]
    document = with_defaults(schema, raw)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = [_schema_problem(e) for e in _errors(validator, document)]
    # A field already wrong on its own is not compared with others: one problem, one message.
    found += [p for p in cross_field_problems(document) if p.path not in {f.path for f in found}]
    unique = {(p.path, p.message): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.path, p.message))


def validate(raw: Any, source: str = "params") -> Params:
    """Defaults filled from the schema, then every rule checked: a Params, or InvalidParams naming each problem."""
    schema = load_schema()
    found = problems_in(raw, schema)
    if found:
        raise InvalidParams(found, source)
    d = with_defaults(schema, raw)
    return Params(
        endpoint_name=d["endpoint_name"],
        model_source=d["model_source"],
        custom_model_s3_uri=d["custom_model_s3_uri"],
        serving_image_version=d["serving_image_version"],
        instance_type=d["instance_type"],
        initial_instance_count=d["initial_instance_count"],
        variant_name=d["variant_name"],
        autoscaling=Autoscaling(**d["autoscaling"]),
        enable_network_isolation=d["enable_network_isolation"],
        kms_key_arn=d["kms_key_arn"],
        vpc=Vpc(tuple(d["vpc"]["subnet_ids"]), tuple(d["vpc"]["security_group_ids"])),
        tags=dict(d["tags"]),
        document=d,
    )


# --- sources -------------------------------------------------------------------------------------


def read_params_file(path: str | Path) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise BundleError(f"cannot read params file {path}: {e.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BundleError(f"params file {path} is not valid JSON: {e}") from None


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


def resolve(params_file: str | None = None, config_get: Callable[[str], Any] | None = None) -> Params:
    """The one way params enter the program: a file (flag or env), else Pulumi config, else defaults."""
    params_file = params_file or params_file_from_env()
    from_config = params_from_config(config_get) if config_get else {}
    if params_file:
        if from_config:
            raise BundleError(
                f"params come from {params_file} but Pulumi config also sets {sorted(from_config)}; "
                f"use one source (unset the config keys, or unset {PARAMS_FILE_ENV})"
            )
        return validate(read_params_file(params_file), source=f"params in {params_file}")
    return validate(from_config, source="Pulumi config params" if from_config else "default params")


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
            rows.append(f"| `{prefix}{key}` | {kind} | {default} | {sub['title']}. {description} |")
            if kind == "object":
                walk(sub.get("properties", {}), f"{prefix}{key}.")

    walk(schema["properties"], "")
    return "\n".join(rows)
