"""`python -m bundle models list|add`: a multi-model endpoint's models, added without a deploy.

A multi-model endpoint serves every archive under its S3 prefix (the stack output `multi_model.prefix`), called by its
key relative to the prefix (TargetModel). Adding a model is uploading an archive there; SageMaker loads it on its
first call. `add` uploads under a new, content-addressed name (`<name>-<sha256[:12]>.tar.gz`) and never overwrites a
key: an instance that has the old bytes cached would go on serving them under that name. The same bytes again are
already there, and nothing is written.

An archive is checked before it is uploaded: a gzip tar with the model at its root, no `manifest.json` at its root
(the image's multi-model server refuses to register such an archive; the bundle's multi-model archives name it
`model-manifest.json`), and no member that is a link or leaves the archive's directory.
"""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bundle.errors import BundleError
from bundle.names import split_s3_uri
from bundle.ops import aws

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")


@dataclass(frozen=True)
class Prefix:
    url: str  # s3://bucket/prefix/
    region: str
    stack_models: tuple[str, ...] = ()  # the TargetModels the stack put there (from its outputs)

    @property
    def bucket(self) -> str:
        return split_s3_uri(self.url)[0]

    @property
    def key_prefix(self) -> str:
        return split_s3_uri(self.url)[1]

    @classmethod
    def from_outputs(cls, outputs: dict, region: str | None = None) -> "Prefix":
        multi = outputs.get("multi_model")
        if not multi:
            raise BundleError("the stack is not a multi-model endpoint (its outputs have no multi_model): set multi_model.enabled and deploy")
        return cls(multi["prefix"], region or outputs["endpoint"]["region"], tuple(m["target_model"] for m in multi["models"]))


def check_archive(data: bytes, label: str) -> list[str]:
    """The archive's member names; BundleError when multi-model-server could not load it."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BundleError(f"{label} is not a gzip-compressed tar archive (model.tar.gz): {e}") from None
    names = [m.name.removeprefix("./") for m in members]
    for member, name in zip(members, names):
        if not (member.isfile() or member.isdir()) or name.startswith("/") or ".." in Path(name).parts:
            raise BundleError(f"{label}: member {member.name!r} is a link or leaves the archive's directory")
    if "manifest.json" in names:
        raise BundleError(
            f"{label} has a manifest.json at its root: the image's multi-model server refuses to register such an archive "
            "(it reads the file as its own legacy manifest). Rename it, as the bundle's multi-model archives do "
            "(model-manifest.json; `python -m bundle models add --recipe NAME` builds one), then add it again"
        )
    if not any(member.isfile() and "/" not in name for member, name in zip(members, names)):
        raise BundleError(f"{label} has no file at its root: the model must be at the archive's top level")
    return names


def target_name(stem: str, data: bytes) -> str:
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:12]}.tar.gz"


@dataclass(frozen=True)
class Added:
    target_model: str
    key: str
    sha256: str
    size_bytes: int
    written: bool  # False: the same bytes were already there


def add_model(prefix: Prefix, data: bytes, stem: str, label: str) -> Added:
    """Upload `data` under the prefix with a content-addressed name; never overwrite a key."""
    if not NAME.match(stem):
        raise BundleError(f"model name {stem!r}: use 1 to 101 letters, digits, '.', '_' or '-', starting with a letter or digit")
    check_archive(data, label)
    sha = hashlib.sha256(data).hexdigest()
    target = target_name(stem, data)
    key = prefix.key_prefix + target
    s3 = aws.client("s3", prefix.region)
    try:
        existing = _head(s3, prefix.bucket, key)
        if existing is not None:
            if existing.get("Metadata", {}).get("sha256") == sha or existing.get("ContentLength") == len(data) and _same(s3, prefix.bucket, key, sha):
                return Added(target, key, sha, len(data), written=False)
            raise BundleError(f"s3://{prefix.bucket}/{key} exists with other bytes: it is never overwritten (a cached copy would keep serving)")
        # IfNoneMatch: S3 refuses the write if the key appeared meanwhile (a conditional write), so nothing is overwritten.
        s3.put_object(
            Bucket=prefix.bucket, Key=key, Body=data, ContentType="application/gzip", Metadata={"sha256": sha}, IfNoneMatch="*"
        )
    except ClientError as e:
        code = e.response["Error"].get("Code")
        if code in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise BundleError(f"s3://{prefix.bucket}/{key} appeared while adding it: not overwritten; run `models list`") from None
        raise BundleError(f"cannot add the model to s3://{prefix.bucket}/{prefix.key_prefix}: {code}: {e.response['Error'].get('Message')}") from None
    except BotoCoreError as e:
        raise BundleError(f"cannot reach S3 for s3://{prefix.bucket}/{prefix.key_prefix}: {e}") from None
    return Added(target, key, sha, len(data), written=True)


def _head(s3, bucket: str, key: str) -> dict | None:
    try:
        return s3.head_object(Bucket=bucket, Key=key)
    except ClientError as e:
        if e.response["Error"].get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def _same(s3, bucket: str, key: str, sha: str) -> bool:
    return hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest() == sha


@dataclass(frozen=True)
class Listed:
    target_model: str
    size_bytes: int
    last_modified: str
    by_stack: bool


def list_models(prefix: Prefix) -> list[Listed]:
    s3 = aws.client("s3", prefix.region)
    found = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key_prefix):
            for item in page.get("Contents", []):
                target = item["Key"][len(prefix.key_prefix) :]
                if target and not target.endswith("/"):
                    found.append(Listed(target, item["Size"], item["LastModified"].strftime("%Y-%m-%d %H:%M:%S"), target in prefix.stack_models))
    except (ClientError, BotoCoreError) as e:
        raise BundleError(f"cannot list s3://{prefix.bucket}/{prefix.key_prefix}: {e}") from None
    return sorted(found, key=lambda m: m.target_model)


def table(models: list[Listed], prefix: Prefix) -> str:
    if not models:
        return f"no models under {prefix.url}"
    width = max(len("TargetModel"), *(len(m.target_model) for m in models))
    lines = [f"{'TargetModel'.ljust(width)}  {'bytes':>9}  last modified (UTC)   added by", f"{'-' * width}  {'-' * 9}  -------------------  --------"]
    lines += [f"{m.target_model.ljust(width)}  {m.size_bytes:>9}  {m.last_modified}  {'the stack' if m.by_stack else 'models add'}" for m in models]
    lines.append(f"\n{len(models)} model(s) under {prefix.url}")
    return "\n".join(lines)


# --- the command line ---------------------------------------------------------------------------------------------


def add_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="models_command", required=True)
    for name, help_text in (("list", "list the models under the endpoint's prefix"), ("add", "upload a model under a new, content-addressed name")):
        p = actions.add_parser(name, help=help_text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--outputs", help="a JSON file of the stack's outputs (`pulumi stack output --json`): its multi_model.prefix")
        where.add_argument("--prefix", help="the endpoint's prefix, s3://bucket/prefix/ (the Model's ModelDataUrl)")
        p.add_argument("--region", help="AWS region (default: the outputs' region, AWS_REGION or AWS_DEFAULT_REGION)")
        if name == "add":
            what = p.add_mutually_exclusive_group(required=True)
            what.add_argument("--recipe", help="a POC recipe, packaged as a multi-model archive (random-forest, logistic-regression, gradient-boosting)")
            what.add_argument("--archive", type=Path, help="your model.tar.gz (the model at its root, no root manifest.json)")
            p.add_argument("--name", help="the name before the content hash (default: the recipe, or the archive's file name)")
    parser.set_defaults(run=run)


def _prefix(args) -> Prefix:
    from bundle.ops.aws import default_region
    from bundle.guide.outputs import read_outputs_file

    if args.outputs:
        return Prefix.from_outputs(read_outputs_file(args.outputs), args.region)
    if not re.match(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/", args.prefix or ""):
        raise BundleError(f"--prefix {args.prefix!r} is not an s3://bucket/prefix/ URI")
    region = args.region or default_region()
    if not region:
        raise BundleError("models needs a region with --prefix: --region, AWS_REGION or AWS_DEFAULT_REGION")
    return Prefix(args.prefix if args.prefix.endswith("/") else args.prefix + "/", region)


def run(args) -> int:
    prefix = _prefix(args)
    if args.models_command == "list":
        print(table(list_models(prefix), prefix))
        return 0
    if args.recipe:
        from bundle.artifact.recipes import get_recipe
        from bundle.artifact.build import recipe_artifact

        get_recipe(args.recipe)
        data, stem, label = recipe_artifact(args.recipe, layout="multi-model").path.read_bytes(), args.name or args.recipe, f"recipe {args.recipe}"
    else:
        try:
            data = args.archive.read_bytes()
        except OSError as e:
            raise BundleError(f"cannot read --archive {args.archive}: {e.strerror}") from None
        stem, label = args.name or args.archive.name.removesuffix(".tar.gz").removesuffix(".tgz"), str(args.archive)
    added = add_model(prefix, data, stem, label)
    state = "added" if added.written else "already there (same bytes): nothing written"
    print(f"{added.target_model}: {state}")
    print(f"  s3://{prefix.bucket}/{added.key} ({added.size_bytes} bytes, sha256 {added.sha256})")
    print(f"  call it with TargetModel={added.target_model} (SageMaker loads it on its first call)")
    return 0
