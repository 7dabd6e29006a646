"""Connections: the documents a catalog wires in instead of params.

- `aws_authentication` {"arn", "external_id"?}: the role the bundle deploys as. The program's explicit
  AWS provider assumes it (bundle/deploy/provider.py) and so does every boto3 client (bundle/ops/aws.py).
- `network` {"subnet_ids", "security_group_ids"} (optional): fills the `vpc` param. A params file whose
  `vpc` names other subnets or groups is refused rather than silently overridden.

Sources: `--connections FILE`, else the BUNDLE_CONNECTIONS_FILE environment variable; none means the
ambient AWS identity and the params' own `vpc`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bundle.ops.aws import AssumedRole
from bundle.catalog.documents import Problem, load_document, load_schema, problems_in, read_json

CONNECTIONS_FILE_ENV = "BUNDLE_CONNECTIONS_FILE"
SCHEMA = "connections.schema.json"


@dataclass(frozen=True)
class Network:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    def as_vpc(self) -> dict:
        return {"subnet_ids": list(self.subnet_ids), "security_group_ids": list(self.security_group_ids)}


@dataclass(frozen=True)
class Connections:
    aws_authentication: AssumedRole
    network: Network | None
    source: str  # where they came from, for messages


def connections_file(explicit: str | Path | None = None) -> str | None:
    return str(explicit) if explicit else (os.environ.get(CONNECTIONS_FILE_ENV) or None)


def parse_connections(document, source: str) -> tuple[Connections | None, list[Problem]]:
    problems = problems_in(document, load_schema(SCHEMA), source)
    if problems:
        return None, problems
    auth, network = document["aws_authentication"], document.get("network")
    return (
        Connections(
            aws_authentication=AssumedRole(arn=auth["arn"], external_id=auth.get("external_id")),
            network=Network(tuple(network["subnet_ids"]), tuple(network["security_group_ids"])) if network else None,
            source=source,
        ),
        [],
    )


def read_connections(path: str | Path) -> tuple[Connections | None, list[Problem]]:
    source = f"connections in {path}"
    document, problems = read_json(path, source)
    return (None, problems) if problems else parse_connections(document, source)


def load_connections(explicit: str | Path | None = None) -> Connections | None:
    """The connections from the flag or the environment (None without either); InvalidDocuments if invalid."""
    return load_document(connections_file(explicit), read_connections, "connections")


def apply_network(raw_params: dict, connections: Connections | None) -> tuple[dict, list[Problem]]:
    """The params document with `vpc` filled from the network connection; a conflict is a problem, named."""
    if connections is None or connections.network is None:
        return raw_params, []
    wanted = connections.network.as_vpc()
    mode = raw_params.get("deployment_mode")
    if mode == "serverless":
        return raw_params, [
            Problem("network", "serverless endpoints do not run in a VPC: remove the network connection, or use deployment_mode realtime", connections.source)
        ]
    given = raw_params.get("vpc")
    if isinstance(given, dict) and (given.get("subnet_ids") or given.get("security_group_ids")):
        same = sorted(given.get("subnet_ids") or []) == sorted(wanted["subnet_ids"]) and sorted(
            given.get("security_group_ids") or []
        ) == sorted(wanted["security_group_ids"])
        if not same:
            return raw_params, [
                Problem("network", f"the params' vpc {given} differs from the network connection {wanted}: remove vpc from the params "
                    "(the connection fills it) or make them the same", connections.source)
            ]
    return {**raw_params, "vpc": wanted}, []
