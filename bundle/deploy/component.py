"""The deployment: one ComponentResource that owns every AWS resource of the endpoint.

The constructor only orchestrates, in the order the resources depend on each other; each concern is a small
function in its own module that takes the narrow settings it needs:

  storage.py        the bundle's bucket, hardened and kept (it may hold captured data)
  model.py          the model's data (the uploaded POC artifact, or the user's archive) and the SageMaker Model
  capture.py        where captured requests land, and with which key
  async_inference.py  async requests and results: their S3 prefixes, notification topics, the role's grants for them
  batch_transform.py  where transform jobs (run as the Model's role) may read and write
  iam.py            the execution role, least privilege
  endpoint.py       the endpoint configuration and the endpoint
  rollout.py        blue/green guardrails, and autoscaling kept out of UpdateEndpoint's way
  observability.py  the alarms (they drive the rollback), their topic, the dashboard, the variant's metrics
  scaling.py        the scalable target and its target-tracking policy
  api.py            the optional REST front (API Gateway), direct or through the bundle's Lambda

Design choices that avoid the pitfalls SageMaker IaC users hit (shared FACTS.md): a content-addressed artifact key
(a new model is a new key, so the Model is replaced), auto-named Model and configuration (create-before-delete),
the stable endpoint name, autoscaling registered after the endpoint, blue/green updates with automatic rollback.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from bundle.artifact.image import REPOSITORY, serving_image
from bundle.deploy import api, async_inference, batch_transform, capture, endpoint, iam, model, observability, scaling, storage, variants
from bundle.deploy.hook_identity import ProviderSettings
from bundle.deploy.model import ModelArtifact, MultiModelPackage
from bundle.deploy.rollout import endpoint_options, scaling_hook
from bundle.names import BUNDLE_TAG
from bundle.params.model import Params

COMPONENT_TYPE = "sagemaker-bundle:index:Endpoint"


@dataclass(frozen=True)
class EndpointArgs:
    params: Params
    artifact: ModelArtifact | None  # None for model_source custom-s3 (nothing is built or uploaded) or a multi-model endpoint
    multi_model: MultiModelPackage | None = None  # a multi-model endpoint's models and handlers
    # A/B and shadow variants: every recipe's artifact they serve, by recipe name (the default's is `artifact`).
    recipe_artifacts: dict = field(default_factory=dict)
    # Whom the update hook acts as: the provider's credential settings (the stack's aws:* config, or the catalog
    # connection's role). The default follows the ambient credentials.
    identity: ProviderSettings = ProviderSettings()


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
    bucket: storage.BundleBucket | None
    model_data: model.ModelData
    capture_destination: pulumi.Output[str] | None
    capture_prefix: pulumi.Output[str] | None
    execution: iam.ExecutionRole
    model: aws.sagemaker.Model
    config: aws.sagemaker.EndpointConfiguration
    observability: observability.Observability
    endpoint: aws.sagemaker.Endpoint
    autoscaling: scaling.VariantScaling | None
    async_locations: async_inference.AsyncLocations | None  # deployment_mode async
    async_topics: async_inference.AsyncTopics | None
    batch_locations: batch_transform.BatchLocations | None  # batch_transform.enabled
    api: api.RestFront | None

    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        p = args.params
        tags = {**p.tags, "bundle": BUNDLE_TAG, "endpoint": p.endpoint_name}
        self.environment = aws_environment(self, p.serving_image_version)

        # Where the model and captured data live.
        self.bucket = (
            storage.create_bucket(storage.BucketSettings(p.endpoint_name, p.kms_key_arn, p.delete_bucket_on_destroy), tags, self)
            if p.needs_bucket
            else None
        )
        if args.multi_model is not None:
            self.model_data = model.multi_model_data(self.bucket, args.multi_model, self.environment.partition, tags, self)
        elif args.artifact is not None:
            self.model_data = model.uploaded_model_data(self.bucket, args.artifact, p.endpoint_name, self.environment.partition, tags, self)
        else:
            self.model_data = model.custom_model_data(p.custom_model_s3_uri, self.environment.partition)
        captured = capture.CaptureSettings(p.endpoint_name, p.data_capture, p.kms_key_arn)
        self.capture_destination = capture.capture_destination(captured, self.bucket.bucket.bucket if self.bucket else None)
        # Where captured files of this endpoint land: the role's only write, and a stack output.
        self.capture_prefix = (
            self.capture_destination.apply(lambda d: capture.landing_prefix(d, p.endpoint_name)) if self.capture_destination else None
        )

        # A/B variants and the shadow: the data of every other distinct model (a recipe is uploaded once).
        uploaded = {p.primary_model: self.model_data} if p.builds_poc_model else {}
        other_data = {
            m: variants.model_data_for(m, self.bucket, args.recipe_artifacts, uploaded, p.endpoint_name, self.environment.partition, tags, self)
            for m in p.models[1:]
        }
        readable = (
            pulumi.Output.all(self.model_data.readable_arn, *(d.readable_arn for d in other_data.values())).apply(lambda arns: list(dict.fromkeys(arns)))
            if other_data
            else self.model_data.readable_arn
        )

        # Asynchronous inference: where requests are read and results written, who is notified.
        asynchronous = async_inference.AsyncSettings(p.endpoint_name, p.async_inference, p.kms_key_arn) if p.is_async else None
        self.async_locations = async_inference.locations(asynchronous, self.bucket_name) if asynchronous else None
        self.async_topics = async_inference.topics(asynchronous, tags, self) if asynchronous else None
        async_grants = (
            pulumi.Output.from_input(
                {**vars(self.async_locations), "topics": pulumi.Output.all(*self.async_topics.arns())}
            )
            if asynchronous
            else None
        )

        # Batch transform jobs run as the Model's role: where they may read and write.
        self.batch_locations = batch_transform.locations(p.batch_transform, self.bucket_name) if p.batch_transform.enabled else None

        # Who the endpoint runs as, and what it serves.
        self.execution = iam.create_execution_role(
            iam.RoleGrants(p.endpoint_name, p.kms_key_arn, captured.key, p.vpc),
            readable,
            self.capture_prefix,
            self.environment,
            tags,
            self,
            asynchronous=async_grants,
            batch=pulumi.Output.from_input(vars(self.batch_locations)) if self.batch_locations else None,
        )
        self.model = model.create_model(
            model.ModelSettings(
                p.endpoint_name,
                p.enable_network_isolation,
                p.vpc,
                extra_environment=tuple(async_inference.model_environment(asynchronous).items()) if asynchronous else (),
                multi_model_cache=p.multi_model.cache if p.is_multi_model else None,
            ),
            self.execution.role.arn,
            self.environment.image.registry_path,
            self.model_data,
            tags,
            self,
            depends_on=[self.execution.policy],
            region=self.environment.region,
        )
        # One Model per other distinct model (A/B, shadow), named by the model it serves.
        self.variant_models = {p.primary_model: self.model}
        for m, data in other_data.items():
            self.variant_models[m] = model.create_model(
                model.ModelSettings(p.endpoint_name, p.enable_network_isolation, p.vpc),
                self.execution.role.arn,
                self.environment.image.registry_path,
                data,
                tags,
                self,
                depends_on=[self.execution.policy],
                suffix=variants.model_suffix(m),
            )
        self.config = endpoint.create_endpoint_config(
            p.endpoint_name,
            endpoint.VariantSettings(p.variant_name, p.instance_type, p.initial_instance_count, p.serverless, p.variant_weight),
            self.model.name,
            p.kms_key_arn,
            capture.data_capture_config(captured, self.capture_destination) if self.capture_destination else None,
            tags,
            self,
            # Captured data and async results land only in a hardened bucket.
            depends_on=self.bucket.hardening if self.bucket and (captured.into_bundle_bucket or asynchronous) else [],
            extra_variants=[variants.variant_args(variants.sized(v), self.variant_models[v.model].name) for v in p.variants],
            shadow_variants=[variants.shadow_args(variants.sized(p.shadow), self.variant_models[p.shadow.model].name)] if p.shadow else None,
            async_inference=(
                async_inference.async_inference_config(asynchronous, self.async_locations, self.async_topics) if asynchronous else None
            ),
        )

        # The alarms first: the endpoint's rollout names them, and SageMaker checks them when an update starts.
        self.observability = observability.create_observability(
            observability.Watched(
                p.endpoint_name,
                p.variant_name,
                p.alarms,
                p.serverless,
                extra_variants=tuple(v.name for v in p.variants),
                shadow_variant=p.shadow.name if p.shadow else None,
                asynchronous=p.async_inference,
                multi_model=p.is_multi_model,
            ),
            self,
            tags,
            self.environment.region,
            self.environment.partition,
        )
        scaled = [v.name for v in p.production_variants if v.autoscaling.enabled]
        hook = scaling_hook(p.endpoint_name, scaled if len(scaled) > 1 else scaled[0], args.identity) if scaled else None
        self.endpoint = endpoint.create_endpoint(
            p.endpoint_name,
            self.config.name,
            p.deployment,
            self.observability.rollback_alarm_names(),
            tags,
            endpoint_options(p.deployment_mode, self, self.observability.alarms, hook),
        )
        self.autoscaling = (
            scaling.create_autoscaling(
                p.autoscaling, p.endpoint_name, p.variant_name, self.endpoint, self.config.name, self, asynchronous=p.async_inference, tags=tags
            )
            if p.autoscaling.enabled
            else None
        )
        # Each autoscaled extra variant: its own scalable target and policy.
        self.variant_scaling = {
            v.name: scaling.create_autoscaling(
                v.autoscaling, p.endpoint_name, v.name, self.endpoint, self.config.name, self,
                names=(variants.scaling_target_name(p.endpoint_name, v.name), variants.scaling_policy_logical_name(p.endpoint_name, v.name), f"{p.endpoint_name}-{v.name}-invocations-per-instance"),
            )  # fmt: skip
            for v in p.variants
            if v.autoscaling.enabled
        }
        # The optional REST front (api.py): nothing is created unless api.enabled.
        self.api = api.create_rest_front(p.api, p.endpoint_name, self.endpoint.arn, self.environment, tags, self) if p.api.enabled else None

        self.register_outputs(
            {
                "endpoint_name": self.endpoint.name,
                "endpoint_arn": self.endpoint.arn,
                "endpoint_config_name": self.config.name,
                "model_name": self.model.name,
                "role_arn": self.execution.role.arn,
                "bucket": self.bucket_name,
                "model_data_url": self.model_data.url,
                "dashboard_url": self.observability.dashboard_url,
            }
        )

    @property
    def bucket_name(self) -> pulumi.Output[str] | None:
        return self.bucket.bucket.bucket if self.bucket else None

    @property
    def image_uri(self) -> pulumi.Output[str]:
        return self.environment.image.registry_path
