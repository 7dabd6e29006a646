"""`python -m bundle <command>`: the bundle's command line. Errors print a message, never a traceback."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bundle.errors import BundleError
from bundle.local import serve_cli
from bundle.ops import variants_cli


def cmd_artifact(args) -> int:
    from bundle.artifact.build import recipe_artifact

    artifact = recipe_artifact(args.recipe, image_version=args.image_version, out_dir=args.out, force=args.force)
    print(json.dumps(artifact.summary(), indent=2))
    return 0


def cmd_demo(args) -> int:
    from bundle.local.demo import run_demo

    return run_demo()


def cmd_validate(args) -> int:
    from bundle.params.model import InvalidParams
    from bundle.params.rules import validate
    from bundle.params.sources import read_params_file

    from bundle.params.aws_limits import check_stack_region

    try:
        params = validate(read_params_file(args.file), source=f"params in {args.file}")
        check_stack_region(params.document, args.region, "--region", source=f"params in {args.file}")
    except InvalidParams as e:
        print(str(e), file=sys.stderr)
        return 2
    primary = params.primary
    sizing = f"serverless {primary.serverless.memory_size_mb} MB" if primary.serverless else primary.instance_type
    source = f"multi-model: {len(params.multi_model.models)} models" if params.is_multi_model else params.model_source
    if params.model_package is not None:
        source += f" {params.model_package.field.split('.')[-1]} {params.model_package.group or params.model_package.arn}"
    print(f"{args.file}: valid ({source}, {sizing}, endpoint {params.endpoint_name})")
    return 0


def cmd_plan(args) -> int:
    from bundle.catalog.inputs import resolve_inputs
    from bundle.local.plan import evaluate, plan_document, plan_text

    inputs = resolve_inputs(params_file=args.params, connections=args.connections, metadata=args.metadata)
    from bundle.params.aws_limits import check_stack_region

    check_stack_region(inputs.params.document, args.region, "--region")
    evaluation = evaluate(inputs.params, region=args.region, connections=inputs.connections)
    print(json.dumps(plan_document(evaluation), indent=2) if args.json else plan_text(evaluation))
    return 0


def cmd_manifest(args) -> int:
    from bundle.catalog import manifest

    if args.outline:
        print(manifest.outline())
    elif args.write:
        changed = manifest.write()
        print(f"{manifest.MANIFEST_PATH.name} {'written' if changed else 'unchanged'}")
    elif args.check:
        if manifest.MANIFEST_PATH.read_text() != manifest.render():
            print(f"{manifest.MANIFEST_PATH.name} is stale: run `python -m bundle manifest --write`", file=sys.stderr)
            return 1
        print(f"{manifest.MANIFEST_PATH.name} is up to date")
    else:
        print(manifest.render(), end="")
    return 0


def cmd_catalog_run(args) -> int:
    from bundle.catalog.run import catalog_run, summary

    print(summary(catalog_run(args.params, args.connections, args.metadata, Path(args.out), region=args.region)))
    return 0


def _use_connections(args) -> None:
    """Every command's boto3 clients act as the connections' aws_authentication role, when there is one."""
    from bundle.ops import aws
    from bundle.catalog.connections import load_connections

    connections = load_connections(getattr(args, "connections", None))
    aws.use_role(connections.aws_authentication if connections else None)


def cmd_params_table(args) -> int:
    from bundle.params.table import markdown_table

    print(markdown_table())
    return 0


def _outputs_and_params(args) -> tuple[dict, object]:
    from bundle.guide.outputs import read_outputs_file, read_stack_outputs
    from bundle.params.rules import validate
    from bundle.params.sources import read_params_file

    outputs = read_outputs_file(args.outputs) if args.outputs else read_stack_outputs(args.stack)
    params = validate(read_params_file(args.params), source=f"params in {args.params}") if args.params else None
    return outputs, params


def cmd_guide(args) -> int:
    from bundle.guide.render import render_from_outputs

    outputs, params = _outputs_and_params(args)
    text = render_from_outputs(outputs, params)
    if args.out:
        Path(args.out).write_text(text)
        print(f"operator guide written to {args.out}")
    else:
        print(text)
    return 0


def cmd_smoke(args) -> int:
    from bundle.guide.outputs import read_outputs_file
    from bundle.ops.aws import default_region
    from bundle.ops.smoke import Expected, run_smoke
    from dataclasses import replace

    if args.outputs:
        expected = Expected.from_outputs(read_outputs_file(args.outputs))
        if args.target_model:
            expected = replace(expected, target_models=tuple(args.target_model))
    elif args.endpoint and (args.region or default_region()):
        expected = Expected(endpoint_name=args.endpoint, region=args.region or default_region(), target_models=tuple(args.target_model))
    else:
        raise BundleError("smoke needs --outputs FILE, or --endpoint NAME and a region (--region, AWS_REGION or AWS_DEFAULT_REGION)")
    report = run_smoke(expected)
    print(report.table())
    return 0 if report.ok else 1


# --- A/B variants and the shadow ---------------------------------------------------------------


def cmd_bench(args) -> int:
    from bundle.perf.bench import main

    return main(args.json, args.quick)


def cmd_loadtest(args) -> int:
    from bundle.ops.loadtest import main

    return main(args)


def _catalog_files(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connections", help="connections JSON file (default $BUNDLE_CONNECTIONS_FILE): the role to assume, the network")
    p.add_argument("--metadata", help="catalog metadata JSON file (default $BUNDLE_METADATA_FILE): name_prefix, default_tags")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bundle", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    from bundle.artifact.recipes import DEFAULT_RECIPE, RECIPES

    p = commands.add_parser("artifact", help="build model.tar.gz (or reuse it from the cache) and print its identity")
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        default=DEFAULT_RECIPE,
        help=f"which proof-of-concept model (default {DEFAULT_RECIPE}): " + "; ".join(f"{r.name}: {r.summary}" for r in RECIPES.values()),
    )
    p.add_argument("--out", type=Path, help="also copy model.tar.gz into this directory")
    p.add_argument("--force", action="store_true", help="rebuild from scratch, ignoring the cache")
    p.add_argument("--image-version", default="1.4-2", help="serving image version to lock to (default 1.4-2)")
    p.set_defaults(run=cmd_artifact)

    serve_cli.add_parser(commands)

    p = commands.add_parser("validate", help="check a params file against params.schema.json (exit 0 valid, 2 invalid)")
    p.add_argument("file", help="params JSON file")
    p.add_argument("--region", help="also check the params against this stack region (KMS keys and topics must be in it)")
    p.set_defaults(run=cmd_validate)

    p = commands.add_parser("params-table", help="print the README's parameter table, generated from params.schema.json")
    p.set_defaults(run=cmd_params_table)

    p = commands.add_parser("plan", help="what `pulumi up` would create, evaluated offline with Pulumi's mock runtime")
    p.add_argument("--params", help="params JSON file (default: $BUNDLE_PARAMS_FILE, else the schema's defaults)")
    p.add_argument("--region", default="us-east-1", help="AWS region to plan for (default us-east-1)")
    p.add_argument("--json", action="store_true", help="print the resources and outputs as JSON")
    _catalog_files(p)
    p.set_defaults(run=cmd_plan, resolves_inputs=True)

    p = commands.add_parser("manifest", help="print bundle.yaml, the manifest generated from the project's sources")
    action = p.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write bundle.yaml")
    action.add_argument("--check", action="store_true", help="exit 1 if bundle.yaml differs from a fresh generation")
    action.add_argument("--outline", action="store_true", help="print the README's summary of the manifest")
    p.set_defaults(run=cmd_manifest)

    p = commands.add_parser("catalog", help="what a platform bundle catalog does with the bundle")
    catalog = p.add_subparsers(dest="catalog_command", required=True)
    p = catalog.add_parser("run", help="validate params, connections, metadata; plan; write the endpoint artifact and the guide")
    p.add_argument("--params", required=True, help="params JSON file")
    p.add_argument("--connections", required=True, help="connections JSON file (aws_authentication, optional network)")
    p.add_argument("--metadata", help="catalog metadata JSON file (name_prefix, default_tags); default $BUNDLE_METADATA_FILE")
    p.add_argument("--out", default="build/catalog", help="directory for artifacts/endpoint.json, operator_guide.md, plan.json")
    p.add_argument("--region", default="us-east-1", help="AWS region to plan for (default us-east-1)")
    p.set_defaults(run=cmd_catalog_run, resolves_inputs=True)

    p = commands.add_parser("guide", help="render the operator guide from the stack's outputs")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack", help="read `pulumi stack output --json --stack NAME`")
    source.add_argument("--outputs", help="a JSON file of the stack's outputs (or a catalog's {params, artifacts})")
    p.add_argument("--params", help="params JSON file (default: the `params` the outputs carry)")
    p.add_argument("--out", help="write the guide here instead of printing it")
    p.set_defaults(run=cmd_guide)

    p = commands.add_parser("smoke", help="check a deployed endpoint: config, autoscaling, the guide's examples")
    p.add_argument("--outputs", help="a JSON file of the stack's outputs (checks the exact config and autoscaling)")
    p.add_argument("--endpoint", help="endpoint name (with --region, when there are no outputs)")
    p.add_argument("--region", help="AWS region of the endpoint (default AWS_REGION, then AWS_DEFAULT_REGION)")
    p.add_argument("--connections", help="act as the aws_authentication role of this connections file (default $BUNDLE_CONNECTIONS_FILE)")
    p.add_argument(
        "--target-model", action="append", default=[], help="a multi-model endpoint's model to invoke (TargetModel); repeat for each (--outputs names them all)"
    )
    p.set_defaults(run=cmd_smoke)

    p = commands.add_parser("demo", help="the whole local path, end to end (what `make demo` runs)")
    p.set_defaults(run=cmd_demo)

    p = commands.add_parser("bench", help="measure build, load and serving latency on this machine (medians, p99, ratios)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier numbers)")
    p.set_defaults(run=cmd_bench)

    from bundle.perf import model_size, profiling

    p = commands.add_parser("profile", help=profiling.__doc__.splitlines()[0].split(": ", 1)[1])
    profiling.add_arguments(p)
    p.set_defaults(run=profiling.run)

    p = commands.add_parser("model-size", help=model_size.__doc__.splitlines()[0].split(": ", 1)[1])
    model_size.add_arguments(p)
    p.set_defaults(run=model_size.run)

    from bundle.ops import models

    p = commands.add_parser("models", help="a multi-model endpoint's models: list them, or add one without a deploy")
    p.add_argument("--connections", help="act as the aws_authentication role of this connections file (default $BUNDLE_CONNECTIONS_FILE)")
    models.add_arguments(p)

    p = commands.add_parser("loadtest", help="ramp load on an endpoint and recommend target_invocations_per_instance")
    p.add_argument("--endpoint", required=True, help="endpoint name (InvokeEndpoint's EndpointName)")
    p.add_argument("--region", help="AWS region (default AWS_REGION, AWS_DEFAULT_REGION or us-east-1)")
    p.add_argument("--endpoint-url", help="runtime API URL, e.g. the local endpoint's http://127.0.0.1:8080")
    p.add_argument("--latency-goal-ms", type=float, default=50.0, help="p99 latency a sustainable step must meet (default 50)")
    p.add_argument("--ramp", default="1,2,4,8,16", help="concurrent clients per step (default 1,2,4,8,16)")
    p.add_argument("--duration-per-step", type=float, default=20.0, help="seconds per step (default 20)")
    p.add_argument(
        "--max-requests-per-step", type=int, default=100_000, help="a step also ends after this many requests (default 100000; at least 20)"
    )
    p.add_argument("--safety-factor", type=float, default=0.5, help="target = factor x max sustainable rate (default 0.5)")
    p.add_argument("--instance-count", type=int, default=1, help="instances behind the endpoint: rates are divided by it")
    p.add_argument("--body", type=Path, help="request body to send, as your clients do (default: the guide's 3-row JSON)")
    p.add_argument("--content-type", default="application/json", help="the body's Content-Type (default application/json)")
    p.add_argument("--target-model", help="a multi-model endpoint's model to load (TargetModel, e.g. random-forest-<sha>.tar.gz)")
    p.add_argument("--json", type=Path, help="also write the steps and the recommendation to this JSON file")
    p.set_defaults(run=cmd_loadtest)
    variants_cli.add_parsers(commands)

    from bundle.ops import registry

    p = commands.add_parser("register", help="put a built POC artifact into a Model Registry group: a new version, PendingManualApproval unless --approve")
    p.add_argument("--connections", help="act as the aws_authentication role of this connections file (default $BUNDLE_CONNECTIONS_FILE)")
    registry.add_arguments(p)

    # Asynchronous inference and batch transform.
    from bundle.ops import batch, invoke_async

    p = commands.add_parser("invoke-async", help="upload a body, InvokeEndpointAsync, wait for the answer and print it")
    invoke_async.add_arguments(p)
    p.set_defaults(run=invoke_async.run)

    p = commands.add_parser("batch", help="score S3 files with the stack's model (a transform job), or here with --local")
    batch.add_arguments(p)
    p.set_defaults(run=batch.run)

    from bundle.ops import monitor

    monitor.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not getattr(args, "resolves_inputs", False):  # those validate every input at once, then act as the role
            _use_connections(args)
        return args.run(args)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left, nothing to report
        sys.stderr.close()
        return 141
