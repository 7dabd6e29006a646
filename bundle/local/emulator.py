"""A deployment emulated on this machine: moto for the control plane, the local endpoint for the data plane.

There is no AWS account here. To run the guide's commands and the smoke test as they would run after
`pulumi up`, this replays in moto (the AWS API emulator) the create calls of the stack's own offline plan
(bundle/local/requests.py turns each planned resource into the request AWS would receive: the same alarms,
capture settings, keys, sizes and names as the stack), and serves the real artifact with the image's own
worker (bundle/local/endpoint.py). Nothing here re-describes the stack by hand. Besides the plan it adds only
what the stack does not create: what the user brings (a custom model's archive, an outside capture bucket)
and what SageMaker writes once the endpoint serves (log lines, a metric, captured data).

Environment variables AWS_ENDPOINT_URL (moto) and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (local endpoint) route
boto3 and the AWS CLI there. moto accepts much that AWS rejects: a passing run proves the calls are
well-formed and name the right resources, not that AWS would accept them (see shared FACTS.md).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from moto.server import ThreadedMotoServer

from bundle.errors import BundleError
from bundle.local.async_front import AsyncConfig
from bundle.local.endpoint import LocalEndpoint
from bundle.local.rest import RestSettings
from bundle.api.contract import REST_PATH
from bundle.local.plan import Evaluation
from bundle.local.requests import ApiRequest, api_requests
from bundle.names import split_s3_uri
from bundle.ops import aws

# Planned calls the emulator does not replay, each with its reason (tests check that nothing else is left out).
NOT_REPLAYED = {
    "PutBucketPolicy": "the bucket's policy refuses every request without TLS, and moto here serves plain HTTP: "
    "replayed, it would refuse the guide's own S3 commands, as AWS refuses a client without TLS",
    "CreateDataQualityJobDefinition": "moto implements no Model Monitor job definitions or schedules (shared FACTS.md): the plan "
    "and botocore's shapes prove them; `python -m bundle monitor drift` computes the statistics here instead",
    "CreateMonitoringSchedule": "moto implements no Model Monitor job definitions or schedules (shared FACTS.md)",
}
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free local port: its URL, and the server stopped on exit."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class EmulatedDeployment:
    """Context manager: moto server + local endpoint + the stack's resources created in moto."""

    def __init__(self, plan: Evaluation, artifact: Path):
        self.plan = plan
        outputs = plan.outputs
        self.outputs = outputs
        self.artifact = Path(artifact)
        self.region = outputs["endpoint"]["region"]
        self.endpoint_name = outputs["endpoint"]["endpoint_name"]
        self.multi_model = outputs.get("multi_model")  # a multi-model endpoint: its prefix, models and handlers
        self._moto = contextlib.ExitStack()  # the moto server, while entered
        self._moto_url: str | None = None
        self._local: LocalEndpoint | None = None
        self._flusher = None  # A/B and shadow: writes what the local front records into moto
        self._scratch = None
        self._clients: dict[str, object] = {}
        self._clients_lock = threading.Lock()

    @property
    def moto_url(self) -> str:
        return self._moto_url

    @property
    def runtime_url(self) -> str:
        return self._local.url

    def env(self) -> dict[str, str]:
        """What a shell needs to reach this deployment as if it were AWS."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": self.runtime_url,
            "AWS_PAGER": "",
            # The REST front (api.enabled): its contract served by the local endpoint. The guide's blocks read API_URL,
            # defaulting to the stack's invoke URL.
            **({"API_URL": self._local.url + REST_PATH} if self.outputs.get("api") else {}),
        }

    def __enter__(self) -> "EmulatedDeployment":
        self._moto_url = self._moto.enter_context(moto_server())
        # moto's state is per process: start every deployment from an empty account.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10).read()
        # An asynchronous stack's endpoint answers InvokeEndpointAsync, reading and writing S3 in this moto; with the
        # REST front, the local endpoint serves its contract too (an API key's value is known once replayed). A multi-model
        # endpoint: the image's multi-model server, each model fetched from the prefix in moto's S3 on its first call, as
        # SageMaker does. A/B and shadow variants: every variant served by its own image worker (_variant_serving).
        rest = RestSettings("iam") if (self.outputs.get("api") or {}).get("auth") == "iam" else None
        self._local = LocalEndpoint(
            None if self.multi_model else self.artifact, port=0, endpoint_name=self.endpoint_name,
            async_config=AsyncConfig.from_outputs(self.outputs), region=self.region, s3_endpoint_url=self.moto_url,
            rest_settings=rest, multi_model=self._multi_model_source(), preprocessing=self._preprocessing_archive(), **self._variant_serving(),
        ).start()  # fmt: skip
        try:
            self._create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._flusher is not None:
            self._flusher.stop()
        if self._local is not None:
            self._local.stop()
        self._moto.close()
        self._clients.clear()  # they name this moto's port
        if self._scratch is not None:
            self._scratch.cleanup()

    def client(self, service: str):
        """One client per service for this deployment's moto (a client is thread-safe; making one costs 0.1 s)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = aws.client(service, self.region, endpoint_url=self.moto_url, max_attempts=1)
            return self._clients[service]

    def requests(self) -> list[ApiRequest]:
        """The stack's create calls, from its plan."""
        return api_requests(self.plan.resources, self.artifact.read_bytes())

    def _create_resources(self) -> None:
        out = self.outputs
        variant = out["variant_name"]
        s3 = self.client("s3")
        self._what_the_user_brings(s3)
        for request in self.requests():
            if request.operation in NOT_REPLAYED:
                continue
            if request.operation == "CreateApiKey":
                request = self._use_planned_id(request)
            try:
                answer = getattr(self.client(request.service), request.method)(**request.params)
            except Exception as e:  # name the call, whatever moto raised
                raise BundleError(f"the emulator could not replay {request.service}.{request.operation} for {request.resource}: {e}") from None
            if request.operation == "CreateApiKey":  # the REST front checks the value AWS (here moto) made up
                self._local.serve_rest(RestSettings("api_key", self.client("apigateway").get_api_key(apiKey=answer["id"], includeValue=True)["value"]))
        self._what_sagemaker_writes(s3, variant)

    def _multi_model_source(self):
        if not self.multi_model:
            return None
        from bundle.artifact.build import sourcedir_tarball
        from bundle.local.endpoint import MultiModelSource
        from bundle.local.multi_model import ModelStore

        return MultiModelSource(ModelStore.s3(self.client("s3"), self.multi_model["prefix"]), sourcedir_tarball())

    def _preprocessing_archive(self) -> Path | None:
        """An inference pipeline's first container: the archive the plan uploads to its ModelDataUrl (the Model's
        first container), served by its own image worker before the model's."""
        pipeline = self.outputs.get("preprocessing")
        if not pipeline:
            return None
        key = split_s3_uri(pipeline["code_url"])[1]
        planned = [r for r in self.plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if r.inputs.get("key") == key]
        if len(planned) != 1:
            raise BundleError(f"the plan uploads no object under {key}, the preprocessing container's ModelDataUrl")
        return Path(planned[0].inputs["source"].path)

    def _what_the_user_brings(self, s3) -> None:
        """Buckets and objects the stack refers to but does not own: a custom model's archive, an outside capture bucket."""
        planned_buckets = {r.state.get("bucket") for r in self.plan.resources if r.type == "aws:s3/bucket:Bucket"}
        out = self.outputs
        if (out.get("params") or {}).get("model_source") == "custom-s3":  # the user's own archive
            bucket, key = split_s3_uri(out["model_data_url"])
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())
            planned_buckets.add(bucket)
        if out.get("model_package"):  # the Model Registry version the stack was planned with, and its archive
            self._registry_version(s3, out["model_package"], planned_buckets)
        for url in self._variant_archives():  # A/B and shadow variants' own archives (s3:// models)
            bucket, key = split_s3_uri(url)
            if bucket not in planned_buckets:
                s3.create_bucket(Bucket=bucket)
                planned_buckets.add(bucket)
            s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())
        capture = out["data_capture"]
        if capture["enabled"]:
            bucket, _ = split_s3_uri(capture["destination"])
            if bucket not in planned_buckets:
                s3.create_bucket(Bucket=bucket)
                planned_buckets.add(bucket)
        # A multi-model endpoint's own archives (s3:// in multi_model.models), which the stack copies under its prefix:
        # a recipe's multi-model archive stands in for each, at its source.
        for hosted in (self.multi_model or {}).get("models", []):
            if hosted["source"].startswith("s3://"):
                from bundle.artifact.build import recipe_artifact

                bucket, key = split_s3_uri(hosted["source"])
                if bucket not in planned_buckets:
                    s3.create_bucket(Bucket=bucket)
                    planned_buckets.add(bucket)
                s3.put_object(Bucket=bucket, Key=key, Body=recipe_artifact("logistic-regression", layout="multi-model").path.read_bytes())
        # Async requests and results, batch data sets: the user's own buckets when the params name them.
        places = [v for k, v in (out.get("async_inference") or {}).items() if k.endswith("_location")]
        places += list((out.get("batch_transform") or {}).values())
        for bucket in {split_s3_uri(uri)[0] for uri in places} - planned_buckets:
            s3.create_bucket(Bucket=bucket)

    def _registry_version(self, s3, package: dict, planned_buckets: set) -> None:
        """The version the outputs name, as the team that trained it registered it: its group, the version with the
        outputs' image and archive (the artifact served here stands in for the archive), and its approval status. moto
        numbers a group's versions from 1, so only a plan of version 1 (or of an unversioned package) is replayed."""
        from bundle.names import MODEL_ENVIRONMENT

        if package.get("version") not in (None, 1):
            raise BundleError(
                f"the emulator replays the registry with the deployed version as its first, but the plan deployed version {package['version']} of {package['group']}"
            )
        bucket, key = split_s3_uri(package["model_data_url"])
        if bucket not in planned_buckets:
            s3.create_bucket(Bucket=bucket)
            planned_buckets.add(bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())
        sagemaker = self.client("sagemaker")
        container = {"Image": package["image"], "ModelDataUrl": package["model_data_url"], "Environment": dict(MODEL_ENVIRONMENT)}
        where = {"ModelPackageGroupName": package["group"]} if package.get("group") else {"ModelPackageName": package["arn"].rsplit("/", 1)[-1]}
        if package.get("group"):
            sagemaker.create_model_package_group(ModelPackageGroupName=package["group"])
        arn = sagemaker.create_model_package(**where, InferenceSpecification={"Containers": [container]}, ModelApprovalStatus=package["approval_status"])["ModelPackageArn"]
        if arn != package["arn"]:
            raise BundleError(f"the emulator's registry named the version {arn}, the plan deployed {package['arn']}")

    def _what_sagemaker_writes(self, s3, variant: str) -> None:
        """What SageMaker itself writes once the endpoint serves: log lines, a metric, captured data."""
        out = self.outputs
        dimensions = [{"Name": "EndpointName", "Value": self.endpoint_name}, {"Name": "VariantName", "Value": variant}]
        logs = self.client("logs")
        logs.create_log_group(logGroupName=out["log_group"])
        stream = f"{variant}/i-0emulated"
        logs.create_log_stream(logGroupName=out["log_group"], logStreamName=stream)
        logs.put_log_events(
            logGroupName=out["log_group"],
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "emulated: model_fn loaded model.joblib"}],
        )
        self.client("cloudwatch").put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[{"MetricName": "Invocations", "Dimensions": dimensions, "Value": 3.0, "Unit": "None"}],
        )
        capture = out["data_capture"]
        if capture["enabled"]:
            capture_bucket, prefix = split_s3_uri(capture["destination"])
            hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
            s3.put_object(Bucket=capture_bucket, Key=f"{prefix}{variant}/{hour}/emulated.jsonl", Body=b'{"captureData": {}}\n')

    def _use_planned_id(self, request: ApiRequest) -> ApiRequest:
        """moto makes up an API key's id; the stack's outputs name the planned one: moto's custom-id feature makes them
        agree (moto runs in this process). It keys the id by the key's value, which AWS makes up when the stack
        gives none (it gives none): the emulator makes one up instead."""
        from moto.apigateway.utils import ApigwApiKeyIdentifier
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.utilities.id_generator import moto_id_manager

        planned = next(r.state["id"] for r in self.plan.resources if r.name == request.resource)
        value = f"emulated-{planned}"[-128:].ljust(20, "0")  # API Gateway wants 20 to 128 characters
        moto_id_manager.set_custom_id(ApigwApiKeyIdentifier(DEFAULT_ACCOUNT_ID, self.region, value), planned)
        return dataclasses.replace(request, params={**request.params, "value": value})

    # --- A/B variants and the shadow ------------------------------------------------------------------
    # The plan's requests create every variant's Model, the configuration's variants and shadow, the targets and
    # alarms. The local endpoint serves every variant with the image's worker; a model given as an s3:// URI has no
    # artifact here, so the emulator serves the bundle's artifact under that variant's name (a copy: its own worker).
    # moto stores no ShadowProductionVariants (accepted, then dropped): DescribeEndpoint shows no shadow here.

    def _variant_serving(self) -> dict:
        import shutil
        import tempfile

        from bundle.artifact.build import recipe_artifact
        from bundle.local.endpoint import LocalVariant
        from bundle.params.variant_models import resolve_model

        v = self.outputs.get("variants")
        if not v:  # one variant: with data capture, each call is recorded as SageMaker records it (InferenceId included)
            return {"recorder": self._recorder()} if self.outputs["data_capture"]["enabled"] else {}
        recorder = self._recorder()
        self._scratch = tempfile.TemporaryDirectory(prefix="bundle-variants-")
        paths = {v["production"][0]["model"]: self.artifact}

        def artifact_for(model: str) -> Path:
            if model not in paths:
                ref = resolve_model(model)
                if ref.recipe:  # a recipe: its own packaged artifact
                    paths[model] = recipe_artifact(ref.recipe, image_version=self.outputs["params"]["serving_image_version"]).path
                else:  # the user's archive is not here: the bundle's artifact stands in, under its own worker
                    paths[model] = Path(self._scratch.name) / f"model-{len(paths)}.tar.gz"
                    shutil.copyfile(self.artifact, paths[model])
            return paths[model]

        primary, *others = v["production"]
        shadow = v.get("shadow")
        return {
            "variant_name": primary["name"],
            "variant_weight": primary["weight"],
            "variants": tuple(LocalVariant(o["name"], artifact_for(o["model"]), o["weight"]) for o in others),
            "shadow": LocalVariant(shadow["name"], artifact_for(shadow["model"]), shadow["weight"]) if shadow else None,
            "recorder": recorder,
        }

    def _recorder(self):
        """What SageMaker records of each call (captured data, per-variant metrics), written into moto every second."""
        from bundle.local.variants import Recorder

        capture = self.outputs["data_capture"]
        destination = capture["destination"].rstrip("/").rsplit("/", 1)[0] if capture["enabled"] else None
        recorder = Recorder(
            self.endpoint_name, destination, capture["sampling_percentage"] or 100, self.client("s3"), self.client("cloudwatch")
        )
        self._flusher = _Flusher(recorder)
        return recorder

    def flush(self) -> None:
        """Write what the local endpoint recorded into moto now, once the shadow copies in flight are answered (it also
        writes every second)."""
        if self._local is not None:
            self._local.settle()
        if self._flusher is not None:
            self._flusher.recorder.flush()

    def _variant_archives(self) -> list[str]:
        """The s3:// archives variants name: the user brings them (the plan's Models refer to them)."""
        v = self.outputs.get("variants") or {}
        models = [x["model"] for x in [*v.get("production", [])[1:], *([v["shadow"]] if v.get("shadow") else [])]]
        return list(dict.fromkeys(m for m in models if m.startswith("s3://") and m != self.outputs["model_data_url"]))


class _Flusher:
    """Flushes a Recorder into moto every `interval` seconds, and once more when stopped."""

    def __init__(self, recorder, interval: float = 1.0):
        import threading

        self.recorder = recorder
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.recorder.flush()
            except Exception:  # moto stopping under us: the last flush in stop() reports nothing either
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
