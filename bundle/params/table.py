"""The README's parameter table, generated from params.schema.json (a test keeps the README in step)."""
from __future__ import annotations

import json


from bundle.params.schema import MODES_KEY, load_schema, resolved


def markdown_table(schema: dict | None = None) -> str:
    """The README's parameter table, generated from the schema (a test keeps the README in step)."""
    schema = schema or load_schema()
    rows = ["| parameter | type | default | description |", "|---|---|---|---|"]

    def walk(properties: dict, prefix: str) -> None:
        for key, sub in properties.items():
            ref = sub.get("$ref", "")
            sub = resolved(schema, sub)
            kind = sub.get("type", "")
            choices = [c["const"] for c in sub.get("oneOf", []) if "const" in c]
            if choices:
                kind = " \\| ".join(f"`{c}`" for c in choices)
            default = "" if kind == "object" else (f"`{json.dumps(sub['default'])}`" if "default" in sub else "(required)")
            description = sub["description"].replace("|", "\\|").replace("\n", " ")
            if MODES_KEY in sub:
                description += f" ({' and '.join(sub[MODES_KEY])} only)"
            if ref and kind == "object":
                description += f" Its fields are `{ref.rsplit('/', 1)[-1]}`'s."
            rows.append(f"| `{prefix}{key}` | {kind} | {default} | {sub['title']}. {description} |")
            if kind == "object" and not ref:
                walk(sub.get("properties", {}), f"{prefix}{key}.")
            if kind == "array" and sub.get("items", {}).get("type") == "object":  # a list of objects, e.g. variants
                walk(sub["items"].get("properties", {}), f"{prefix}{key}[].")

    walk(schema["properties"], "")
    return "\n".join(rows)
