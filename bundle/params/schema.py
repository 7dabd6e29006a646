"""`params.schema.json`: loading it, filling its defaults (mode-aware), and coercing Pulumi config strings to its types."""
from __future__ import annotations

import copy
import json
from typing import Any


from bundle.paths import SCHEMA_PATH



# A property marked with the modes it applies to gets no default in the other mode, so that a key the
# user did set there can be told apart from a default (the schema then names it as not applicable).
MODES_KEY = "x-deployment-modes"
# An optional feature whose object stays out of the document until the user sets it (its defaults then fill in):
# the params of a deployment that does not use it, hence its plan and outputs, stay as they were before it existed.
ABSENT_UNLESS_SET_KEY = "x-absent-unless-set"
REALTIME, SERVERLESS, ASYNC = "realtime", "serverless", "async"
MODES = (REALTIME, SERVERLESS, ASYNC)



def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())



def with_defaults(schema: dict, value: Any, mode: str | None = None, root: dict | None = None) -> Any:
    """Fill the schema's `default`s into objects, recursively (jsonschema validates, it does not fill).

    With a deployment `mode`, properties marked for other modes get no default: what is left is what the user set.
    """
    root = root if root is not None else schema
    schema = resolved(root, schema)
    if schema.get("type") == "array" and isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [with_defaults(schema["items"], item, root=root) for item in value]  # e.g. each of `variants`
    if schema.get("type") != "object" or not isinstance(value, dict):
        return value
    filled = dict(value)
    for key, subschema in schema.get("properties", {}).items():
        applies = mode is None or mode in subschema.get(MODES_KEY, [mode])
        if key not in filled and "default" in subschema and applies and not subschema.get(ABSENT_UNLESS_SET_KEY):
            filled[key] = copy.deepcopy(subschema["default"])
        if key in filled:
            filled[key] = with_defaults(subschema, filled[key], root=root)
    return filled


def resolved(root: dict, schema: dict) -> dict:
    """A subschema with its local `$ref` (`#/properties/...`) merged in: its own keywords win."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not ref or not ref.startswith("#/"):
        return schema
    target: dict = root
    for part in ref[2:].split("/"):
        target = target[part]
    merged = {**resolved(root, target), **schema}
    merged.pop("$ref")
    return merged


def document_with_defaults(schema: dict, raw: dict) -> dict:
    """The params document as validated: defaults filled for the chosen deployment mode only."""
    mode = raw.get("deployment_mode", schema["properties"]["deployment_mode"]["default"])
    return with_defaults(schema, raw, mode if mode in MODES else None)



def coerce_to_schema(schema: dict, value: Any, root: dict | None = None) -> Any:
    """Pulumi config holds strings ('4', 'true'); turn them into the schema's type where they parse."""
    root = root if root is not None else schema
    schema = resolved(root, schema)
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties") if isinstance(schema.get("additionalProperties"), dict) else {}
        return {k: coerce_to_schema(properties.get(k, extra), v, root) for k, v in value.items()}
    if kind == "array" and isinstance(value, list):
        return [coerce_to_schema(schema.get("items", {}), v, root) for v in value]
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
            return coerce_to_schema(schema, json.loads(value), root)
        except ValueError:
            return value
    return value


def integers(*values) -> bool:
    """Every value is a JSON integer (not a boolean, which Python counts as one): the cross-field rules compare only those."""
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)
