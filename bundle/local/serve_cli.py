"""`python -m bundle serve`: the artifact (or a directory of archives) on a local SageMaker-compatible endpoint, with its
servers supervised until SIGTERM or Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

from bundle.errors import BundleError
from bundle.ops.arguments import port_number, positive as _positive


def cmd_serve(args) -> int:
    from bundle.local.endpoint import LocalEndpoint
    from bundle.local.rest import RestSettings

    if args.replay_rolling_update is not None:
        return _replay_rolling_update(args)
    multi_model, models, scratch = None, None, None
    if args.multi_model is not None:
        if args.artifact:
            raise BundleError("--artifact serves one model; --multi-model serves a directory of archives: give one of them")
        multi_model, models, scratch = _multi_model_source(args.multi_model)
        path = None
    else:
        path = args.artifact or _default_artifact_path()
    if args.api_key and args.api_auth == "iam":
        raise BundleError("--api-key (an API key) and --api-auth iam (signed requests) are two different checks: give one")
    rest = RestSettings("api_key", args.api_key) if args.api_key else RestSettings("iam") if args.api_auth == "iam" else None
    params = _params(args.params)
    preprocessing = _preprocessing_archive(params)
    endpoint = LocalEndpoint(
        path, args.host, args.port, endpoint_name=args.endpoint_name or params.endpoint_name, access_log=args.access_log, workers=args.workers, timeout=args.timeout,
        async_config=_async_config(args),
        rest_settings=rest,
        multi_model=multi_model,
        preprocessing=preprocessing,
    )  # fmt: skip

    def stop(signum, frame):  # shutdown() waits for serve_forever, so call it from another thread
        threading.Thread(target=endpoint.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    served = {"artifact": str(path)} if multi_model is None else {"multi_model": models}
    if preprocessing is not None:  # the inference pipeline: the preprocessing stage's worker, then the model's
        served["preprocessing"] = {"archive": str(preprocessing), "worker_url": endpoint.preprocessing_worker.url}
    print(json.dumps({"url": endpoint.url, "worker_url": endpoint.worker_url, "endpoint_name": endpoint.endpoint_name, **served, "status": "serving"}), flush=True)
    supervisor = endpoint.supervise(max_restarts=args.max_restarts)  # restarts a server that dies
    try:
        endpoint.serve_forever()
    finally:
        if scratch is not None:
            scratch.cleanup()
    if supervisor.failure:
        print(json.dumps({"status": "failed", "reason": supervisor.failure}), flush=True)
        return 1
    print(json.dumps({"status": "stopped"}), flush=True)
    return 0


def _replay_rolling_update(args) -> int:
    """serve --replay-rolling-update: the stack's rolling update (--params) replayed on image workers under load."""
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")  # the plan's gRPC logs each worker's fork otherwise
    from bundle.artifact.build import recipe_artifact
    from bundle.artifact.recipes import RECIPES
    from bundle.local.plan import evaluate
    from bundle.local.rolling import Replay, RollingPlan
    from bundle.params.sources import resolve

    outputs = evaluate(resolve(args.params)).outputs
    plan = RollingPlan.from_outputs(outputs, args.bake_seconds)
    old = args.artifact or _default_artifact_path()
    target = args.replay_rolling_update
    if target in RECIPES:
        new, names = recipe_artifact(target).path, ("old", f"new: {target}")
    elif Path(target).is_file():
        new, names = Path(target), ("old", f"new: {Path(target).name}")
    else:
        raise BundleError(f"--replay-rolling-update {target!r}: neither a model recipe ({', '.join(RECIPES)}) nor a model.tar.gz file")
    log = (lambda line: print(f"rolling update: {line}", file=sys.stderr, flush=True))
    report = Replay(plan, Path(old), new, versions=names, clients=args.replay_clients, log=log).run()
    print(json.dumps(report, indent=2), flush=True)
    return 0 if report["failed"] == 0 and report["status"] == "completed" else 1


def _params(params_file: str | None):
    """The stack's params (--params, else BUNDLE_PARAMS_FILE, else the defaults): its endpoint name, its pipeline."""
    from bundle.params.sources import resolve

    return resolve(params_file)


def _preprocessing_archive(params) -> Path | None:
    """With preprocessing.enabled, the preprocessing stage's archive the stack ships (built, or from the cache)."""
    if not params.preprocessing.enabled:
        return None
    from bundle.artifact.preprocessing import preprocessing_artifact

    return preprocessing_artifact(params.preprocessing.unit).path


def _async_config(args):
    """serve --async-output/--async-failure: answer InvokeEndpointAsync instead of InvokeEndpoint."""
    if not (args.async_output or args.async_failure):
        return None
    if not (args.async_output and args.async_failure):
        raise BundleError("an asynchronous endpoint needs both --async-output and --async-failure (s3://bucket/prefix)")
    from bundle.local.async_front import AsyncConfig

    return AsyncConfig(args.async_output, args.async_failure, args.async_concurrency)
def _multi_model_source(directory: str):
    """A directory of archives (each file's name is its TargetModel), or "" for the POC recipes' archives."""
    import tempfile

    from bundle.artifact.build import sourcedir_tarball
    from bundle.artifact.recipes import RECIPES, target_model_name
    from bundle.artifact.build import recipe_artifact
    from bundle.local.endpoint import MultiModelSource
    from bundle.local.multi_model import ModelStore

    scratch = None
    if directory:
        root = Path(directory)
        if not root.is_dir():
            raise BundleError(f"--multi-model {directory}: not a directory of model archives")
    else:
        scratch = tempfile.TemporaryDirectory(prefix="bundle-models-")
        root = Path(scratch.name)
        for recipe in RECIPES:
            archive = recipe_artifact(recipe, layout="multi-model")
            (root / target_model_name(recipe, archive.sha256)).write_bytes(archive.path.read_bytes())
    models = sorted(p.name for p in root.iterdir() if p.is_file() and p.name.endswith(".tar.gz"))
    return MultiModelSource(ModelStore.directory(root), sourcedir_tarball()), {"directory": str(root), "target_models": models}, scratch


def _default_artifact_path() -> Path:
    from bundle.artifact.build import build_artifact

    return build_artifact().path


def add_parser(commands) -> None:
    p = commands.add_parser("serve", help="serve the artifact on a local SageMaker-compatible endpoint")
    p.add_argument("--artifact", type=Path, help="model.tar.gz (default: build or reuse the bundle's)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=port_number, default=8080, help="port (0 picks a free one; the URL is printed)")
    p.add_argument("--params", metavar="FILE", help="the stack's params file, for its endpoint_name and its inference pipeline (preprocessing.enabled: the preprocessing stage's worker before the model's) (default: BUNDLE_PARAMS_FILE, else the defaults)")
    p.add_argument(
        "--endpoint-name", help="the only endpoint name the runtime API answers; any other is refused as AWS refuses it (default: the params' endpoint_name)"
    )
    p.add_argument("--access-log", action="store_true", help="log every request and the worker's log to stderr")
    p.add_argument(
        "--workers", type=_positive, default=os.cpu_count() or 1, help="gunicorn workers, as SAGEMAKER_MODEL_SERVER_WORKERS (default: one per CPU, as the image)"
    )
    p.add_argument("--timeout", type=_positive, default=60, help="model server timeout in seconds, as SAGEMAKER_MODEL_SERVER_TIMEOUT (default 60)")
    # Asynchronous inference: the front answers InvokeEndpointAsync, reading and writing S3.
    p.add_argument("--async-output", help="serve as an asynchronous endpoint: s3://bucket/prefix for answers (S3OutputPath)")
    p.add_argument("--async-failure", help="with --async-output: s3://bucket/prefix for errors (S3FailurePath)")
    p.add_argument("--async-concurrency", type=_positive, default=2, help="requests processed at once (MaxConcurrentInvocationsPerInstance; default 2)")
    p.add_argument("--api-key", help="also serve the REST front's contract on POST /v1/invocations, checking this x-api-key")
    p.add_argument("--api-auth", choices=["iam"], help="also serve the REST front's contract, requiring SigV4-signed requests (signatures not verified)")
    p.add_argument(
        "--multi-model",
        nargs="?",
        const="",
        metavar="DIR",
        help="serve a multi-model endpoint (the image's multi-model server; needs Java): the archives in DIR, each called by "
        "its file name as TargetModel; without DIR, the POC recipes' archives",
    )
    p.add_argument(
        "--max-restarts", type=_positive, default=5, help="restart a server that dies up to this many times a minute, then exit non-zero (default 5)"
    )
    p.add_argument(
        "--replay-rolling-update",
        metavar="RECIPE_OR_ARTIFACT",
        help="replay the stack's rolling update (--params with deployment.strategy ROLLING) and exit: its fleet of image "
        "workers serving --artifact, replaced batch by batch by workers serving this recipe or model.tar.gz while a load "
        "runs through the front; prints each step on stderr and a JSON report (requests answered by each version, failures); exit 1 on "
        "any failed request or a rollback",
    )
    p.add_argument("--bake-seconds", type=float, help="with --replay-rolling-update: the baking period per batch (default: the stack's wait_interval_seconds)")
    p.add_argument("--replay-clients", type=_positive, default=2, help="with --replay-rolling-update: closed-loop clients of the load (default 2)")
    p.set_defaults(run=cmd_serve)
