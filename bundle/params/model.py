"""The typed parameters: what the rest of the bundle reads once params are valid, and the error that lists their problems."""
from __future__ import annotations

import math
from dataclasses import dataclass


from bundle.errors import InvalidInputs, Problem
from bundle.params.schema import ASYNC, SERVERLESS
from bundle.params.variant_models import MODEL_PACKAGE_PREFIX


class InvalidParams(InvalidInputs):
    def __init__(self, problems: list[Problem], source: str = "params"):
        super().__init__(problems, source)


@dataclass(frozen=True)
class Autoscaling:
    enabled: bool
    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float
    scale_in_cooldown: int
    scale_out_cooldown: int


@dataclass(frozen=True)
class Serverless:
    memory_size_mb: int
    max_concurrency: int
    provisioned_concurrency: int  # 0: on demand only


@dataclass(frozen=True)
class AsyncInference:
    input_s3_uri: str  # "" = the bundle's bucket under async-inference/input
    output_s3_uri: str  # "" = the bundle's bucket under async-inference/output
    failure_s3_uri: str  # "" = the bundle's bucket under async-inference/failures
    notification_email: str  # "": no topic of the bundle's
    success_topic_arn: str
    error_topic_arn: str
    max_concurrent_invocations_per_instance: int
    model_server_timeout_seconds: int
    target_backlog_per_instance: float
    oldest_request_age_alarm_seconds: int
    backlog_alarm_size: int

    @property
    def uses_bundle_bucket(self) -> bool:
        return not (self.input_s3_uri and self.output_s3_uri and self.failure_s3_uri)


@dataclass(frozen=True)
class BatchTransform:
    enabled: bool
    input_s3_uri: str  # "" = the bundle's bucket under batch/input
    output_s3_uri: str  # "" = the bundle's bucket under batch/output

    @property
    def uses_bundle_bucket(self) -> bool:
        return self.enabled and not (self.input_s3_uri and self.output_s3_uri)


ROLLING = "ROLLING"  # the one strategy that is no blue/green traffic shift
CAPACITY_PERCENT = "CAPACITY_PERCENT"


@dataclass(frozen=True)
class Batch:
    """AWS's CapacitySize: a number of instances (INSTANCE_COUNT) or a share of the variant's (CAPACITY_PERCENT)."""

    type: str
    value: int

    def instances(self, fleet: int) -> float:
        """How many of `fleet` instances the batch is (a share may be a fraction of one)."""
        return self.value * fleet / 100 if self.type == CAPACITY_PERCENT else float(self.value)


@dataclass(frozen=True)
class Rolling:
    """A rolling update (AWS's RollingUpdatePolicy): `batch` instances replaced per step; a rollback brings back
    `rollback_batch` at a time, or the whole old fleet at once (None, AWS's default)."""

    batch: Batch
    rollback_batch: Batch | None
    fleet: int  # the variant's instances (initial_instance_count), which the batches are counted against

    def steps(self) -> int:
        """Batches one update takes, one baking period each: a share that is a fraction of an instance counts as fewer
        instances (more steps), so the rollout's waiting is never underestimated."""
        return -(-self.fleet // max(1, math.floor(self.batch.instances(self.fleet))))


@dataclass(frozen=True)
class Deployment:
    strategy: str  # ALL_AT_ONCE | CANARY | LINEAR (blue/green) | ROLLING
    canary_size_percent: int
    linear_step_percent: int
    wait_interval_seconds: int
    termination_wait_seconds: int
    maximum_execution_timeout_seconds: int
    auto_rollback: bool
    rolling: Rolling | None = None  # ROLLING only

    @property
    def is_rolling(self) -> bool:
        return self.strategy == ROLLING

    @property
    def baking_periods(self) -> int:
        """How many times SageMaker waits wait_interval_seconds in one rollout: one per traffic shift, or per batch."""
        if self.strategy == "CANARY":
            return 2
        if self.strategy == "LINEAR":
            return -(-100 // self.linear_step_percent)  # ceil: the last step may be smaller
        if self.rolling is not None:
            return self.rolling.steps()
        return 1

    @property
    def total_wait_seconds(self) -> int:
        """Every baking period, and the blue fleet's termination wait (a rolling update terminates as it goes)."""
        return self.baking_periods * self.wait_interval_seconds + (0 if self.is_rolling else self.termination_wait_seconds)


@dataclass(frozen=True)
class Alarms:
    period_seconds: int
    evaluation_periods: int
    invocation_5xx_threshold: int
    model_latency_percentile: str
    model_latency_threshold_ms: float
    email: str
    topic_arn: str

    @property
    def window_seconds(self) -> int:
        """The shortest time in which an alarm can go from OK to ALARM."""
        return self.period_seconds * self.evaluation_periods


@dataclass(frozen=True)
class DataCapture:
    enabled: bool
    sampling_percentage: int
    destination_s3_uri: str  # "" = the bundle's bucket
    kms_key_arn: str


@dataclass(frozen=True)
class Monitoring:
    """Model quality in production (bundle/deploy/monitoring.py); off unless `monitoring.enabled`."""

    enabled: bool
    ground_truth_prefix: str  # a key prefix in the bundle's bucket
    accuracy_threshold: float  # 0: derived from the POC model's cross-validated accuracy when it is built
    accuracy_period_seconds: int
    schedule: str  # hourly | daily
    instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int


MONITORING_OFF = Monitoring(False, "ground-truth", 0.0, 3600, "hourly", "ml.m5.xlarge", 20, 1800)


@dataclass(frozen=True)
class Vpc:
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    @property
    def enabled(self) -> bool:
        return bool(self.subnet_ids)


PRODUCTION = "production"  # answers callers, with a share of the traffic by weight
SHADOW = "shadow"  # gets a copy of a share of the requests; callers never see its answers

SCALING_OFF = Autoscaling(False, 1, 1, 0.0, 0, 0)


@dataclass(frozen=True)
class Variant:
    """One variant of the endpoint: the primary (`variants[0]`, from the flat params), an A/B variant, or the shadow.

    Sized by instances (real-time, async) or by a serverless config, never both."""

    name: str
    model: str  # a recipe name or an s3://...tar.gz URI (bundle/params/variant_models.py resolves it)
    weight: float  # a production variant's InitialVariantWeight; the shadow's: its sampling weight
    instance_type: str | None = None  # None when serverless
    initial_instance_count: int | None = None  # None when serverless
    serverless: Serverless | None = None  # memory and concurrency instead of instances
    autoscaling: Autoscaling = SCALING_OFF
    role: str = PRODUCTION  # PRODUCTION | SHADOW

    @property
    def is_shadow(self) -> bool:
        return self.role == SHADOW


@dataclass(frozen=True)
class ApiThrottle:
    rate_limit: float  # requests per second
    burst_limit: int


@dataclass(frozen=True)
class Api:
    """The optional REST front (bundle/deploy/api.py); off unless `api.enabled`."""

    enabled: bool
    integration: str  # direct | lambda
    auth: str  # iam | api_key
    throttle: ApiThrottle
    quota_per_day: int  # 0: none


API_OFF = Api(False, "direct", "iam", ApiThrottle(50, 100), 0)


@dataclass(frozen=True)
class MultiModel:
    enabled: bool
    models: tuple[str, ...]  # recipe names and s3://bucket/key.tar.gz URIs, in the params' order
    cache: str  # ModelCacheSetting: Enabled | Disabled

    @property
    def recipes(self) -> tuple[str, ...]:
        return tuple(m for m in self.models if not m.startswith("s3://"))

    @property
    def archives(self) -> tuple[str, ...]:
        """The user's own archives (s3:// URIs), copied under the endpoint's prefix."""
        return tuple(m for m in self.models if m.startswith("s3://"))


MULTI_MODEL_OFF = MultiModel(enabled=False, models=(), cache="Enabled")


@dataclass(frozen=True)
class Preprocessing:
    """The inference pipeline's first stage (bundle/deploy/pipeline.py); off unless `preprocessing.enabled`."""

    enabled: bool
    unit: str  # cm | mm: the unit of measurements sent without one


PREPROCESSING_OFF = Preprocessing(False, "cm")


@dataclass(frozen=True)
class ModelPackageRef:
    """model_source model-package: a group (its latest Approved version, looked up when the stack is planned) or one
    version's ARN. Which version that is, is AWS's answer (bundle/ops/registry.py), not a param."""

    group: str  # "" when arn is given
    arn: str  # "" when group is given

    @property
    def field(self) -> str:
        """The params field the reference is given in: what a refusal names."""
        return "model_package.group" if self.group else "model_package.arn"

    @property
    def text(self) -> str:
        """The reference as a variant's model names it: `model-package:group/<name>` or `model-package:<arn>`."""
        return MODEL_PACKAGE_PREFIX + (f"group/{self.group}" if self.group else self.arn)


@dataclass(frozen=True)
class Params:
    endpoint_name: str
    deployment_mode: str  # realtime | serverless | async
    model_source: str
    custom_model_s3_uri: str
    serving_image_version: str
    variants: tuple[Variant, ...]  # the primary first, then the A/B variants, then the shadow (if any)
    deployment: Deployment
    alarms: Alarms
    data_capture: DataCapture  # enabled is False when serverless
    enable_network_isolation: bool
    kms_key_arn: str
    vpc: Vpc
    tags: dict[str, str]
    document: dict  # the validated document with every default that applies filled in: the guide's `params`
    delete_bucket_on_destroy: bool = False  # False: Pulumi never deletes the bundle's bucket (it may hold captured data)
    async_inference: AsyncInference | None = None  # None unless deployment_mode async
    batch_transform: BatchTransform = BatchTransform(False, "", "")
    api: Api = API_OFF  # the REST front; off unless the params set api.enabled
    multi_model: MultiModel = MULTI_MODEL_OFF  # enabled is False when serverless
    preprocessing: Preprocessing = PREPROCESSING_OFF  # a preprocessing container before the model (realtime, async)
    model_package: ModelPackageRef | None = None  # model_source model-package only
    monitoring: Monitoring = MONITORING_OFF  # model quality: off unless the params set monitoring.enabled

    @property
    def is_multi_model(self) -> bool:
        return self.multi_model.enabled

    @property
    def primary_model(self) -> str:
        """The primary's model as a variant names one: the POC recipe, or the custom archive's URI."""
        return self.primary.model

    @property
    def primary(self) -> Variant:
        return self.variants[0]

    @property
    def production_variants(self) -> tuple[Variant, ...]:
        return tuple(v for v in self.variants if not v.is_shadow)

    @property
    def shadow(self) -> Variant | None:
        return next((v for v in self.variants if v.is_shadow), None)

    @property
    def has_several_variants(self) -> bool:
        return len(self.variants) > 1

    @property
    def models(self) -> tuple[str, ...]:
        """Every distinct model the endpoint serves, the primary's first: one SageMaker Model each (a multi-model
        endpoint's models are `multi_model.models`, all behind its one Model)."""
        if self.is_multi_model:
            return ()
        return tuple(dict.fromkeys(v.model for v in self.variants))

    @property
    def builds_poc_model(self) -> bool:
        """The one POC model of a single-model endpoint's primary (a multi-model endpoint's recipes are `multi_model.recipes`)."""
        return self.model_source == "poc-sklearn" and not self.is_multi_model

    @property
    def builds_recipes(self) -> tuple[str, ...]:
        """The recipes the bundle builds and uploads, for any variant (the shadow included)."""
        from bundle.params.variant_models import resolve_model

        return tuple(m for m in self.models if resolve_model(m).recipe)

    @property
    def is_serverless(self) -> bool:
        return self.deployment_mode == SERVERLESS

    @property
    def is_async(self) -> bool:
        return self.deployment_mode == ASYNC

    @property
    def captures_into_bundle_bucket(self) -> bool:
        return self.data_capture.enabled and not self.data_capture.destination_s3_uri

    @property
    def needs_bucket(self) -> bool:
        """The bundle's bucket holds the POC artifact (or a multi-model endpoint's models), the variants' recipes' artifacts,
        the preprocessing code and, unless told otherwise, captured data and async requests."""
        """The bundle's bucket holds the POC artifact (or a multi-model endpoint's models), the variants' recipes' artifacts
        and, unless told otherwise, captured data and async requests; with monitoring, its baseline, labels and reports."""
        async_in_bucket = self.async_inference is not None and self.async_inference.uses_bundle_bucket
        return (
            self.builds_poc_model
            or self.is_multi_model
            or bool(self.builds_recipes)
            or self.captures_into_bundle_bucket
            or async_in_bucket
            or self.batch_transform.uses_bundle_bucket
            or self.preprocessing.enabled  # the preprocessing code's archive
            or self.monitoring.enabled  # the baseline, the ground truth and the reports
        )


# --- defaults and validation --------------------------------------------------------------------
