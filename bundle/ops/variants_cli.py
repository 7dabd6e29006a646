"""`python -m bundle variants show|compare` and `shadow compare`: the live variants against the stack's, and their
agreement from captured data."""
from __future__ import annotations

import json

from bundle.errors import BundleError
from bundle.ops.arguments import positive


def _variant_context(args):
    from bundle.guide.outputs import read_outputs_file, read_stack_outputs
    from bundle.ops import aws

    if args.endpoint:
        outputs = _outputs_from_flags(args)
    elif args.outputs or args.stack:
        outputs = read_outputs_file(args.outputs) if args.outputs else read_stack_outputs(args.stack)
    else:
        raise BundleError("give the stack (--stack NAME or --outputs FILE), or --endpoint NAME with the stack's values (--expect-weight)")
    region = args.region or aws.default_region() or outputs["endpoint"].get("region")
    if not region:
        raise BundleError("no region: pass --region, or set AWS_REGION or AWS_DEFAULT_REGION")
    return outputs, outputs["endpoint"]["endpoint_name"], (lambda service: aws.client(service, region))


def _outputs_from_flags(args) -> dict:
    """The stack's values as the guide states them, without the stack's outputs file (what the guide's blocks run)."""
    from bundle.ops.aws import default_region

    weights = {}
    for pair in args.expect_weight or []:
        name, _, weight = pair.partition("=")
        try:
            weights[name] = float(weight)
        except ValueError:
            raise BundleError(f"--expect-weight {pair!r}: give NAME=WEIGHT, e.g. primary=1") from None
    shadow = getattr(args, "shadow", None)
    production = [{"name": n, "weight": w, "initial_instance_count": None, "autoscaling": None} for n, w in weights.items() if n != shadow]
    return {
        "endpoint": {"endpoint_name": args.endpoint, "region": args.region or default_region()},
        "variants": {
            "production": production or [{"name": v, "weight": 1.0, "initial_instance_count": None, "autoscaling": None} for v in (args.variant or [])],
            "shadow": {"name": shadow, "weight": weights.get(shadow, 1.0), "initial_instance_count": None} if shadow else None,
        },
        "data_capture": {"enabled": bool(getattr(args, "capture", None)), "destination": getattr(args, "capture", None)},
    }


def cmd_variants_show(args) -> int:
    from bundle.ops.variants import show, show_table

    outputs, endpoint, client = _variant_context(args)
    states = show(endpoint, client("sagemaker"), client("cloudwatch"), outputs, minutes=args.minutes)
    if args.json:
        print(json.dumps([s.__dict__ for s in states], indent=2))
    else:
        print(show_table(states))
    return 0


def cmd_variants_compare(args) -> int:
    from bundle.ops.variants import compare, stack_variants

    outputs, endpoint, client = _variant_context(args)
    capture = outputs["data_capture"]
    if not capture["enabled"]:
        raise BundleError("comparing variants reads captured data: the stack has data_capture.enabled false")
    known = stack_variants(outputs)
    if args.command == "shadow":
        shadows = [v.name for v in known if v.shadow]
        if not shadows:
            raise BundleError("the stack has no shadow variant (shadow.enabled false)")
        names = [(args.variant or [known[0].name])[0], shadows[0]]
    else:
        names = args.variant or [v.name for v in known if not v.shadow]
    print(json.dumps(compare(client("s3"), client("cloudwatch"), endpoint, capture["destination"], names, minutes=args.minutes), indent=2))
    return 0


def add_parsers(commands) -> None:
    def common(p):
        source = p.add_mutually_exclusive_group()
        source.add_argument("--stack", help="read `pulumi stack output --json --stack NAME`")
        source.add_argument("--outputs", help="a JSON file of the stack's outputs")
        source.add_argument("--endpoint", help="endpoint name, with the stack's values given as flags (--expect-weight, --capture)")
        p.add_argument("--expect-weight", action="append", metavar="NAME=WEIGHT", help="with --endpoint: a variant and its weight in the stack (repeat)")
        p.add_argument("--capture", help="with --endpoint: the stack's capture prefix s3://bucket/prefix/<endpoint>/")
        p.add_argument("--shadow", help="with --endpoint: the shadow variant's name")
        p.add_argument("--region", help="AWS region (default AWS_REGION, AWS_DEFAULT_REGION, then the outputs')")
        p.add_argument("--minutes", type=positive, default=60, help="metrics of the last N minutes (default 60)")
        p.add_argument("--variant", action="append", help="a production variant to compare (repeat; default: every one)")

    p = commands.add_parser("variants", help="A/B variants: live weights and counts against the stack's; compare them")
    sub = p.add_subparsers(dest="variants_command", required=True)
    q = sub.add_parser("show", help="live weights, instance counts and invocations per variant, and drift from the stack")
    common(q)
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")
    q.set_defaults(run=cmd_variants_show)
    q = sub.add_parser("compare", help="agreement of predictions, latency and errors per production variant (captured data)")
    common(q)
    q.set_defaults(run=cmd_variants_compare)
    p = commands.add_parser("shadow", help="the shadow variant: compare it with the production variant")
    sub = p.add_subparsers(dest="shadow_command", required=True)
    q = sub.add_parser("compare", help="agreement of predictions, latency and errors: production vs shadow (captured data)")
    common(q)
    q.set_defaults(run=cmd_variants_compare)
