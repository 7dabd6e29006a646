"""JSON documents a catalog hands the bundle, checked against the bundle's JSON Schemas.

Every problem is reported at once, each as `<where>: <rule>`: a schema may state a rule in words
(`x-rule`), unknown keys are named, and constant choices are listed. Files that cannot be read or
parsed are problems too, never tracebacks.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from bundle.paths import SCHEMAS_DIR
from bundle.errors import InvalidInputs, Problem

SCHEMAS = SCHEMAS_DIR


class InvalidDocuments(InvalidInputs):
    """One or more documents are invalid: every problem, each naming its document and field."""


def load_schema(relative: str) -> dict:
    return json.loads((SCHEMAS / relative).read_text())


def _path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(root)"


def _message(error: jsonschema.ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(schema.get("properties", {})))
        return f"unknown key {', '.join(repr(u) for u in unknown)} (allowed: {', '.join(sorted(schema.get('properties', {})))})"
    if error.validator == "required":
        return error.message
    rule = schema.get("x-rule")
    if rule and error.validator in ("pattern", "minLength", "maxLength"):
        return f"{rule} (got {error.instance!r})"
    return error.message


def problems_in(document: Any, schema: dict, source: str) -> list[Problem]:
    """Every way `document` breaks `schema`, sorted by where (stable output)."""
    validator = jsonschema.Draft202012Validator(schema)
    found = [Problem(_path(e.absolute_path), _message(e), source) for e in validator.iter_errors(document)]
    return sorted(found, key=lambda p: (p.path, p.message))


def read_json(path: str | Path, source: str) -> tuple[Any, list[Problem]]:
    """The file's JSON, or a problem saying why there is none."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        return None, [Problem("(file)", f"cannot read {path}: {e.strerror}", source)]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as e:
        return None, [Problem("(file)", f"{path} is not valid JSON: {e}", source)]


def load_document(path: Path | None, read, what: str):
    """`read(path)` -> (value, problems): the value, None without a file, or InvalidDocuments naming every problem."""
    if path is None:
        return None
    value, problems = read(path)
    if problems:
        raise InvalidDocuments(problems, what)
    return value
