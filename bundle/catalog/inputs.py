"""Params, connections and metadata, resolved together and validated together.

This is how the program (`pulumi up`), `python -m bundle plan` and the catalog run read their inputs.
The metadata and the network connection adjust the raw params before params validation, so the
validated document (the guide's `params`, the stack's `params` output) is what is deployed. Every
problem of the three documents is reported at once, each naming its document and field.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bundle.catalog.connections import Connections, apply_network, connections_file, read_connections
from bundle.catalog.documents import InvalidDocuments, Problem
from bundle.catalog.metadata import Metadata, apply_metadata, metadata_file, read_metadata
from bundle.errors import BundleError
from bundle.params.model import InvalidParams, Params
from bundle.params.sources import params_file_from_env, resolve


@dataclass(frozen=True)
class Inputs:
    params: Params
    connections: Connections | None
    metadata: Metadata | None


def resolve_inputs(
    params_file: str | Path | None = None,
    connections: str | Path | None = None,
    metadata: str | Path | None = None,
    config_get: Callable[[str], Any] | None = None,
    require_connections: bool = False,
) -> Inputs:
    """Flags first, then BUNDLE_PARAMS_FILE / BUNDLE_CONNECTIONS_FILE / BUNDLE_METADATA_FILE.

    `require_connections`: a catalog always passes them (the catalog run); `pulumi up` by hand may not.
    """
    problems: list[Problem] = []
    found_connections = found_metadata = None
    connections_path, metadata_path = connections_file(connections), metadata_file(metadata)
    if connections_path:
        found_connections, found = read_connections(connections_path)
        problems += found
    elif require_connections:
        problems.append(Problem("(file)", "a catalog run needs --connections FILE (or BUNDLE_CONNECTIONS_FILE) with aws_authentication", "connections"))
    if metadata_path:
        found_metadata, found = read_metadata(metadata_path)
        problems += found

    def adjust(raw: dict) -> dict:
        if not isinstance(raw, dict):
            return raw  # params validation names it
        adjusted, conflicts = apply_network(apply_metadata(raw, found_metadata), found_connections)
        problems.extend(conflicts)
        return adjusted

    params_path = str(params_file) if params_file else params_file_from_env()
    params = None
    try:
        params = resolve(params_file=str(params_file) if params_file else None, config_get=config_get, adjust=adjust)
    except InvalidParams as e:
        source = f"params in {params_path}" if params_path else "params"
        problems += [Problem(p.path, p.message, source) for p in e.problems]
    except BundleError as e:
        problems.append(Problem("(file)", str(e), f"params in {params_path}" if params_path else "params"))
    if problems:
        raise InvalidDocuments(problems)
    return Inputs(params, found_connections, found_metadata)
