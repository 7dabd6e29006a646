"""The bundle's bucket outlives params changes, renames and `pulumi destroy`: it may hold captured data.

How, with Pulumi's resource options:
- Stable logical names (BUCKET_NAMES): the bucket's URN does not depend on the endpoint's name, so a rename
  is an update (new tags), never a delete and create. Each resource also answers to its former name
  `<endpoint>-artifacts...` (an alias), so a stack created before this version keeps its bucket.
- `retain_on_delete` (unless `delete_bucket_on_destroy`): when Pulumi would delete the bucket (`pulumi destroy`,
  or params that no longer need it: capture off or sent elsewhere, serverless, a custom model), it drops it
  from the stack and leaves it, its objects and its hardening (public-access block, encryption, versioning,
  TLS-only policy) in AWS. The engine reads the option from the state, so it holds after the resource has
  left the program too.
- `force_destroy` only with `delete_bucket_on_destroy`: otherwise S3 itself refuses to delete a bucket that
  holds objects, a second lock.
Nothing in the bucket's inputs forces a replacement (its name is Pulumi's auto-name from the stable
logical name; only tags and force_destroy change), which tests/test_retention.py checks across params changes.
"""
from __future__ import annotations

import pulumi

from bundle.naming import logical_name
from bundle.params import Params

STABLE_PREFIX = "sagemaker-bundle"
BUCKET_NAMES = {
    part: f"{STABLE_PREFIX}-{part}"
    for part in ("artifacts", "artifacts-public-access", "artifacts-encryption", "artifacts-versioning", "artifacts-tls-only")
}
MODEL_OBJECT_NAME = f"{STABLE_PREFIX}-model-artifact"


def bucket_options(p: Params, parent: pulumi.Resource, part: str, lower: bool = False) -> pulumi.ResourceOptions:
    """Options of the bucket and of its hardening: kept on delete unless the params say otherwise, and aliased to
    the per-endpoint name they had before."""
    return pulumi.ResourceOptions(
        parent=parent,
        retain_on_delete=not p.delete_bucket_on_destroy,
        aliases=[pulumi.Alias(name=logical_name(p.endpoint_name, part, lower=lower))],
    )
