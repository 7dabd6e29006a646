"""Where params come from, in this order: an explicit `--params FILE`, then the BUNDLE_PARAMS_FILE environment
variable (a catalog's params file), then Pulumi config (`pulumi config set <project>:key value`, structured values
with `--path`). A params file and Pulumi config together are refused rather than silently merged.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable


from bundle.errors import BundleError
from bundle.params.model import Params
from bundle.params.rules import as_json, validate
from bundle.params.schema import coerce_to_schema, load_schema


PARAMS_FILE_ENV = "BUNDLE_PARAMS_FILE"


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



def params_from_config(get: Callable[[str], Any]) -> dict:
    """Project config keys named like the schema's properties; `get(key)` returns the raw value or None."""
    schema = load_schema()
    raw = {}
    for key, subschema in schema["properties"].items():
        value = get(key)
        if value is not None:
            raw[key] = coerce_to_schema(subschema, value, schema)
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
