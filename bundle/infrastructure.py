"""The deployment: one ComponentResource that owns every AWS resource of the endpoint.

Design choices that avoid the pitfalls SageMaker IaC users hit (shared FACTS.md):
- The artifact's S3 key is content-addressed (models/<sha256>/model.tar.gz): a new model is a new
  key, so the Model is replaced instead of silently keeping the old bytes.
- The EndpointConfiguration and Model are auto-named, so a change is a create-before-delete
  replacement (a fixed name fails with "Cannot create already existing endpoint configuration").
- The Endpoint keeps the stable `endpoint_name`; the autoscaling target is registered after it.
- Updates are blue/green with automatic rollback on the bundle's alarms (bundle/rollout.py), and the
  variant leaves autoscaling for the length of an update, as AWS requires (same module).
- The role reads only the artifact's prefix (or the one custom object), writes logs only to
  /aws/sagemaker/Endpoints/<name> and, with data capture, objects only under the capture prefix.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from bundle.capture import capture_destination, capture_key, data_capture_config, landing_prefix
from bundle.naming import BUNDLE_TAG, MODEL_ENVIRONMENT, SAGEMAKER_TRUST_POLICY, SCALABLE_DIMENSION, SCALING_METRIC, log_group_name, logical_name, scaling_policy_name, scaling_resource_id, split_s3_uri
from bundle.observability import create_observability
from bundle.params import Params
from bundle.retention import BUCKET_NAMES, MODEL_OBJECT_NAME, bucket_options
from bundle.hook_identity import ProviderSettings
from bundle.rollout import deployment_config, endpoint_options, scaling_policy_options, scaling_target_options
from bundle.serving_image import REPOSITORY, serving_image

COMPONENT_TYPE = "sagemaker-bundle:index:Endpoint"


@dataclass(frozen=True)
class ModelArtifact:
    """The packaged POC model: a local file and its sha256 (its identity)."""

    path: Path
    sha256: str

    @property
    def key(self) -> str:
        return f"models/{self.sha256}/model.tar.gz"


@dataclass(frozen=True)
class EndpointArgs:
    params: Params
    artifact: ModelArtifact | None  # None for model_source custom-s3: nothing is built or uploaded


class SageMakerEndpoint(pulumi.ComponentResource):
    def __init__(self, name: str, args: EndpointArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(COMPONENT_TYPE, name, None, opts)
        p = args.params
        child = pulumi.ResourceOptions(parent=self)
        tags = {**p.tags, "bundle": BUNDLE_TAG, "endpoint": p.endpoint_name}

        region = aws.get_region_output(opts=pulumi.InvokeOptions(parent=self)).region
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOptions(parent=self)).partition
        image = aws.sagemaker.get_prebuilt_ecr_image_output(
            repository_name=REPOSITORY,
            image_tag=serving_image(p.serving_image_version).tag,  # explicit: the provider's default "1" is no sklearn tag
            opts=pulumi.InvokeOptions(parent=self),
        )

        # --- the bundle's bucket: the POC artifact and, unless sent elsewhere, captured data ---------------
        self.bucket_name: pulumi.Output[str] | None = None
        hardening: list[pulumi.Resource] = []
        if p.needs_bucket:
            bucket, hardening = self._artifact_bucket(p, tags, child)
            self.bucket_name = bucket.bucket
        self.capture_destination = capture_destination(p, self.bucket_name)

        # --- where the model comes from -----------------------------------------------------------
        if args.artifact is not None:
            obj = aws.s3.BucketObjectv2(
                # A stable name: under a per-endpoint name, a rename would create the new object, then delete the old
                # one at the same key (hiding the new one behind a delete marker).
                MODEL_OBJECT_NAME,
                bucket=bucket.id,
                key=args.artifact.key,
                source=pulumi.FileAsset(str(args.artifact.path)),
                content_type="application/gzip",
                tags=tags,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=hardening, aliases=[pulumi.Alias(name=logical_name(p.endpoint_name, "model-artifact"))]
                ),
            )
            model_data_url = pulumi.Output.concat("s3://", obj.bucket, "/", obj.key)
            readable = pulumi.Output.concat("arn:", partition, ":s3:::", bucket.bucket, f"/models/{args.artifact.sha256}/*")
        else:
            model_data_url = pulumi.Output.from_input(p.custom_model_s3_uri)
            custom_bucket, custom_key = split_s3_uri(p.custom_model_s3_uri)
            readable = pulumi.Output.concat("arn:", partition, f":s3:::{custom_bucket}/{custom_key}")

        # --- the execution role, least privilege ------------------------------------------------
        role = aws.iam.Role(
            logical_name(p.endpoint_name, "role", limit=64),
            assume_role_policy=json.dumps(SAGEMAKER_TRUST_POLICY),
            description=f"SageMaker execution role of endpoint {p.endpoint_name}",
            tags=tags,
            opts=child,
        )
        # Where captured files of this endpoint land: the role's only write, and a stack output.
        self.capture_prefix = (
            self.capture_destination.apply(lambda d: landing_prefix(d, p.endpoint_name)) if self.capture_destination else None
        )
        policy_document = pulumi.Output.all(
            readable=readable, region=region, account=account, partition=partition, registry=image.registry_id, capture=self.capture_prefix
        ).apply(lambda v: json.dumps(execution_policy(p, **v), sort_keys=True))
        role_policy = aws.iam.RolePolicy(
            logical_name(p.endpoint_name, "execution", limit=128), role=role.id, policy=policy_document, opts=child
        )

        # --- model, endpoint configuration, endpoint --------------------------------------------
        vpc_config = (
            aws.sagemaker.ModelVpcConfigArgs(subnets=list(p.vpc.subnet_ids), security_group_ids=list(p.vpc.security_group_ids))
            if p.vpc.enabled
            else None
        )
        model = aws.sagemaker.Model(
            logical_name(p.endpoint_name, "model"),
            execution_role_arn=role.arn,
            primary_container=aws.sagemaker.ModelPrimaryContainerArgs(
                image=image.registry_path,
                model_data_url=model_data_url,
                environment=MODEL_ENVIRONMENT,
            ),
            enable_network_isolation=p.enable_network_isolation,
            vpc_config=vpc_config,
            tags=tags,
            # SageMaker checks the role's access when it creates the model: the policy must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        config = aws.sagemaker.EndpointConfiguration(
            logical_name(p.endpoint_name, "config"),
            production_variants=[production_variant(p, model.name)],
            # Serverless endpoints have no ML storage volume to encrypt.
            kms_key_arn=(p.kms_key_arn or None) if not p.is_serverless else None,
            data_capture_config=data_capture_config(p, self.capture_destination) if self.capture_destination else None,
            tags=tags,
            # Captured data lands only in a hardened bucket.
            opts=pulumi.ResourceOptions(parent=self, depends_on=hardening if p.captures_into_bundle_bucket else []),
        )

        # --- alarms first (the rollout references them by name), then the endpoint --------------------
        self.observability = create_observability(p, self, tags, region, partition)
        endpoint = aws.sagemaker.Endpoint(
            logical_name(p.endpoint_name, "endpoint"),
            name=p.endpoint_name,
            endpoint_config_name=config.name,
            deployment_config=deployment_config(p.deployment, self.observability.names.all()),
            tags=tags,
            opts=endpoint_options(p, self, self.observability.alarms, ProviderSettings.from_config(pulumi.Config("aws").get)),
        )

        # --- autoscaling, registered after the endpoint exists -------------------------------------
        self.scaling_target = None
        self.scaling_policy = None
        if p.autoscaling.enabled:
            self.scaling_target = aws.appautoscaling.Target(
                logical_name(p.endpoint_name, "scaling-target"),
                service_namespace="sagemaker",
                resource_id=endpoint.name.apply(lambda n: scaling_resource_id(n, p.variant_name)),
                scalable_dimension=SCALABLE_DIMENSION,
                min_capacity=p.autoscaling.min_capacity,
                max_capacity=p.autoscaling.max_capacity,
                opts=scaling_target_options(self, endpoint, config.name),
            )
            self.scaling_policy = aws.appautoscaling.Policy(
                logical_name(p.endpoint_name, "scaling-policy"),
                name=scaling_policy_name(p.endpoint_name),
                policy_type="TargetTrackingScaling",
                service_namespace=self.scaling_target.service_namespace,
                resource_id=self.scaling_target.resource_id,
                scalable_dimension=self.scaling_target.scalable_dimension,
                target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                    target_value=p.autoscaling.target_invocations_per_instance,
                    predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=SCALING_METRIC,
                    ),
                    scale_in_cooldown=p.autoscaling.scale_in_cooldown,
                    scale_out_cooldown=p.autoscaling.scale_out_cooldown,
                ),
                opts=scaling_policy_options(self, self.scaling_target),
            )

        self.region = region
        self.endpoint = endpoint
        self.config = config
        self.model = model
        self.role = role
        self.model_data_url = model_data_url
        self.image_uri = image.registry_path
        self.register_outputs({"endpoint_name": endpoint.name, "endpoint_arn": endpoint.arn})

    def _artifact_bucket(self, p: Params, tags: dict, child: pulumi.ResourceOptions) -> tuple[aws.s3.Bucket, list]:
        """Private, encrypted, versioned, TLS-only, and never deleted by Pulumi unless the params say so
        (bundle/retention.py): it may hold captured data."""
        keep = bucket_options(p, self, "artifacts", lower=True)
        bucket = aws.s3.Bucket(BUCKET_NAMES["artifacts"], force_destroy=p.delete_bucket_on_destroy, tags=tags, opts=keep)
        block = aws.s3.BucketPublicAccessBlock(
            BUCKET_NAMES["artifacts-public-access"],
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=bucket_options(p, self, "artifacts-public-access"),
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            BUCKET_NAMES["artifacts-encryption"],
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms" if p.kms_key_arn else "AES256",
                        kms_master_key_id=p.kms_key_arn or None,
                    ),
                    bucket_key_enabled=bool(p.kms_key_arn),
                )
            ],
            opts=bucket_options(p, self, "artifacts-encryption"),
        )
        versioning = aws.s3.BucketVersioning(
            BUCKET_NAMES["artifacts-versioning"],
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=bucket_options(p, self, "artifacts-versioning"),
        )
        policy = aws.s3.BucketPolicy(
            BUCKET_NAMES["artifacts-tls-only"],
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn), sort_keys=True)),
            # S3 refuses a bucket policy while the public-access block is still being applied.
            opts=pulumi.ResourceOptions.merge(bucket_options(p, self, "artifacts-tls-only"), pulumi.ResourceOptions(depends_on=[block])),
        )
        # The artifact is uploaded only into a bucket that is already hardened.
        return bucket, [block, encryption, versioning, policy]


def tls_only_policy(bucket_arn: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def production_variant(p: Params, model_name: pulumi.Input[str]) -> aws.sagemaker.EndpointConfigurationProductionVariantArgs:
    """Instances for realtime, memory and concurrency for serverless: never both."""
    if p.serverless is not None:
        sizing = dict(
            serverless_config=aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgs(
                memory_size_in_mb=p.serverless.memory_size_mb,
                max_concurrency=p.serverless.max_concurrency,
                provisioned_concurrency=p.serverless.provisioned_concurrency or None,  # 0: none, which AWS spells as absent
            )
        )
    else:
        sizing = dict(instance_type=p.instance_type, initial_instance_count=p.initial_instance_count)
    return aws.sagemaker.EndpointConfigurationProductionVariantArgs(
        variant_name=p.variant_name, model_name=model_name, initial_variant_weight=1.0, **sizing
    )


def execution_policy(
    p: Params, readable: str, region: str, account: str, partition: str, registry: str, capture: str | None = None
) -> dict:
    """The endpoint role's only permissions: read the model, pull the image, write its logs and metrics and,
    with data capture, write objects under `capture` (s3://bucket/prefix/<endpoint>/) only."""
    log_group = f"arn:{partition}:logs:{region}:{account}:log-group:{log_group_name(p.endpoint_name)}"
    statements = [
        {"Sid": "ReadModelArtifact", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [readable]},
        # GetAuthorizationToken has no resource-level permissions: AWS requires "*" for it alone.
        {"Sid": "EcrLogin", "Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": ["*"]},
        {
            "Sid": "PullServingImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": [f"arn:{partition}:ecr:{region}:{registry}:repository/{REPOSITORY}"],
        },
        {
            "Sid": "WriteEndpointLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": [log_group, f"{log_group}:log-stream:*"],
        },
        # PutMetricData has no resources either; the condition pins it to SageMaker's endpoint namespace.
        {
            "Sid": "PutEndpointMetrics",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricData"],
            "Resource": ["*"],
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
        },
    ]
    if p.kms_key_arn:
        statements.append(
            {"Sid": "UseBundleKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": [p.kms_key_arn]}
        )
    if capture:
        bucket, prefix = split_s3_uri(capture)
        statements.append(
            {"Sid": "WriteDataCapture", "Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"arn:{partition}:s3:::{bucket}/{prefix}*"]}
        )
        if capture_key(p):
            # Encrypt only: the role writes captured data, it never reads it back.
            statements.append(
                {"Sid": "EncryptDataCapture", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"], "Resource": [capture_key(p)]}
            )
    if p.vpc.enabled:
        statements += vpc_statements(p, region, account, partition)
    return {"Version": "2012-10-17", "Statement": statements}


def vpc_statements(p: Params, region: str, account: str, partition: str) -> list[dict]:
    """SageMaker attaches ENIs in the given subnets with the given security groups: the ENI actions are scoped to
    them wherever AWS's service authorization reference lists a resource type for the action; Describe* (and
    DeleteNetworkInterfacePermission, which lists none) take no narrower resource than "*"."""
    ec2 = f"arn:{partition}:ec2:{region}:{account}"
    subnets = [f"{ec2}:subnet/{s}" for s in p.vpc.subnet_ids]
    groups = [f"{ec2}:security-group/{g}" for g in p.vpc.security_group_ids]
    in_subnets = {"ArnEquals": {"ec2:Subnet": subnets}}
    return [
        {
            "Sid": "CreateEnisInTheSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [f"{ec2}:network-interface/*", *subnets, *groups],
        },
        {
            "Sid": "ManageEnisInTheSubnets",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface"],
            "Resource": [f"{ec2}:network-interface/*"],
            "Condition": in_subnets,
        },
        {
            "Sid": "DescribeVpc",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": ["*"],
        },
    ]
