"""The local endpoint: the artifact served by the serving image's own worker, behind a runtime-API front.

Two processes, as on SageMaker (where AWS's front talks to the container):

  the image's worker   `.venv-image` (the image's pinned libraries, Python 3.10): gunicorn with gevent
                       workers serving sagemaker-containers' Worker/Transformer over the shipped
                       `code/inference.py` (see bundle/container/single_model.py). It speaks the
                       container protocol: GET /ping, POST /invocations.
  the front            this process: the REST front's contract when asked (bundle/local/rest.py), and the SageMaker runtime API's path, POST /endpoints/{name}/invocations
                       (what boto3 `sagemaker-runtime` sends), forwarded to the worker. A model 4xx/5xx
                       becomes HTTP 424 `ModelError` with OriginalStatusCode and OriginalMessage, as
                       InvokeEndpoint reports it; a good answer carries x-Amzn-Invoked-Production-Variant.
                       The container protocol is passed through unchanged (GET /ping, POST /invocations).

A multi-model endpoint (`multi_model=`) runs the image's other server instead of the worker: Java multi-model-server
(bundle/local/multi_model.py). The front then honours TargetModel (header X-Amzn-SageMaker-Target-Model) as
SageMaker does: the model's archive is fetched from the endpoint's prefix on its first call, unpacked and registered
(POST /models), and every call goes to POST /models/{name}/invoke; a call without TargetModel, or naming an archive
that is not there, is a ValidationError, and a model still loading after 60 s a ModelNotReadyException (429).
A TargetModel sent to a single-model endpoint is refused as AWS refuses it.

The front is a small stdlib HTTP server on purpose: it stands in for AWS's managed front, which no
package provides, and it holds no model code; what the image does is proven by the worker behind it.
The image also runs nginx between its port and gunicorn; it only routes /ping and /invocations and sets a
read timeout, which the front does here (the README's "What is proven here" lists this difference).

The worker process is bundle/local/worker.py, the front bundle/local/front.py; bundle/local/inprocess.py calls the
shipped hooks in this process, for unit tests and profiling only.
"""
from __future__ import annotations

import ipaddress
import os
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from bundle.artifact.tarball import unpack_artifact
from bundle.errors import BundleError
from bundle.local import rest
from bundle.local.front import _FrontServer
from bundle.local.variants import Recorder, Route, Router
from bundle.local.worker import MODEL_SERVER_TIMEOUT, ImageWorker


@dataclass(frozen=True)
class LocalVariant:
    """Another variant of the local endpoint (A/B, or the shadow): its name, artifact and weight."""

    name: str
    artifact: Path
    weight: float = 1.0
def _async_invocations(server: _FrontServer, config, region: str | None, s3_endpoint_url: str | None):
    from bundle.local.async_front import AsyncInvocations
    from bundle.ops import aws

    where = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return AsyncInvocations(config, server.forward, lambda: aws.client("s3", where, endpoint_url=s3_endpoint_url, max_attempts=2))


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass(frozen=True)
class MultiModelSource:
    """What a local multi-model endpoint serves: the archives (a ModelStore: a directory, or the stack's S3 prefix) and
    the handlers' sourcedir tarball (SAGEMAKER_SUBMIT_DIRECTORY's content)."""

    store: object  # bundle.local.multi_model.ModelStore
    sourcedir: bytes
    ready_timeout: float = 60.0  # how long a first call waits for its model before ModelNotReadyException


def default_endpoint_name() -> str:
    """The endpoint name a stack gets when its params do not set one (the params schema's default)."""
    from bundle.params.schema import load_schema

    return load_schema()["properties"]["endpoint_name"]["default"]


class LocalEndpoint:
    """The image's worker (or, for a multi-model endpoint, its multi-model server) and the front; `start()` in a
    background thread, or `serve_forever()` in this one."""

    def __init__(
        self,
        artifact: Path | None,
        host: str = "127.0.0.1",
        port: int = 8080,
        endpoint_name: str | None = None,  # the only name the runtime API answers (default: the params schema's)
        variant_name: str = "primary",
        access_log: bool = False,
        workers: int = 1,
        timeout: int = MODEL_SERVER_TIMEOUT,
        variant_weight: float = 1.0,
        variants: tuple[LocalVariant, ...] = (),  # more production variants (A/B)
        shadow: LocalVariant | None = None,
        recorder: Recorder | None = None,  # capture files and metrics into the emulator
        seed: int | None = None,  # the routing draws (tests)
        async_config=None,  # bundle.local.async_front.AsyncConfig: answer InvokeEndpointAsync instead of InvokeEndpoint
        region: str | None = None,  # where the async front's S3 is (default AWS_REGION, else us-east-1)
        s3_endpoint_url: str | None = None,  # the async front's S3 (default: boto3's, AWS_ENDPOINT_URL honoured)
        rest_settings: rest.RestSettings | None = None,  # also serve the REST front's contract (POST /v1/invocations)
        max_concurrency: int | None = None,  # throttle (429) invocations beyond this many at once
        multi_model: "MultiModelSource | None" = None,
        preprocessing: Path | None = None,  # preprocessing.tar.gz: an inference pipeline, its stage before the model's worker
    ):
        if endpoint_name is None:
            endpoint_name = default_endpoint_name()
        if not 0 <= port <= 65535:
            raise BundleError(f"port {port} is not a TCP port (0 to 65535)")
        if not is_loopback(host):
            warnings.warn(f"the local endpoint listens on {host}, not a loopback address: anyone who reaches it can call the model", stacklevel=2)
        self._scratch = tempfile.TemporaryDirectory(prefix="bundle-endpoint-")
        log = (lambda line: print(line, file=sys.stderr)) if access_log else None
        if preprocessing is not None and (multi_model is not None or variants or shadow):
            raise BundleError("an inference pipeline is served before one model: give preprocessing without multi-model, variants or a shadow")
        models = None
        self.preprocessing_worker: ImageWorker | None = None
        self.pipeline = None
        try:
            if multi_model is not None:
                from bundle.local.multi_model import MultiModelRouter, MultiModelServer

                base = Path(self._scratch.name)
                code_dir = base / "code"
                (base / "sourcedir.tar.gz").write_bytes(multi_model.sourcedir)
                unpack_artifact(base / "sourcedir.tar.gz", code_dir, require_code=False)
                self.worker = MultiModelServer(base, code_dir, log=log, timeout=timeout).start()
                models = MultiModelRouter(self.worker, multi_model.store, base / "models", multi_model.ready_timeout)
            else:
                model_dir = Path(self._scratch.name) / "model"
                unpack_artifact(Path(artifact), model_dir)
                self.worker = ImageWorker(model_dir, workers=workers, timeout=timeout, log=log)
                self.worker.start()
                if preprocessing is not None:
                    self._serve_pipeline(Path(preprocessing), workers, timeout, log)
        except BaseException:
            self._stop_workers()
            self._scratch.cleanup()
            raise
        # One image worker per other distinct artifact (A/B, shadow); the same artifact shares the primary's.
        self.variant_workers: dict[Path, ImageWorker] = {Path(artifact).resolve(): self.worker} if artifact is not None else {}
        try:
            for other in (*variants, *([shadow] if shadow else [])):
                key = Path(other.artifact).resolve()
                if key not in self.variant_workers:
                    directory = Path(self._scratch.name) / f"variant-{len(self.variant_workers)}" / "model"
                    unpack_artifact(key, directory)
                    self.variant_workers[key] = ImageWorker(directory, workers=workers, timeout=timeout).start()
        except BaseException:
            self._stop_workers()
            self._scratch.cleanup()
            raise
        url_of = lambda v: self.variant_workers[Path(v.artifact).resolve()].url  # noqa: E731
        router = Router(
            [Route(variant_name, variant_weight, self.container_url), *(Route(v.name, v.weight, url_of(v)) for v in variants)],
            Route(shadow.name, shadow.weight, url_of(shadow)) if shadow else None,
            seed=seed,
        )
        try:
            self._server = _FrontServer(
                (host, port), self.container_url, endpoint_name, variant_name, timeout, access_log,
                router=router, recorder=recorder, rest_settings=rest_settings, max_concurrency=max_concurrency, models=models,
            )  # fmt: skip
        except OSError as e:
            self._stop_workers()
            self._scratch.cleanup()
            raise BundleError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        if async_config is not None:
            self._server.async_invocations = _async_invocations(self._server, async_config, region, s3_endpoint_url)
        self._thread: threading.Thread | None = None
        self.supervisor = None

    def _serve_pipeline(self, archive: Path, workers: int, timeout: int, log) -> None:
        """The preprocessing stage's own image worker, and the pipeline in front of it and the model's worker."""
        from bundle.local.pipeline import PipelineServer
        from bundle.names import PIPELINE_STAGES, PREPROCESSING_ENVIRONMENT

        directory = Path(self._scratch.name) / "preprocessing" / "model"
        unpack_artifact(archive, directory, require_code=False)
        self.preprocessing_worker = ImageWorker(directory, workers=workers, timeout=timeout, log=log, model_environment=PREPROCESSING_ENVIRONMENT).start()
        self.pipeline = PipelineServer(list(zip(PIPELINE_STAGES, (self.preprocessing_worker, self.worker))), timeout + 5).start()

    @property
    def container_url(self) -> str:
        """What SageMaker's front calls on an instance: the inference pipeline's first container, or the model's worker."""
        return self.pipeline.url if self.pipeline is not None else self.worker.url

    def supervise(self, **options):
        """Restart a server of this endpoint that dies while it serves (bundle/local/supervisor.py); the supervisor
        stops before the servers do. Returns it: its `failure` says why it gave up, if it did."""
        from bundle.local.supervisor import Supervisor

        self.supervisor = Supervisor.for_endpoint(self, **options).start()
        return self.supervisor

    @property
    def endpoint_name(self) -> str:
        return self._server.endpoint_name

    @property
    def url(self) -> str:
        """The front: the runtime API's path and the container protocol."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def worker_url(self) -> str:
        """The image's worker itself (the container protocol only): what measurements of the data plane use."""
        return self.worker.url

    def serve_rest(self, settings: rest.RestSettings | None) -> None:
        """Serve (or stop serving, None) the REST front's contract, with these auth settings."""
        self._server.rest = settings

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def start(self) -> "LocalEndpoint":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait for the copies sent to the shadow so far to be answered and recorded; False if `timeout` passed first."""
        return self._server.settle(timeout)

    def shutdown(self) -> None:
        """Stop serving; safe from a signal handler's helper thread or another thread."""
        self._server.shutdown()

    def stop(self) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._close()

    def _close(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
        if self._server.async_invocations is not None:
            self._server.async_invocations.close()
        self._server.server_close()
        for pool in self._server.pools.values():
            pool.close()
        self._stop_workers()
        self._scratch.cleanup()

    def _stop_workers(self) -> None:
        """Every server process this endpoint started: the primary's worker (or the multi-model server) and the variants'."""
        if getattr(self, "pipeline", None) is not None:
            self.pipeline.stop()
        workers = (getattr(self, "worker", None), getattr(self, "preprocessing_worker", None), *getattr(self, "variant_workers", {}).values())
        for worker in {id(w): w for w in workers if w is not None}.values():
            worker.stop()

    @property
    def recorder(self) -> Recorder | None:
        return self._server.recorder

    def __enter__(self) -> "LocalEndpoint":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
