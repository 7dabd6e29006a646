"""The catalog's metadata block, `{"name_prefix": ..., "default_tags": {...}}` (Massdriver's md_metadata
carries both, among keys the bundle ignores).

- `name_prefix` seeds the endpoint's name: it is the endpoint_name when the params set none.
- `default_tags` go under the user's tags: a key the params' `tags` also set keeps the params' value.

Sources: `--metadata FILE`, else the BUNDLE_METADATA_FILE environment variable.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from bundle.catalog.documents import Problem, load_schema, problems_in, read_json

METADATA_FILE_ENV = "BUNDLE_METADATA_FILE"
SCHEMA = "metadata.schema.json"


@dataclass(frozen=True)
class Metadata:
    name_prefix: str
    default_tags: dict[str, str] = field(default_factory=dict)


def metadata_file(explicit: str | Path | None = None) -> str | None:
    return str(explicit) if explicit else (os.environ.get(METADATA_FILE_ENV) or None)


def read_metadata(path: str | Path) -> tuple[Metadata | None, list[Problem]]:
    source = f"metadata in {path}"
    document, problems = read_json(path, source)
    if not problems:
        problems = problems_in(document, load_schema(SCHEMA), source)
    if problems:
        return None, problems
    return Metadata(document["name_prefix"], dict(document.get("default_tags") or {})), []


def apply_metadata(raw_params: dict, metadata: Metadata | None) -> dict:
    """The params document with the endpoint's name seeded and the default tags merged under the user's."""
    if metadata is None:
        return raw_params
    adjusted = dict(raw_params)
    adjusted.setdefault("endpoint_name", metadata.name_prefix)
    user_tags = raw_params.get("tags", {})
    if metadata.default_tags and isinstance(user_tags, dict):  # a non-object is left for params validation to name
        adjusted["tags"] = {**metadata.default_tags, **user_tags}
    return adjusted
