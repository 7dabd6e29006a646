"""`python -m bundle catalog run`: what a catalog does with the bundle, end to end, on this machine.

1. validate params, connections and metadata together (every problem named; exit 2);
2. run the program: here the offline plan (the real program under Pulumi's mock runtime, with the
   connection's role on its explicit AWS provider); where the Pulumi CLI and credentials exist, a
   catalog runs `pulumi up` with BUNDLE_PARAMS_FILE / BUNDLE_CONNECTIONS_FILE / BUNDLE_METADATA_FILE set;
3. write the `endpoint` artifact document (validated against schemas/artifacts/endpoint.schema.json),
   the rendered operator guide (its artifacts.endpoint is that document) and the plan.

The plan invents what only AWS knows (ARNs, the account 123456789012, auto-name suffixes): the artifact
written here has the right shape and names, not real ARNs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bundle.catalog.endpoint_artifact import check_artifact
from bundle.catalog.inputs import Inputs, resolve_inputs
from bundle.guide.render import render_from_outputs
from bundle.local.plan import evaluate, plan_document


@dataclass(frozen=True)
class CatalogRun:
    inputs: Inputs
    artifact_path: Path
    guide_path: Path
    plan_path: Path
    artifact: dict
    provider: dict | None  # the explicit provider's inputs, when a role is assumed
    resource_count: int


def catalog_run(params: str, connections: str, metadata: str | None, out_dir: Path, region: str = "us-east-1") -> CatalogRun:
    inputs = resolve_inputs(params_file=params, connections=connections, metadata=metadata, require_connections=True)
    evaluation = evaluate(inputs.params, region=region, connections=inputs.connections)
    artifact = check_artifact(evaluation.outputs["endpoint"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "artifacts").mkdir(exist_ok=True)
    artifact_path = out_dir / "artifacts" / "endpoint.json"
    artifact_path.write_text(json.dumps(artifact, indent=2, sort_keys=True) + "\n")
    guide_path = out_dir / "operator_guide.md"
    guide_path.write_text(render_from_outputs(evaluation.outputs, inputs.params))
    document = plan_document(evaluation)
    plan_path = out_dir / "plan.json"
    plan_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    providers = [r.inputs for r in evaluation.resources if r.type == "pulumi:providers:aws"]
    return CatalogRun(inputs, artifact_path, guide_path, plan_path, artifact, providers[0] if providers else None, len(document["resources"]))


def summary(run: CatalogRun) -> str:
    p = run.inputs.params
    v = p.primary
    sizing = f"serverless {v.serverless.memory_size_mb} MB" if v.serverless else f"{v.instance_type} x{v.initial_instance_count}"
    lines = [
        "catalog run (offline plan; `pulumi up` where the Pulumi CLI and AWS credentials exist)",
        f"  inputs valid: params, connections ({run.inputs.connections.source})"
        + (f", metadata (name_prefix {run.inputs.metadata.name_prefix})" if run.inputs.metadata else ""),
        f"  endpoint {p.endpoint_name}: {p.deployment_mode}, {sizing}, {run.resource_count} resources"
        + (f", vpc {list(p.vpc.subnet_ids)}" if p.vpc.enabled else ""),
    ]
    if run.provider:
        for role in json.loads(run.provider.get("assumeRoles", "[]")):  # provider inputs arrive as JSON
            lines.append(f"  provider aws-connection assumes {role['roleArn']} (session {role['sessionName']}" + (", external id set)" if role.get("externalId") else ")"))
    lines += [
        f"  artifact endpoint -> {run.artifact_path} (valid against schemas/artifacts/endpoint.schema.json)",
        f"  operator guide    -> {run.guide_path}",
        f"  plan              -> {run.plan_path}",
        "  note: ARNs and the account (123456789012) in these files are the offline plan's placeholders",
    ]
    return "\n".join(lines)
