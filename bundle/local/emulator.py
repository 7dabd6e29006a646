"""A deployment emulated on this machine: moto for the control plane, the local endpoint for the data plane.

There is no AWS account here. To run the guide's commands and the smoke test as they would run
after `pulumi up`, this creates in moto (the AWS API emulator) the resources that the stack outputs
name, and serves the real artifact with the local endpoint. Environment variables
AWS_ENDPOINT_URL (moto) and AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME (local endpoint) route boto3 and the
AWS CLI there. moto accepts much that AWS rejects: a passing run proves the calls are well-formed and
name the right resources, not that AWS would accept them (see shared FACTS.md).
"""
from __future__ import annotations

import json
import logging
import time
import urllib.request
from pathlib import Path

from moto.server import ThreadedMotoServer

from bundle.ops import aws
from bundle.names import MODEL_ENVIRONMENT, SAGEMAKER_TRUST_POLICY, SCALABLE_DIMENSION, SCALING_METRIC, scaling_policy_name, split_s3_uri
from bundle.local.endpoint import LocalEndpoint

FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


class EmulatedDeployment:
    """Context manager: moto server + local endpoint + the stack's resources created in moto."""

    def __init__(self, outputs: dict, artifact: Path):
        self.outputs = outputs
        self.artifact = Path(artifact)
        self.region = outputs["endpoint"]["region"]
        self.endpoint_name = outputs["endpoint"]["endpoint_name"]
        self._moto: ThreadedMotoServer | None = None
        self._local: LocalEndpoint | None = None
        self._flusher = None
        self._scratch = None

    @property
    def moto_url(self) -> str:
        host, port = self._moto.get_host_and_port()
        return f"http://{host}:{port}"

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
        }

    def __enter__(self) -> "EmulatedDeployment":
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request otherwise
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        # moto's state is per process: start every deployment from an empty account.
        urllib.request.urlopen(urllib.request.Request(f"{self.moto_url}/moto-api/reset", method="POST"), timeout=10).read()
        self._local = LocalEndpoint(self.artifact, port=0, endpoint_name=self.endpoint_name, **self._variant_serving()).start()
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
        if self._moto is not None:
            self._moto.stop()
        if self._scratch is not None:
            self._scratch.cleanup()

    def client(self, service: str):
        return aws.client(service, self.region, endpoint_url=self.moto_url, max_attempts=1)

    def _create_resources(self) -> None:
        out, params = self.outputs, self.outputs["params"]
        variant = out["variant_name"]

        bucket, key = split_s3_uri(out["model_data_url"])
        s3 = self.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())

        iam = self.client("iam")
        role_name = out["role_arn"].rsplit("/", 1)[-1]
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST_POLICY))["Role"]["Arn"]

        sm = self.client("sagemaker")
        sm.create_model(
            ModelName=out["endpoint"]["model_name"],
            ExecutionRoleArn=role_arn,
            PrimaryContainer={
                "Image": out["image_uri"],
                "ModelDataUrl": out["model_data_url"],
                "Environment": MODEL_ENVIRONMENT,
            },
            EnableNetworkIsolation=params.get("enable_network_isolation", False),  # serverless has no such setting
        )
        production_variant = {"VariantName": variant, "ModelName": out["endpoint"]["model_name"], "InitialVariantWeight": 1.0}
        if out["serverless"]:
            production_variant["ServerlessConfig"] = {
                "MemorySizeInMB": out["serverless"]["memory_size_mb"],
                "MaxConcurrency": out["serverless"]["max_concurrency"],
            }
        else:
            production_variant.update(InstanceType=params["instance_type"], InitialInstanceCount=params["initial_instance_count"])
        extra, shadows = self._variant_resources(sm, s3, role_arn)
        if extra or shadows:
            production_variant["InitialVariantWeight"] = float(params.get("variant_weight", 1))
        sm.create_endpoint_config(
            EndpointConfigName=out["endpoint_config_name"], ProductionVariants=[production_variant, *extra], **({"ShadowProductionVariants": shadows} if shadows else {})
        )
        sm.create_endpoint(EndpointName=self.endpoint_name, EndpointConfigName=out["endpoint_config_name"])

        scaling = out["autoscaling"]
        if scaling["enabled"]:
            autoscaling = self.client("application-autoscaling")
            autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=scaling["resource_id"],
                ScalableDimension=SCALABLE_DIMENSION,
                MinCapacity=scaling["min_capacity"],
                MaxCapacity=scaling["max_capacity"],
            )
            autoscaling.put_scaling_policy(
                PolicyName=scaling_policy_name(self.endpoint_name),
                ServiceNamespace="sagemaker",
                ResourceId=scaling["resource_id"],
                ScalableDimension=SCALABLE_DIMENSION,
                PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration={
                    "TargetValue": float(scaling["target_invocations_per_instance"]),
                    "PredefinedMetricSpecification": {"PredefinedMetricType": SCALING_METRIC},
                    "ScaleInCooldown": scaling["scale_in_cooldown"],
                    "ScaleOutCooldown": scaling["scale_out_cooldown"],
                },
            )

        dimensions = [{"Name": "EndpointName", "Value": self.endpoint_name}, {"Name": "VariantName", "Value": variant}]
        cloudwatch = self.client("cloudwatch")
        for metric, name in (("Invocation5XXErrors", out["alarms"]["invocation_5xx"]), ("ModelLatency", out["alarms"]["model_latency"])):
            cloudwatch.put_metric_alarm(
                AlarmName=name,
                Namespace="AWS/SageMaker",
                MetricName=metric,
                Dimensions=dimensions,
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=2,
                Threshold=1.0,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="notBreaching",
            )
        cloudwatch.put_dashboard(DashboardName=out["dashboard_name"], DashboardBody=json.dumps({"widgets": []}))

        # What SageMaker itself writes once the endpoint serves: log lines, metrics, captured data.
        logs = self.client("logs")
        logs.create_log_group(logGroupName=out["log_group"])
        stream = f"{variant}/i-0emulated"
        logs.create_log_stream(logGroupName=out["log_group"], logStreamName=stream)
        logs.put_log_events(
            logGroupName=out["log_group"],
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": "emulated: model_fn loaded model.joblib"}],
        )
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[{"MetricName": "Invocations", "Dimensions": dimensions, "Value": 3.0, "Unit": "None"}],
        )
        capture = out["data_capture"]
        if capture["enabled"]:
            capture_bucket, prefix = split_s3_uri(capture["destination"])
            if capture_bucket != bucket:
                s3.create_bucket(Bucket=capture_bucket)
            hour = time.strftime("%Y/%m/%d/%H", time.gmtime())
            s3.put_object(Bucket=capture_bucket, Key=f"{prefix}{variant}/{hour}/emulated.jsonl", Body=b'{"captureData": {}}\n')


    # --- A/B variants and the shadow (issue 12) ------------------------------------------------------------------
    # Each variant's Model, sizing and weight, its autoscaling and alarms, as the `variants` output names them. The
    # local endpoint serves every variant with the image's worker; a model given as an s3:// URI has no artifact
    # here, so the emulator serves the bundle's artifact under that variant's name (a copy: its own worker).
    # moto stores no ShadowProductionVariants (accepted, then dropped): DescribeEndpoint shows no shadow here.

    def _variant_serving(self) -> dict:
        import shutil
        import tempfile

        from bundle.local.endpoint import LocalVariant

        v = self.outputs.get("variants")
        if not v:
            return {}  # one variant: served and emulated as before
        recorder = self._recorder()
        self._scratch = tempfile.TemporaryDirectory(prefix="bundle-variants-")
        paths = {v["production"][0]["model"]: self.artifact}

        def artifact_for(model: str) -> Path:
            if model not in paths:
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
        """Write what the local endpoint recorded into moto now (it also does so every second)."""
        if self._flusher is not None:
            self._flusher.recorder.flush()

    def _variant_resources(self, sm, s3, role_arn: str) -> tuple[list[dict], list[dict]]:
        v = self.outputs.get("variants")
        if not v:
            return [], []
        out = self.outputs
        known = {out["endpoint"]["model_name"]}
        for variant in [*v["production"][1:], *([v["shadow"]] if v.get("shadow") else [])]:
            if variant["model_name"] in known:
                continue
            known.add(variant["model_name"])
            url = variant["model"] if variant["model"].startswith("s3://") else out["model_data_url"]
            bucket, key = split_s3_uri(url)
            if url != out["model_data_url"]:
                try:
                    s3.create_bucket(Bucket=bucket)
                except s3.exceptions.BucketAlreadyOwnedByYou:
                    pass
                s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())
            sm.create_model(
                ModelName=variant["model_name"],
                ExecutionRoleArn=role_arn,
                PrimaryContainer={"Image": out["image_uri"], "ModelDataUrl": url, "Environment": MODEL_ENVIRONMENT},
            )

        def sized(x: dict) -> dict:
            return {
                "VariantName": x["name"], "ModelName": x["model_name"], "InitialVariantWeight": float(x["weight"]),
                "InstanceType": x["instance_type"], "InitialInstanceCount": x["initial_instance_count"],
            }  # fmt: skip

        autoscaling, cloudwatch = self.client("application-autoscaling"), self.client("cloudwatch")
        for x in v["production"][1:]:
            if x["autoscaling"]:
                autoscaling.register_scalable_target(
                    ServiceNamespace="sagemaker", ResourceId=f"endpoint/{self.endpoint_name}/variant/{x['name']}", ScalableDimension=SCALABLE_DIMENSION,
                    MinCapacity=x["autoscaling"]["min_capacity"], MaxCapacity=x["autoscaling"]["max_capacity"],
                )  # fmt: skip
            for metric, name in zip(("Invocation5XXErrors", "ModelLatency"), x["alarms"]):
                cloudwatch.put_metric_alarm(
                    AlarmName=name, Namespace="AWS/SageMaker", MetricName=metric, Statistic="Sum", Period=60, EvaluationPeriods=2, Threshold=1.0,
                    Dimensions=[{"Name": "EndpointName", "Value": self.endpoint_name}, {"Name": "VariantName", "Value": x["name"]}],
                    ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
                )  # fmt: skip
        return [sized(x) for x in v["production"][1:]], [sized(v["shadow"])] if v.get("shadow") else []


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
