"""The endpoint's mode as a value: what each of real-time, serverless and async adds to the stack, in one place.

A mode is chosen once from the params (`mode_for`); the component asks it, never the params' mode string:
  - `provision`: resources of its own (async: where requests and results live, who is notified);
  - `role_grants`: what the execution role may do for it (async: those prefixes and topics);
  - `model_environment`: what the Model's container is told (async: the model server's timeout);
  - `config_blocks`: its blocks of the endpoint configuration (async: AsyncInferenceConfig; serverless: no volume key);
  - `alarms`, `rollback_alarm_names`, `widgets`: what operators watch, and what rolls an update back;
  - `scale`: how a variant's fleet follows the load (invocations per instance, or the async queue's backlog).
What each mode refuses is said by the params' rules (bundle/params/rules.py and the schema's per-mode keys).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from bundle.deploy import async_inference, dashboard, observability, scaling
from bundle.names import AsyncAlarmNames, async_alarm_names, wake_policy_name
from bundle.params.model import Params, Variant
from bundle.params.schema import ASYNC, SERVERLESS


@dataclass
class RealTime:
    """Instances behind a synchronous InvokeEndpoint: the default mode."""

    params: Params
    name: str = "realtime"

    def provision(self, bucket_name: pulumi.Output[str] | None, tags: dict, parent: pulumi.Resource) -> None:
        """Nothing of its own."""

    @property
    def writes_into_bucket(self) -> bool:
        """Whether SageMaker writes into the bundle's bucket for this mode (it must be hardened first)."""
        return False

    def role_grants(self) -> pulumi.Output | None:
        return None

    def model_environment(self) -> dict[str, str]:
        return {}

    def config_blocks(self) -> dict:
        return {"kms_key_arn": self.params.kms_key_arn or None}  # the instances' ML storage volumes

    def alarms(self, w: observability.Watched, common: dict) -> list:
        return []

    def rollback_alarm_names(self) -> list[str]:
        return []

    def widgets(self, w: observability.Watched, lines: dashboard.Lines) -> list[dict]:
        return dashboard.realtime_widgets(w, lines) + dashboard.instance_widgets(w, lines)

    def scale(self, variant: Variant, index: int, endpoint, config_name: pulumi.Output[str], parent: pulumi.Resource, tags: dict) -> scaling.VariantScaling:
        return scaling.invocations_scaling(variant, index, self.params.endpoint_name, endpoint, config_name, parent)

    def outputs(self, component) -> dict:
        return {}


@dataclass
class Serverless(RealTime):
    """Memory and concurrency instead of instances: no volume to encrypt, no autoscaling, concurrency to watch."""

    name: str = SERVERLESS

    def config_blocks(self) -> dict:
        return {"kms_key_arn": None}  # serverless endpoints have no ML storage volume to encrypt

    def widgets(self, w: observability.Watched, lines: dashboard.Lines) -> list[dict]:
        return dashboard.realtime_widgets(w, lines) + dashboard.serverless_widgets(w, lines)

    def outputs(self, component) -> dict:
        s = self.params.primary.serverless
        return {"serverless": {"memory_size_mb": s.memory_size_mb, "max_concurrency": s.max_concurrency, "provisioned_concurrency": s.provisioned_concurrency}}


@dataclass
class Async(RealTime):
    """Requests queued from S3, answers written to S3: its prefixes, topics and grants, the queue's alarms, and scaling
    on the backlog (to zero and back)."""

    name: str = ASYNC
    locations: async_inference.AsyncLocations | None = field(default=None, init=False)
    topics: async_inference.AsyncTopics | None = field(default=None, init=False)
    alarm_names: AsyncAlarmNames | None = field(default=None, init=False)

    @property
    def settings(self) -> async_inference.AsyncSettings:
        p = self.params
        return async_inference.AsyncSettings(p.endpoint_name, p.async_inference, p.kms_key_arn)

    def provision(self, bucket_name: pulumi.Output[str] | None, tags: dict, parent: pulumi.Resource) -> None:
        self.locations = async_inference.locations(self.settings, bucket_name)
        self.topics = async_inference.topics(self.settings, tags, parent)
        self.alarm_names = async_alarm_names(self.params.endpoint_name)

    @property
    def writes_into_bucket(self) -> bool:
        return True

    def role_grants(self) -> pulumi.Output:
        return pulumi.Output.from_input({**vars(self.locations), "topics": pulumi.Output.all(*self.topics.arns())})

    def model_environment(self) -> dict[str, str]:
        return async_inference.model_environment(self.settings)

    def config_blocks(self) -> dict:
        return {**super().config_blocks(), "async_inference_config": async_inference.async_inference_config(self.settings, self.locations, self.topics)}

    def alarms(self, w: observability.Watched, common: dict) -> list:
        return observability.async_alarms(w, self.alarm_names, observability.VariantMetrics(w.endpoint_name, w.variant_name), common)

    def rollback_alarm_names(self) -> list[str]:
        # Failed requests say something of a new fleet; a backlog or an old request (a fleet waking from zero) does not.
        return [self.alarm_names.invocation_failures]

    def widgets(self, w: observability.Watched, lines: dashboard.Lines) -> list[dict]:
        return dashboard.async_widgets(w, lines)

    def scale(self, variant: Variant, index: int, endpoint, config_name: pulumi.Output[str], parent: pulumi.Resource, tags: dict) -> scaling.VariantScaling:
        return scaling.backlog_scaling(variant, self.params.async_inference, self.params.endpoint_name, endpoint, config_name, parent, tags)

    def outputs(self, component) -> dict:
        """Where to put requests and find results, and what watches the queue."""
        settings, where, topics, names = self.params.async_inference, self.locations, self.topics, self.alarm_names
        scaled = self.params.primary.autoscaling.enabled
        return {
            "async_inference": {
                "input_location": where.input,
                "output_location": where.output,
                "failure_location": where.failure,
                "success_topic_arn": topics.success,
                "error_topic_arn": topics.error,
                "max_concurrent_invocations_per_instance": settings.max_concurrent_invocations_per_instance,
                "model_server_timeout_seconds": settings.model_server_timeout_seconds,
                "target_backlog_per_instance": settings.target_backlog_per_instance if scaled else None,
                "scale_to_zero": scaled and self.params.primary.autoscaling.min_capacity == 0,
                "wake_policy": wake_policy_name(self.params.endpoint_name) if scaled else None,
                "alarms": {
                    "oldest_request_age": names.oldest_request_age,
                    "backlog": names.backlog,
                    "invocation_failures": names.invocation_failures,
                    "notification_failures": names.notification_failures,
                    "backlog_without_capacity": names.backlog_without_capacity if scaled else None,
                },
            }
        }


MODES = {m.name: m for m in (RealTime, Serverless, Async)}


def mode_for(params: Params) -> RealTime:
    return MODES[params.deployment_mode](params)
