"""The deployment: one ComponentResource that owns every AWS resource of the endpoint.

The constructor only orchestrates, in the order the resources depend on each other; each concern is a small
module that takes the narrow settings it needs:

  modes.py          the mode as a value: what real-time, serverless and async each add (blocks, grants, alarms, scaling)
  fleet.py          the variants, one list (the primary first): a Model per distinct model, the configuration's entries
  storage.py        the bundle's bucket, hardened and kept (it may hold captured data)
  model.py          a model's data (an uploaded recipe, the user's archive, a Model Registry version, a multi-model
                    prefix) and the SageMaker Model
  pipeline.py       an inference pipeline: the preprocessing code, and its container before the model's
  capture.py        where captured requests land, and with which key
  async_inference.py  async requests and results: their S3 prefixes, notification topics, the role's grants for them
  batch_transform.py  where transform jobs (run as the Model's role) may read and write
  iam.py            the execution role, least privilege
  endpoint.py       the endpoint configuration and the endpoint
  rollout.py        blue/green guardrails, and autoscaling kept out of UpdateEndpoint's way
  observability.py  the alarms (they drive the rollback) and their topic; metrics.py, dashboard.py what they watch
  scaling.py        a variant's scalable target and its policies (invocations, or an async queue's backlog)
  api.py            the optional REST front (API Gateway), direct or through the bundle's Lambda
  monitoring.py     model quality: the data-quality baseline, job and schedule, the PredictionAccuracy alarms
  outputs.py        the stack's outputs, read from the component

Design choices that avoid the pitfalls SageMaker IaC users hit (shared FACTS.md): a content-addressed artifact key
(a new model is a new key, so the Model is replaced), auto-named Model and configuration (create-before-delete),
the stable endpoint name, autoscaling registered after the endpoint, blue/green updates with automatic rollback.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bundle.artifact.image import REPOSITORY, serving_image
from bundle.deploy import api, batch_transform, capture, endpoint, fleet, iam, model, modes, monitoring, observability, pipeline, scaling, storage
from bundle.deploy.hook_identity import ProviderSettings
from bundle.deploy.metrics import Watched
from bundle.deploy.model import ModelArtifact, MultiModelPackage
from bundle.deploy.rollout import endpoint_options, scaling_hook_for
from bundle.names import BUNDLE_TAG
from bundle.ops.registry import ResolvedPackage
from bundle.params.model import Params

COMPONENT_TYPE = "sagemaker-bundle:index:Endpoint"


@dataclass(frozen=True)
class EndpointArgs:
    params: Params
    # Every recipe's packaged artifact a variant serves, by recipe name (none for the user's archives).
    recipe_artifacts: dict[str, ModelArtifact] = field(default_factory=dict)
    multi_model: MultiModelPackage | None = None  # a multi-model endpoint's models and handlers
    preprocessing: pipeline.PreprocessingCode | None = None  # the inference pipeline's first stage (preprocessing.enabled)
    # Whom the update hook acts as: the provider's credential settings (the stack's aws:* config, or the catalog
    # connection's role). The default follows the ambient credentials.
    identity: ProviderSettings = ProviderSettings()
    # model_source model-package: the Model Registry version resolved when the stack is planned (bundle/ops/registry.py).
    package: ResolvedPackage | None = None
    # monitoring.enabled: the data-quality baseline and the accuracy threshold, from the artifact's build.
    quality: monitoring.QualityReferences | None = None


@dataclass(frozen=True)
class AwsEnvironment:
    """What the stack learns from AWS before it creates anything."""

    region: pulumi.Output[str]
    account: pulumi.Output[str]
    partition: pulumi.Output[str]
    image: pulumi.Output  # get_prebuilt_ecr_image's result: registry_path, registry_id


def aws_environment(parent: pulumi.Resource, image_version: str) -> AwsEnvironment:
    invoke = pulumi.InvokeOptions(parent=parent)
    return AwsEnvironment(
        region=aws.get_region_output(opts=invoke).region,
        account=aws.get_caller_identity_output(opts=invoke).account_id,
        partition=aws.get_partition_output(opts=invoke).partition,
        # The tag is explicit: the provider's default "1" is no scikit-learn tag.
        image=aws.sagemaker.get_prebuilt_ecr_image_output(repository_name=REPOSITORY, image_tag=serving_image(image_version).tag, opts=invoke),
    )


class SageMakerEndpoint(pulumi.ComponentResource):
    environment: AwsEnvironment
    mode: modes.RealTime  # the mode's value (bundle/deploy/modes.py): what it adds and how it scales
    bucket: storage.BundleBucket | None
    model_data: dict[str, model.ModelData]  # each distinct model's data, the primary's first
    capture: capture.Capture
    batch_locations: batch_transform.BatchLocations | None  # batch_transform.enabled
    pipeline: pipeline.Pipeline | None  # preprocessing.enabled: the preprocessing code, before the model
    execution: iam.ExecutionRole
    models: dict[str, aws.sagemaker.Model]  # one per distinct model, the primary's first
    config: aws.sagemaker.EndpointConfiguration
    observability: observability.Observability
    endpoint: aws.sagemaker.Endpoint
    scaling: dict[str, scaling.VariantScaling]  # by variant, for those that autoscale
    api: api.RestFront | None
    monitoring: monitoring.ModelQuality | None  # monitoring.enabled

    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        p = self.params = args.params
        tags = {**p.tags, "bundle": BUNDLE_TAG, "endpoint": p.endpoint_name}
        self.environment = env = aws_environment(self, p.serving_image_version)
        self.mode = modes.mode_for(p)

        # Where the models, captured data and the mode's requests live.
        bucket_settings = storage.BucketSettings(p.endpoint_name, p.kms_key_arn, p.delete_bucket_on_destroy)
        self.bucket = storage.create_bucket(bucket_settings, tags, self) if p.needs_bucket else None
        sources = fleet.Sources(self.bucket, args.recipe_artifacts, args.multi_model, p.endpoint_name, env.partition, args.package)
        self.model_data = fleet.model_data(p, sources, tags, self)
        self.capture = capture.plan_capture(p.endpoint_name, p.data_capture, p.kms_key_arn, self.bucket_name)
        self.mode.provision(self.bucket_name, tags, self)
        self.batch_locations = batch_transform.locations(p.batch_transform, self.bucket_name) if p.batch_transform.enabled else None
        self.pipeline = pipeline.upload(self.bucket, args.preprocessing, env.partition, tags, self)

        # Who the endpoint runs as, and what it serves: one Model per distinct model, every variant in the configuration.
        self.execution = iam.create_execution_role(
            iam.RoleGrants(p.endpoint_name, p.kms_key_arn, self.capture.settings.key, p.vpc), pipeline.readable(fleet.readable(self.model_data), self.pipeline), self.capture.prefix,
            env, tags, self, asynchronous=self.mode.role_grants(), batch=pulumi.Output.from_input(vars(self.batch_locations)) if self.batch_locations else None,
            packages=fleet.packages(self.model_data),
        )  # fmt: skip
        hosting = model.ModelSettings(
            p.endpoint_name, p.enable_network_isolation, p.vpc, tuple(self.mode.model_environment().items()), p.multi_model.cache if p.is_multi_model else None,
            pipeline=self.pipeline,
        )
        self.models = fleet.models(p, hosting, self.model_data, self.execution.role.arn, self.image_uri, tags, self, [self.execution.policy], env.region)
        # Captured data and async results land only in a hardened bucket.
        writes = self.bucket is not None and (self.capture.settings.into_bundle_bucket or self.mode.writes_into_bucket)
        self.config = endpoint.create_endpoint_config(
            p.endpoint_name, fleet.config_entries(p, self.models), self.mode.config_blocks(), self.capture.config(), tags, self, self.bucket.hardening if writes else []
        )

        # The alarms first: the endpoint's rollout names them, and SageMaker checks them when an update starts.
        quality = args.quality.accuracy_threshold if args.quality else None
        watched = Watched(p.endpoint_name, p.variants, p.alarms, p.async_inference, p.is_multi_model, quality)
        self.observability = observability.create_observability(watched, self.mode, self, tags, env.region, env.partition)
        hook = scaling_hook_for(p.endpoint_name, [v.name for _, v in fleet.autoscaled(p)], args.identity)
        self.endpoint = endpoint.create_endpoint(
            p.endpoint_name, self.config.name, p.deployment, self.observability.rollback_alarm_names(), tags,
            endpoint_options(p.deployment_mode, self, self.observability.alarms, hook),
        )  # fmt: skip
        self.scaling = {v.name: self.mode.scale(v, i, self.endpoint, self.config.name, self, tags) for i, v in fleet.autoscaled(p)}
        self.api = api.create_rest_front(p.api, p.endpoint_name, self.endpoint.arn, env, tags, self) if p.api.enabled else None
        self.monitoring = monitoring.create_monitoring(
            self.monitoring_settings, args.quality, self.bucket, self.capture.prefix, env, self.observability.topic_arn, self.endpoint, tags, self
        )
        self.register_outputs({"endpoint_name": self.endpoint.name, "endpoint_arn": self.endpoint.arn, "endpoint_config_name": self.config.name,
                               "model_name": self.model.name, "role_arn": self.execution.role.arn, "bucket": self.bucket_name,
                               "model_data_url": self.primary_data.url, "dashboard_url": self.observability.dashboard_url})  # fmt: skip

    @property
    def model(self) -> aws.sagemaker.Model:
        """The primary's Model."""
        return self.models[self.params.primary.model]

    @property
    def primary_data(self) -> model.ModelData:
        return self.model_data[self.params.primary.model]

    @property
    def monitoring_settings(self) -> monitoring.MonitoringSettings:
        p = self.params
        return monitoring.MonitoringSettings(
            p.endpoint_name, p.monitoring, p.variants, p.kms_key_arn, self.capture.settings.key, p.vpc, p.monitoring.accuracy_period_seconds
        )

    @property
    def bucket_name(self) -> pulumi.Output[str] | None:
        return self.bucket.bucket.bucket if self.bucket else None

    @property
    def image_uri(self) -> pulumi.Output[str]:
        return self.environment.image.registry_path
