"""What the stack exports, read from the component: the catalog's `endpoint` artifact first, then what operators and
the guide need, then the mode's and the variants' own blocks.

Nothing secret: names, ARNs, URIs, hashes and settings only.
"""
from __future__ import annotations

from typing import Any

from bundle.catalog.endpoint_artifact import endpoint_artifact
from bundle.deploy import fleet, pipeline
from bundle.deploy.component import SageMakerEndpoint
from bundle.deploy.model import ModelArtifact
from bundle.deploy.redact import alarm_email_output, public_params
from bundle.deploy.rollout import deployment_summary
from bundle.names import log_group_name, scaling_resource_id
from bundle.ops.registry import ResolvedPackage
from bundle.params.model import Params


def stack_outputs(params: Params, endpoint: SageMakerEndpoint, artifact: ModelArtifact | None, package: ResolvedPackage | None = None) -> dict[str, Any]:
    primary, watch, front = params.primary, endpoint.observability, (endpoint.api.outputs(params.api) if endpoint.api else None)
    outputs = {
        # The catalog's artifact, as schemas/artifacts/endpoint.schema.json specifies it (validated before export).
        "endpoint": endpoint_artifact(
            endpoint.endpoint.name, endpoint.endpoint.arn, endpoint.environment.region, endpoint.model.name, front["invocations_url"] if front else None
        ),
        "endpoint_config_name": endpoint.config.name,
        "variant_name": primary.name,
        "role_arn": endpoint.execution.role.arn,
        "bucket": endpoint.bucket_name,
        "model_data_url": endpoint.primary_data.url,
        "artifact_sha256": artifact.sha256 if artifact else None,
        # model_source model-package: the Model Registry version deployed (resolved when the stack was planned).
        **({"model_package": package.output()} if package else {}),
        "image_uri": endpoint.image_uri,
        "log_group": log_group_name(params.endpoint_name),
        "autoscaling": autoscaling_output(params),
        "params": public_params(params.document),
        "alarm_email": alarm_email_output(params.alarms.email),
        "deployment_mode": params.deployment_mode,
        "deployment": deployment_summary(params.deployment, watch.rollback_alarm_names()),
        "alarms": {"invocation_5xx": watch.names.invocation_5xx, "model_latency": watch.names.model_latency},
        "alarm_topic_arn": watch.topic_arn,
        "dashboard_name": watch.dashboard.dashboard_name,
        "dashboard_url": watch.dashboard_url,
        "data_capture": {
            "enabled": params.data_capture.enabled,
            # Where captured files land: SageMaker adds <variant>/yyyy/mm/dd/hh/ below it.
            "destination": endpoint.capture.prefix,
            "sampling_percentage": params.data_capture.sampling_percentage if params.data_capture.enabled else None,
        },
        "multi_model": multi_model_output(params, endpoint),
        "serverless": None,
        **endpoint.mode.outputs(endpoint),
        # Where `python -m bundle batch` reads and writes by default (batch_transform.enabled only).
        **({"batch_transform": {"input_location": endpoint.batch_locations.input, "output_location": endpoint.batch_locations.output}} if endpoint.batch_locations else {}),
    }
    if endpoint.pipeline is not None:  # the inference pipeline (bundle/deploy/pipeline.py): only when preprocessing.enabled
        outputs["preprocessing"] = pipeline.output(endpoint.pipeline)
    if front:  # the REST front (bundle/deploy/api.py): only when api.enabled
        outputs["api"] = front
    if endpoint.monitoring:  # model quality (bundle/deploy/monitoring.py): only when monitoring.enabled
        outputs["monitoring"] = endpoint.monitoring.outputs(endpoint.monitoring_settings)
    if params.has_several_variants:  # A/B variants and the shadow
        outputs["variants"] = fleet.variants_output(params, endpoint.models, {v: n.all() for v, n in watch.variant_names.items()})
    return outputs


def autoscaling_output(params: Params) -> dict:
    """The primary's scaling. Serverless endpoints do not autoscale (a range would mislead); async endpoints track
    their backlog (async_inference.target_backlog_per_instance), not invocations."""
    v, serverless = params.primary, params.is_serverless
    scaling = v.autoscaling

    def setting(value):
        return None if serverless else value

    return {
        "enabled": scaling.enabled,
        "resource_id": scaling_resource_id(params.endpoint_name, v.name) if scaling.enabled else None,
        "min_capacity": setting(scaling.min_capacity),
        "max_capacity": setting(scaling.max_capacity),
        "target_invocations_per_instance": None if params.is_async else setting(scaling.target_invocations_per_instance),
        "scale_in_cooldown": setting(scaling.scale_in_cooldown),
        "scale_out_cooldown": setting(scaling.scale_out_cooldown),
    }


def multi_model_output(params: Params, endpoint: SageMakerEndpoint) -> dict | None:
    if not params.is_multi_model:
        return None
    data = endpoint.primary_data
    return {
        "enabled": True,
        # ModelDataUrl: every archive under it is a model, called by its key relative to it (TargetModel).
        "prefix": data.url,
        "cache": params.multi_model.cache,
        "code_url": data.code_url,
        "models": data.hosted,
    }
