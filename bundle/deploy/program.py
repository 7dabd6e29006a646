"""The stack, in the one order parameters flow: validated params -> artifact -> component -> outputs.

`pulumi up` runs `main()` (via __main__.py); the offline plan and the tests run `define_stack()`
under Pulumi's mock runtime. Both are the same code.
"""
from __future__ import annotations

from typing import Any

import pulumi

from bundle.ops import aws as bundle_aws
from bundle.artifact.build import recipe_artifact
from bundle.catalog.connections import Connections
from bundle.catalog.endpoint_artifact import endpoint_artifact
from bundle.catalog.inputs import resolve_inputs
from bundle.deploy.provider import assuming_provider
from bundle.params.aws_limits import check_stack_region
from bundle.errors import BundleError
from bundle.guide.render import guide_context, render
from bundle.deploy.component import EndpointArgs, SageMakerEndpoint
from bundle.deploy.hook_identity import ProviderSettings
from bundle.deploy.model import HostedArchive, ModelArtifact, MultiModelPackage
from bundle.names import log_group_name, scaling_resource_id, wake_policy_name
from bundle.params.model import Params
from bundle.deploy.redact import alarm_email_output, public_params
from bundle.deploy.rollout import deployment_summary
from bundle.deploy.variants import variants_output


def multi_model_package(params: Params) -> MultiModelPackage:
    """The recipes' multi-model archives (built or from the cache) and the handlers' sourcedir tarball."""
    from bundle.artifact.build import sourcedir_file
    from bundle.artifact.recipes import target_model_name

    archives = []
    for recipe in params.multi_model.recipes:
        built = recipe_artifact(recipe, image_version=params.serving_image_version, layout="multi-model")
        archives.append(HostedArchive(recipe, built.path, built.sha256, target_model_name(recipe, built.sha256)))
    path, sha = sourcedir_file()
    return MultiModelPackage(archives, params.multi_model.archives, path, sha, params.multi_model.cache)


def stack_outputs(params: Params, endpoint: SageMakerEndpoint, artifact: ModelArtifact | None) -> dict[str, Any]:
    """What the stack exports: the catalog's `endpoint` artifact first, then what operators and the guide need.

    Nothing secret: names, ARNs, URIs, hashes and settings only.
    """
    scaling = params.autoscaling
    watch = endpoint.observability

    def scaling_setting(value):
        return None if params.is_serverless else value  # serverless endpoints do not autoscale: a range would mislead

    def invocation_target(value):  # async endpoints track their backlog (async_inference.target_backlog_per_instance)
        return None if params.is_async else scaling_setting(value)

    front = endpoint.api.outputs(params.api) if endpoint.api else None
    outputs = {
        # The catalog's artifact, as schemas/artifacts/endpoint.schema.json specifies it (validated before export).
        "endpoint": endpoint_artifact(
            endpoint.endpoint.name, endpoint.endpoint.arn, endpoint.environment.region, endpoint.model.name, front["invocations_url"] if front else None
        ),
        "endpoint_config_name": endpoint.config.name,
        "variant_name": params.variant_name,
        "role_arn": endpoint.execution.role.arn,
        "bucket": endpoint.bucket_name,
        "model_data_url": endpoint.model_data.url,
        "artifact_sha256": artifact.sha256 if artifact else None,
        "image_uri": endpoint.image_uri,
        "log_group": log_group_name(params.endpoint_name),
        "autoscaling": {
            "enabled": scaling.enabled,
            "resource_id": scaling_resource_id(params.endpoint_name, params.variant_name) if scaling.enabled else None,
            "min_capacity": scaling_setting(scaling.min_capacity),
            "max_capacity": scaling_setting(scaling.max_capacity),
            "target_invocations_per_instance": invocation_target(scaling.target_invocations_per_instance),
            "scale_in_cooldown": scaling_setting(scaling.scale_in_cooldown),
            "scale_out_cooldown": scaling_setting(scaling.scale_out_cooldown),
        },
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
            "destination": endpoint.capture_prefix,
            "sampling_percentage": params.data_capture.sampling_percentage if params.data_capture.enabled else None,
        },
        "multi_model": (
            {
                "enabled": True,
                # ModelDataUrl: every archive under it is a model, called by its key relative to it (TargetModel).
                "prefix": endpoint.model_data.url,
                "cache": params.multi_model.cache,
                "code_url": endpoint.model_data.code_url,
                "models": endpoint.model_data.hosted,
            }
            if params.is_multi_model
            else None
        ),
        "serverless": (
            {
                "memory_size_mb": params.serverless.memory_size_mb,
                "max_concurrency": params.serverless.max_concurrency,
                "provisioned_concurrency": params.serverless.provisioned_concurrency,
            }
            if params.serverless
            else None
        ),
        **({"async_inference": async_outputs(params, endpoint)} if params.is_async else {}),
        # Where `python -m bundle batch` reads and writes by default (batch_transform.enabled only).
        **({"batch_transform": {"input_location": endpoint.batch_locations.input, "output_location": endpoint.batch_locations.output}} if endpoint.batch_locations else {}),
    }
    if front:  # the REST front (bundle/deploy/api.py): only when api.enabled, so the default outputs stay as they were
        outputs["api"] = front
    # A/B variants and the shadow: only when there are several, so the one-variant stack exports as before.
    if params.has_several_variants:
        outputs["variants"] = variants_output(params, endpoint)
    return outputs


def async_outputs(params: Params, endpoint: SageMakerEndpoint) -> dict[str, Any]:
    """deployment_mode async only (the realtime and serverless outputs are unchanged): where to put requests and find results."""
    settings, where, topics = params.async_inference, endpoint.async_locations, endpoint.async_topics
    names = endpoint.observability.async_names
    return {
        "input_location": where.input,
        "output_location": where.output,
        "failure_location": where.failure,
        "success_topic_arn": topics.success,
        "error_topic_arn": topics.error,
        "max_concurrent_invocations_per_instance": settings.max_concurrent_invocations_per_instance,
        "model_server_timeout_seconds": settings.model_server_timeout_seconds,
        "target_backlog_per_instance": settings.target_backlog_per_instance if params.autoscaling.enabled else None,
        "scale_to_zero": params.autoscaling.enabled and params.autoscaling.min_capacity == 0,
        "wake_policy": wake_policy_name(params.endpoint_name) if params.autoscaling.enabled else None,
        "alarms": {
            "oldest_request_age": names.oldest_request_age,
            "backlog": names.backlog,
            "invocation_failures": names.invocation_failures,
            "notification_failures": names.notification_failures,
            "backlog_without_capacity": names.backlog_without_capacity if params.autoscaling.enabled else None,
        },
    }


def define_stack(params: Params, connections: Connections | None = None) -> dict[str, Any]:
    """With an aws_authentication connection, the component's provider and every boto3 client of this
    process (the update hook) assume its role."""
    role = connections.aws_authentication if connections else None
    bundle_aws.use_role(role)
    opts = pulumi.ResourceOptions(providers={"aws": assuming_provider(role)}) if role else None
    artifact = package = None
    recipes = {}  # every recipe a variant serves (A/B, shadow), the primary's POC model included
    for name in params.builds_recipes:
        built = recipe_artifact(name, image_version=params.serving_image_version)
        recipes[name] = ModelArtifact(path=built.path, sha256=built.sha256)
    if params.builds_poc_model:
        artifact = recipes[params.primary_model]
    if params.is_multi_model:
        package = multi_model_package(params)
    # The update hook acts as the provider does: the stack's aws:* credential settings, or the connection's role.
    identity = ProviderSettings.from_config(pulumi.Config("aws").get).with_role(role)
    endpoint = SageMakerEndpoint(
        params.endpoint_name,
        EndpointArgs(params=params, artifact=artifact, identity=identity, multi_model=package, recipe_artifacts=recipes),
        opts=opts,
    )
    outputs = stack_outputs(params, endpoint, artifact)
    # The guide is rendered from the real outputs once AWS knows them (strictly: a missing value fails the update).
    public = {k: v for k, v in outputs.items() if k != "alarm_email"}  # a secret input would make the guide secret
    guide = pulumi.Output.from_input(public).apply(lambda resolved: render(guide_context(params, resolved)))
    outputs_with_guide = {**outputs, "operator_guide": guide}
    for key, value in outputs_with_guide.items():
        pulumi.export(key, value)
    return outputs_with_guide


def main() -> dict[str, Any]:
    config = pulumi.Config()
    try:
        inputs = resolve_inputs(config_get=config.get)  # BUNDLE_PARAMS_FILE / _CONNECTIONS_FILE / _METADATA_FILE, or config
        check_stack_region(inputs.params.document, pulumi.Config("aws").get("region"), "aws:region")
        return define_stack(inputs.params, inputs.connections)
    except BundleError as e:
        raise pulumi.RunError(str(e)) from None  # shown to the user without a Python traceback
