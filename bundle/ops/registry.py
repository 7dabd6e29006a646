"""The SageMaker Model Registry: which version a `model_source: model-package` stack deploys, and `python -m bundle
register`, which puts a built POC artifact into a model package group.

Resolution happens when the stack is planned (`python -m bundle plan`, `pulumi preview`, `pulumi up`), with boto3 and
the deploying identity: a group reference is its latest version whose ModelApprovalStatus is Approved
(ListModelPackages sorted by CreationTime, newest first), an ARN is that one version. The version is then described,
and refused, naming the params field, when the bundle cannot serve it: a group without an Approved version, an ARN of
another region, a version that is not Completed, or one whose container is not AWS's scikit-learn image of the stack's
region and serving_image_version (the Model runs the bundle's handlers, code/inference.py inside the archive, with the
bundle's serving environment; the role may pull only that image).

The registry account of the image is not compared with AWS's table of scikit-learn registries: that table is the AWS
provider's (get_prebuilt_ecr_image), which runs only inside a Pulumi program. The repository, tag and region are.
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bundle.artifact.image import IMAGES, REPOSITORY, serving_image
from bundle.errors import BundleError, Problem
from bundle.names import MODEL_ENVIRONMENT, arn_region, split_s3_uri
from bundle.params.model import InvalidParams, ModelPackageRef
from bundle.params.shapes import From, Request, check_request

APPROVED, PENDING = "Approved", "PendingManualApproval"
COMPLETED = "Completed"  # ModelPackageStatus of a version SageMaker can deploy


@dataclass(frozen=True)
class ResolvedPackage:
    """The version a stack deploys, as the registry describes it."""

    arn: str
    group: str | None
    version: int | None
    approval_status: str
    image: str
    model_data_url: str
    reference: str  # "group": the group's latest Approved version; "arn": pinned

    @property
    def describable_arn(self) -> str:
        """What the execution role may describe. A group reference: every version of the group (its ARN with the
        version number replaced by `*`), so approving a newer version changes the Model and nothing else; a pinned ARN:
        that version."""
        return self.arn.rsplit("/", 1)[0] + "/*" if self.reference == "group" else self.arn

    @property
    def readable_key(self) -> tuple[str, str]:
        """(bucket, key pattern) of the archives the execution role may read. A group reference whose archive is laid
        out as `register` writes it (<prefix>/<group>/<sha256>/model.tar.gz): every archive under <prefix>/<group>/, so a
        newer version registered the same way needs no new grant; any other layout, or a pinned ARN: that one object
        (then a newer version changes the role's grant too, as the README says)."""
        bucket, key = split_s3_uri(self.model_data_url)
        parts = key.split("/")
        registered = len(parts) >= 3 and parts[-1] == "model.tar.gz" and re.fullmatch(r"[0-9a-f]{64}", parts[-2]) and parts[-3] == self.group
        if self.reference == "group" and registered:
            return bucket, "/".join(parts[:-2]) + "/*"
        return bucket, key

    def output(self) -> dict:
        """The `model_package` stack output."""
        return {
            "arn": self.arn,
            "group": self.group,
            "version": self.version,
            "approval_status": self.approval_status,
            "image": self.image,
            "model_data_url": self.model_data_url,
            "reference": self.reference,
        }


def image_problem(image: str, region: str, image_version: str) -> str | None:
    """Why the bundle cannot serve a version running `image` in `region` with serving_image_version `image_version`
    (None: it can). The image's URI is <account>.dkr.ecr.<region>.<dns suffix>/<repository>:<tag>."""
    host, _, path = image.partition("/")
    repository, _, tag = path.partition(":")
    labels = host.split(".")
    account = labels[0] if labels else ""
    ecr_region = labels[3] if len(labels) > 4 and labels[1:3] == ["dkr", "ecr"] else None
    wanted = serving_image(image_version).tag
    supported = (
        f"supported: one container running AWS's {REPOSITORY} image of the stack's region ({region}) with tag {wanted} "
        f"(serving_image_version {image_version}; the bundle knows {', '.join(sorted(IMAGES))}), with the bundle's handlers "
        "(code/inference.py) inside its model.tar.gz, as `python -m bundle register` makes it"
    )
    if repository != REPOSITORY or not (account.isdigit() and len(account) == 12) or ecr_region is None:
        return f"its image {image!r} is not AWS's {REPOSITORY} image, where the bundle's handlers run: {supported}"
    if ecr_region != region:
        return f"its image {image!r} is in region {ecr_region}, the stack deploys to {region}: {supported}"
    if tag != wanted:
        known = {serving_image(v).tag: v for v in IMAGES}
        if tag in known:
            return (
                f"its image is {REPOSITORY}:{tag}, but serving_image_version is {image_version}: set serving_image_version to "
                f"{known[tag]} (the image the version was built for), or register a version built for {image_version}"
            )
        return f"its image {image!r} has a tag the bundle does not know: {supported}"
    return None


def _refuse(field: str, message: str) -> InvalidParams:
    return InvalidParams([Problem(field, message)], source="params (the Model Registry's answer)")


def _aws_error(e: Exception) -> str:
    if isinstance(e, ClientError):
        error = e.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(e)


def resolve(client, ref: ModelPackageRef, region: str, image_version: str) -> ResolvedPackage:
    """The version `ref` names, described and checked; InvalidParams naming `ref.field` when it cannot be served."""
    field = ref.field
    try:
        if ref.group:
            try:
                client.describe_model_package_group(ModelPackageGroupName=ref.group)
            except ClientError as e:
                raise _refuse(field, f"no model package group {ref.group!r} in {region} for this identity ({_aws_error(e)})") from None
            found = client.list_model_packages(
                ModelPackageGroupName=ref.group, ModelApprovalStatus=APPROVED, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
            )["ModelPackageSummaryList"]
            if not found:
                raise _refuse(
                    field,
                    f"the model package group {ref.group!r} ({region}) has no version with ModelApprovalStatus {APPROVED}: approve one "
                    "(`aws sagemaker update-model-package --model-package-arn ARN --model-approval-status Approved`, or register it "
                    "with `python -m bundle register --approve`), or pin one with model_package.arn",
                )
            arn = found[0]["ModelPackageArn"]
        else:
            if arn_region(ref.arn) != region:
                raise _refuse(field, f"is in region {arn_region(ref.arn) or '(none)'} but the stack deploys to {region}: SageMaker needs the model package in the stack's region")
            arn = ref.arn
        try:
            described = client.describe_model_package(ModelPackageName=arn)
        except ClientError as e:
            raise _refuse(field, f"cannot describe the model package {arn} ({_aws_error(e)})") from None
    except (BotoCoreError, ClientError) as e:
        raise BundleError(f"{field}: cannot read the SageMaker Model Registry in {region}: {_aws_error(e)}") from None
    return checked(described, field, region, image_version, "group" if ref.group else "arn")


def checked(described: dict, field: str, region: str, image_version: str, reference: str) -> ResolvedPackage:
    """DescribeModelPackage's answer as the version the stack deploys, or InvalidParams naming `field`."""
    arn = described["ModelPackageArn"]
    label = f"version {described.get('ModelPackageVersion')} ({arn})" if described.get("ModelPackageVersion") else arn
    status = described.get("ModelPackageStatus")
    if status and status != COMPLETED:
        raise _refuse(field, f"{label} is {status}, not {COMPLETED}: SageMaker deploys a model package once it is {COMPLETED}")
    containers = (described.get("InferenceSpecification") or {}).get("Containers") or []
    if len(containers) != 1:
        raise _refuse(field, f"{label} has {len(containers)} containers: the bundle serves one (AWS's {REPOSITORY} image with its handlers)")
    container = containers[0]
    problem = image_problem(container.get("Image", ""), region, image_version)
    if problem:
        raise _refuse(field, f"{label}: {problem}")
    url = container.get("ModelDataUrl") or ""
    if not (url.startswith("s3://") and url.endswith(".tar.gz")):
        raise _refuse(field, f"{label} has no s3://…/model.tar.gz ModelDataUrl (got {url!r}): the bundle serves a model.tar.gz from S3")
    return ResolvedPackage(
        arn=arn,
        group=described.get("ModelPackageGroupName"),
        version=described.get("ModelPackageVersion"),
        approval_status=described.get("ModelApprovalStatus", ""),
        image=container["Image"],
        model_data_url=url,
        reference=reference,
    )


# --- python -m bundle register ----------------------------------------------------------------------------------


def package_request(group: str, image: str, model_data_url: str, approve: bool, description: str, metadata: dict[str, str]) -> Request:
    """CreateModelPackage for a POC artifact, each value tagged with the flag it comes from (checked against botocore's
    model before it is sent)."""
    return Request(
        "sagemaker",
        "CreateModelPackage",
        {
            "ModelPackageGroupName": From(group, "--group"),
            "ModelPackageDescription": From(description, "--description"),
            "InferenceSpecification": {
                "Containers": [{"Image": From(image, "--image-uri"), "ModelDataUrl": From(model_data_url, "--s3-prefix"), "Environment": dict(MODEL_ENVIRONMENT)}]
            },
            "ModelApprovalStatus": APPROVED if approve else PENDING,
            "CustomerMetadataProperties": metadata,
        },
    )


def artifact_key(prefix: str, group: str, sha256: str) -> str:
    """Content-addressed: a new model is a new key, never an overwrite."""
    return "/".join(p for p in (prefix.strip("/"), group, sha256, "model.tar.gz") if p)


def register(sagemaker, s3, artifact, group: str, image: str, s3_prefix: str, region: str, approve: bool = False, description: str = "") -> dict:
    """Upload `artifact` (bundle.artifact.build.Artifact) under `s3_prefix`, create the group if it does not exist, and
    add a version for it; its ModelApprovalStatus is PendingManualApproval unless `approve`."""
    image_version = artifact.manifest["image"].rsplit(":", 1)[-1]
    problem = image_problem(image, region, image_version)
    if problem:
        raise BundleError(f"--image-uri: the plan would refuse this version, {problem}")
    bucket, prefix = split_s3_uri(s3_prefix)
    key = artifact_key(prefix, group, artifact.sha256)
    url = f"s3://{bucket}/{key}"
    description = description or f"{artifact.recipe} (sha256 {artifact.sha256[:12]}), built by the SageMaker endpoint bundle"
    metadata = {"sha256": artifact.sha256, "recipe": artifact.recipe, "cv_accuracy": str(artifact.manifest["metrics"]["cv_accuracy_mean"])}
    request = package_request(group, image, url, approve, description, metadata)
    violations = check_request(request)
    if violations:
        raise BundleError("; ".join(f"{v.field}: AWS would refuse {v.operation}: {v.member} {v.rule}" for v in violations))
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=Path(artifact.path).read_bytes(), ContentType="application/gzip")
        created_group = False
        try:
            sagemaker.describe_model_package_group(ModelPackageGroupName=group)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            sagemaker.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="Created by `python -m bundle register`")
            created_group = True
        params = {k: (v.value if isinstance(v, From) else v) for k, v in request.params.items()}
        params["InferenceSpecification"] = {"Containers": [{"Image": image, "ModelDataUrl": url, "Environment": dict(MODEL_ENVIRONMENT)}]}
        arn = sagemaker.create_model_package(**params)["ModelPackageArn"]
        described = sagemaker.describe_model_package(ModelPackageName=arn)
    except (BotoCoreError, ClientError) as e:
        raise BundleError(f"register into {group!r} ({region}) failed: {_aws_error(e)}") from None
    return {
        "arn": arn,
        "group": group,
        "group_created": created_group,
        "version": described.get("ModelPackageVersion"),
        "approval_status": described.get("ModelApprovalStatus"),
        "model_data_url": url,
        "image": image,
        "sha256": artifact.sha256,
        "recipe": artifact.recipe,
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    from bundle.artifact.recipes import DEFAULT_RECIPE, RECIPES

    p.add_argument("--group", required=True, help="the model package group (created if it does not exist)")
    p.add_argument("--s3-prefix", required=True, help="s3://bucket/prefix the artifact is uploaded under (<prefix>/<group>/<sha256>/model.tar.gz)")
    image = p.add_mutually_exclusive_group(required=True)
    image.add_argument("--image-uri", help="the serving image's URI (AWS's sagemaker-scikit-learn image of the region)")
    image.add_argument("--outputs", help="a JSON file of a stack's outputs (`pulumi stack output --json`): its image_uri and region")
    p.add_argument("--recipe", choices=list(RECIPES), default=DEFAULT_RECIPE, help=f"which POC model to build and register (default {DEFAULT_RECIPE})")
    p.add_argument("--image-version", default="1.4-2", help="serving image version the model is built for (default 1.4-2)")
    p.add_argument("--approve", action="store_true", help="register the version as Approved (default PendingManualApproval)")
    p.add_argument("--description", default="", help="the version's description")
    p.add_argument("--region", help="AWS region (default: the outputs' region, AWS_REGION, AWS_DEFAULT_REGION)")
    p.set_defaults(run=run)


def run(args) -> int:
    from bundle.artifact.build import recipe_artifact
    from bundle.ops import aws

    outputs = json.loads(Path(args.outputs).read_text()) if args.outputs else {}
    region = args.region or (outputs.get("endpoint") or {}).get("region") or aws.default_region()
    if not region:
        raise BundleError("register needs a region: --region, the --outputs file's, AWS_REGION or AWS_DEFAULT_REGION")
    image = args.image_uri or outputs.get("image_uri")
    if not image:
        raise BundleError(f"{args.outputs} has no image_uri: give --image-uri")
    if not args.s3_prefix.startswith("s3://"):
        raise BundleError(f"--s3-prefix must be an s3://bucket/prefix URI, got {args.s3_prefix!r}")
    artifact = recipe_artifact(args.recipe, image_version=args.image_version)
    registered = register(
        aws.client("sagemaker", region), aws.client("s3", region), artifact, args.group, image, args.s3_prefix, region, args.approve, args.description
    )
    print(json.dumps(registered, indent=2))
    return 0
