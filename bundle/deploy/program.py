"""The stack, in the one order parameters flow: validated params -> artifact (or the Model Registry version) ->
component -> outputs.

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
from bundle.deploy.hook_identity import ProviderSettings, provider_session
from bundle.deploy.model import HostedArchive, ModelArtifact, MultiModelPackage
from bundle.deploy.monitoring import QualityReferences
from bundle.deploy.outputs import stack_outputs
from bundle.deploy.pipeline import PreprocessingCode
from bundle.ops import registry
from bundle.ops.client import standard_retries
from bundle.params.model import Params


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


def preprocessing_code(params: Params) -> PreprocessingCode:
    """The inference pipeline's preprocessing stage, packaged (or from the cache) with the params' default unit."""
    from bundle.artifact.preprocessing import preprocessing_artifact

    built = preprocessing_artifact(params.preprocessing.unit)
    return PreprocessingCode(str(built.path), built.sha256, built.key, built.unit)


def model_package(params: Params, identity: ProviderSettings) -> registry.ResolvedPackage | None:
    """model_source model-package: the version to deploy, asked of the Model Registry now, as the provider's identity
    (the stack's aws:* settings, or the connection's role), in the stack's region."""
    if params.model_package is None:
        return None
    region = identity.region or bundle_aws.default_region()
    if not region:
        raise BundleError(f"{params.model_package.field}: finding the model package version needs the stack's region: pulumi config set aws:region <region>")
    session = provider_session(identity, region)
    local = bundle_aws.LOCAL_CREDENTIALS if session.get_credentials() is None and bundle_aws.points_at_emulator() else {}
    client = session.client("sagemaker", region_name=region, config=standard_retries(), **local)
    return registry.resolve(client, params.model_package, region, params.serving_image_version)
def quality_references(params: Params, artifact: ModelArtifact | None) -> QualityReferences:
    """The baseline from the training data, and the alarm's threshold: the params', else the POC artifact's
    cross-validated accuracy minus its margin (bundle/artifact/baseline.py)."""
    from bundle.artifact.baseline import build_baseline, default_accuracy_threshold

    threshold = params.monitoring.accuracy_threshold
    if not threshold:
        built = recipe_artifact(params.primary_model, image_version=params.serving_image_version)  # cached: the same build
        threshold = default_accuracy_threshold(built.manifest["metrics"])
    return QualityReferences(build_baseline(), threshold)


def define_stack(params: Params, connections: Connections | None = None) -> dict[str, Any]:
    """With an aws_authentication connection, the component's provider and every boto3 client of this
    process (the update hook) assume its role."""
    role = connections.aws_authentication if connections else None
    bundle_aws.use_role(role)
    opts = pulumi.ResourceOptions(providers={"aws": assuming_provider(role)}) if role else None
    recipes = {}  # every recipe a variant serves (A/B, shadow), the primary's POC model included
    for name in params.builds_recipes:
        built = recipe_artifact(name, image_version=params.serving_image_version)
        recipes[name] = ModelArtifact(path=built.path, sha256=built.sha256)
    artifact = recipes[params.primary_model] if params.builds_poc_model else None
    package = multi_model_package(params) if params.is_multi_model else None
    preprocessing = preprocessing_code(params) if params.preprocessing.enabled else None
    quality = quality_references(params, artifact) if params.monitoring.enabled else None
    # The update hook acts as the provider does: the stack's aws:* credential settings, or the connection's role.
    identity = ProviderSettings.from_config(pulumi.Config("aws").get).with_role(role)
    version = model_package(params, identity)
    endpoint = SageMakerEndpoint(
        params.endpoint_name,
        EndpointArgs(params=params, recipe_artifacts=recipes, multi_model=package, preprocessing=preprocessing, identity=identity, package=version, quality=quality),
        opts=opts,
    )
    outputs = stack_outputs(params, endpoint, artifact, version)
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
