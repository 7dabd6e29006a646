"""`python -m bundle <command>`: the bundle's command line. Errors print a message, never a traceback."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from bundle.errors import BundleError


def cmd_artifact(args) -> int:
    from bundle.artifact import build_artifact

    artifact = build_artifact(image_version=args.image_version, out_dir=args.out, force=args.force)
    print(json.dumps(artifact.summary(), indent=2))
    return 0


def cmd_serve(args) -> int:
    from bundle.serving import LocalEndpoint

    path = args.artifact or _default_artifact_path()
    endpoint = LocalEndpoint(path, args.host, args.port, endpoint_name=args.endpoint_name, access_log=args.access_log)

    def stop(signum, frame):  # shutdown() waits for serve_forever, so call it from another thread
        threading.Thread(target=endpoint.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(json.dumps({"url": endpoint.url, "artifact": str(path), "status": "serving"}), flush=True)
    endpoint.serve_forever()
    print(json.dumps({"status": "stopped"}), flush=True)
    return 0


def cmd_demo(args) -> int:
    from bundle.demo import run_demo

    return run_demo()


def cmd_bench(args) -> int:
    from bundle.bench import main

    return main(args.json, args.quick)


def cmd_loadtest(args) -> int:
    from bundle.loadtest import main

    return main(args)


def _default_artifact_path() -> Path:
    from bundle.artifact import build_artifact

    return build_artifact().path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bundle", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("artifact", help="build model.tar.gz (or reuse it from the cache) and print its identity")
    p.add_argument("--out", type=Path, help="also copy model.tar.gz into this directory")
    p.add_argument("--force", action="store_true", help="rebuild from scratch, ignoring the cache")
    p.add_argument("--image-version", default="1.4-2", help="serving image version to lock to (default 1.4-2)")
    p.set_defaults(run=cmd_artifact)

    p = commands.add_parser("serve", help="serve the artifact on a local SageMaker-compatible endpoint")
    p.add_argument("--artifact", type=Path, help="model.tar.gz (default: build or reuse the bundle's)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8080, help="port (0 picks a free one; the URL is printed)")
    p.add_argument("--endpoint-name", help="answer the runtime API only for this endpoint name")
    p.add_argument("--access-log", action="store_true", help="log every request to stderr")
    p.set_defaults(run=cmd_serve)

    p = commands.add_parser("demo", help="the whole local path, end to end (what `make demo` runs)")
    p.set_defaults(run=cmd_demo)

    p = commands.add_parser("bench", help="measure build, load and serving latency on this machine (medians, p99, ratios)")
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    p.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run, noisier numbers)")
    p.set_defaults(run=cmd_bench)

    p = commands.add_parser("loadtest", help="ramp load on an endpoint and recommend target_invocations_per_instance")
    p.add_argument("--endpoint", required=True, help="endpoint name (InvokeEndpoint's EndpointName)")
    p.add_argument("--region", help="AWS region (default AWS_REGION, AWS_DEFAULT_REGION or us-east-1)")
    p.add_argument("--endpoint-url", help="runtime API URL, e.g. the local endpoint's http://127.0.0.1:8080")
    p.add_argument("--latency-goal-ms", type=float, default=50.0, help="p99 latency a sustainable step must meet (default 50)")
    p.add_argument("--ramp", default="1,2,4,8,16", help="concurrent clients per step (default 1,2,4,8,16)")
    p.add_argument("--duration-per-step", type=float, default=20.0, help="seconds per step (default 20)")
    p.add_argument("--safety-factor", type=float, default=0.5, help="target = factor x max sustainable rate (default 0.5)")
    p.add_argument("--instance-count", type=int, default=1, help="instances behind the endpoint: rates are divided by it")
    p.add_argument("--body", type=Path, help="request body to send, as your clients do (default: the guide's 3-row JSON)")
    p.add_argument("--content-type", default="application/json", help="the body's Content-Type (default application/json)")
    p.add_argument("--json", type=Path, help="also write the steps and the recommendation to this JSON file")
    p.set_defaults(run=cmd_loadtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BundleError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
