"""A deployment emulated on this machine: moto for the control plane, the local endpoint for the data plane.

There is no AWS account here. To run the guide's commands and the smoke test as they would run
after `pulumi up`, this creates in moto (the AWS API emulator) the resources that the stack outputs
name, and serves the real artifact with the local endpoint (a multi-model endpoint: the stack's models under its
prefix in moto's S3, served by the image's multi-model server, each fetched on its first call). Environment variables
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

    def __init__(self, outputs: dict, artifact: Path | None):
        self.outputs = outputs
        self.artifact = Path(artifact) if artifact else None
        self.multi_model = outputs.get("multi_model")
        self.region = outputs["endpoint"]["region"]
        self.endpoint_name = outputs["endpoint"]["endpoint_name"]
        self._moto: ThreadedMotoServer | None = None
        self._local: LocalEndpoint | None = None

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
        try:
            self._local = self._start_local_endpoint()
            self._create_resources()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._local is not None:
            self._local.stop()
        if self._moto is not None:
            self._moto.stop()

    def client(self, service: str):
        return aws.client(service, self.region, endpoint_url=self.moto_url, max_attempts=1)

    def _start_local_endpoint(self) -> LocalEndpoint:
        if not self.multi_model:
            return LocalEndpoint(self.artifact, port=0, endpoint_name=self.endpoint_name).start()
        from bundle.artifact.build import sourcedir_tarball
        from bundle.local.endpoint import MultiModelSource
        from bundle.local.multi_model import ModelStore

        store = ModelStore.s3(self.client("s3"), self.multi_model["prefix"])  # archives are read when first called
        return LocalEndpoint(None, port=0, endpoint_name=self.endpoint_name, multi_model=MultiModelSource(store, sourcedir_tarball())).start()

    def _put_multi_model_objects(self, s3, bucket: str) -> None:
        """The models under the prefix and the handlers' sourcedir, as the stack uploads and copies them. The user's own
        archives are not here: a recipe's archive stands in for each, at its source URI and at its copy's key."""
        from bundle.artifact.build import sourcedir_tarball
        from bundle.artifact.recipes import recipe_artifact

        _, prefix = split_s3_uri(self.multi_model["prefix"])
        stand_in = recipe_artifact("logistic-regression", layout="multi-model").path.read_bytes()
        for hosted in self.multi_model["models"]:
            source = hosted["source"]
            if source.startswith("s3://"):
                source_bucket, source_key = split_s3_uri(source)
                if source_bucket != bucket:
                    s3.create_bucket(Bucket=source_bucket)
                s3.put_object(Bucket=source_bucket, Key=source_key, Body=stand_in)
                data = stand_in
            else:
                data = recipe_artifact(source, layout="multi-model").path.read_bytes()
            s3.put_object(Bucket=bucket, Key=prefix + hosted["target_model"], Body=data)
        code_bucket, code_key = split_s3_uri(self.multi_model["code_url"])
        s3.put_object(Bucket=code_bucket, Key=code_key, Body=sourcedir_tarball())

    def _create_resources(self) -> None:
        out, params = self.outputs, self.outputs["params"]
        variant = out["variant_name"]

        bucket, key = split_s3_uri(out["model_data_url"])
        s3 = self.client("s3")
        s3.create_bucket(Bucket=bucket)
        if self.multi_model:
            self._put_multi_model_objects(s3, bucket)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=self.artifact.read_bytes())

        iam = self.client("iam")
        role_name = out["role_arn"].rsplit("/", 1)[-1]
        role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST_POLICY))["Role"]["Arn"]

        sm = self.client("sagemaker")
        container = {"Image": out["image_uri"], "ModelDataUrl": out["model_data_url"], "Environment": MODEL_ENVIRONMENT}
        if self.multi_model:
            from bundle.deploy.model import multi_model_environment

            container.update(
                Mode="MultiModel",
                MultiModelConfig={"ModelCacheSetting": self.multi_model["cache"]},
                Environment=multi_model_environment(self.multi_model["code_url"], self.region),
            )
        sm.create_model(
            ModelName=out["endpoint"]["model_name"],
            ExecutionRoleArn=role_arn,
            PrimaryContainer=container,
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
        sm.create_endpoint_config(EndpointConfigName=out["endpoint_config_name"], ProductionVariants=[production_variant])
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
