"""A rolling update (deployment.strategy ROLLING, AWS's RollingUpdatePolicy): the typed settings, and what AWS refuses.

From botocore's SageMaker model (read, not copied): the batch types (CapacitySizeType) and the ranges of the request's
numbers, which the implied CreateEndpoint/UpdateEndpoint requests are checked against (bundle/params/aws_requests.py).
From AWS's documentation, which no service model carries, each with its source:
- RollingUpdatePolicy.MaximumBatchSize (API reference): "Value must be between 5% to 50% of the variant's total
  instance count", so a batch is smaller than the fleet and a single instance cannot roll;
- deployment guardrails, "Exclusions": rolling deployments exclude serverless (refused by the schema) and
  multi-variant endpoints.
The bundle counts the batch against initial_instance_count, the count every update resets the variant to; with
autoscaling the fleet may be another size when an update starts, which a CAPACITY_PERCENT batch follows.
"""
from __future__ import annotations

import functools

from bundle.params.model import CAPACITY_PERCENT, ROLLING, Batch, Problem, Rolling
from bundle.params.schema import integers

BATCH_SHARE_PERCENT = (5, 50)  # RollingUpdatePolicy.MaximumBatchSize, AWS's API reference


@functools.lru_cache(maxsize=None)
def capacity_size_types() -> tuple[str, ...]:
    """CapacitySize.Type's values in botocore's SageMaker model (INSTANCE_COUNT, CAPACITY_PERCENT)."""
    from bundle.params.shapes import service_model

    return tuple(service_model("sagemaker").shape_for("CapacitySizeType").enum)



def rolling_of(block: dict | None, fleet) -> Rolling | None:
    """The typed rolling settings of a document's `deployment.rolling` (defaults filled), or None when they are wrong on
    their own (the schema names them)."""
    if not isinstance(block, dict) or not integers(block.get("batch_size"), block.get("rollback_batch_size"), fleet):
        return None
    if not {block.get("batch_type"), block.get("rollback_batch_type")} <= set(capacity_size_types()):
        return None
    rollback = Batch(block["rollback_batch_type"], block["rollback_batch_size"]) if block["rollback_batch_size"] else None
    return Rolling(Batch(block["batch_type"], block["batch_size"]), rollback, fleet)


def describe(batch: Batch) -> str:
    return f"{batch.value}%" if batch.type == CAPACITY_PERCENT else f"{batch.value} instance(s)"


def rolling_problems(d: dict) -> list[Problem]:
    """What AWS refuses of a rolling update, each problem under the field to change."""
    rollout = d.get("deployment") if isinstance(d.get("deployment"), dict) else {}
    strategy, block = rollout.get("strategy"), rollout.get("rolling")
    if strategy != ROLLING:
        if isinstance(block, dict):
            return [
                Problem(
                    "deployment.rolling",
                    f"deployment.rolling applies only with deployment.strategy ROLLING (deployment.strategy is {strategy}): "
                    "set deployment.strategy to ROLLING, or remove deployment.rolling",
                )
            ]
        return []
    if d.get("deployment_mode") == "serverless":
        return []  # the schema names deployment.strategy: serverless endpoints shift traffic ALL_AT_ONCE only
    problems: list[Problem] = []
    exclusion = "AWS excludes multi-variant endpoints from rolling deployments (deployment guardrails, Exclusions)"
    if isinstance(d.get("variants"), list) and d["variants"]:
        problems.append(
            Problem("deployment.strategy", f"deployment.strategy ROLLING conflicts with variants: {exclusion}; use ALL_AT_ONCE, CANARY or LINEAR, or remove variants")
        )
    if isinstance(d.get("shadow"), dict) and d["shadow"].get("enabled") is True:
        problems.append(
            Problem(
                "deployment.strategy",
                f"deployment.strategy ROLLING conflicts with shadow.enabled true: {exclusion}, and a shadow is a second variant of "
                "the endpoint; use ALL_AT_ONCE, CANARY or LINEAR, or set shadow.enabled to false",
            )
        )
    if integers(rollout.get("termination_wait_seconds")) and rollout["termination_wait_seconds"] != 0:
        problems.append(
            Problem(
                "deployment.termination_wait_seconds",
                f"termination_wait_seconds {rollout['termination_wait_seconds']} does not apply to ROLLING: each old batch is "
                "terminated once its replacement is baked (RollingUpdatePolicy has no termination wait); set it to 0 or remove it",
            )
        )
    fleet = d.get("initial_instance_count")
    if not integers(fleet):
        return problems
    if fleet < 2:
        problems.append(
            Problem(
                "deployment.strategy",
                f"ROLLING replaces the fleet a batch at a time, and AWS wants a batch of {BATCH_SHARE_PERCENT[0]}% to "
                f"{BATCH_SHARE_PERCENT[1]}% of the variant's instances, which a single instance cannot be (initial_instance_count "
                "is 1): use ALL_AT_ONCE, or set initial_instance_count to 2 or more",
            )
        )
        return problems
    rolling = rolling_of(block, fleet)
    if rolling is None:
        return problems
    batch, (low, high) = rolling.batch, BATCH_SHARE_PERCENT
    share = batch.instances(fleet) * 100 / fleet
    if batch.type != CAPACITY_PERCENT and batch.value >= fleet:
        problems.append(
            Problem(
                "deployment.rolling.batch_size",
                f"a batch of {batch.value} instances is not smaller than the fleet (initial_instance_count {fleet}): a rolling "
                f"update replaces part of the fleet at a time, at most {high}% of it ({fleet * high // 100} instance(s) here); "
                "lower batch_size, or raise initial_instance_count",
            )
        )
    elif not low <= share <= high:
        problems.append(
            Problem(
                "deployment.rolling.batch_size",
                f"a batch of {describe(batch)} of {fleet} instances is {share:g}% of the fleet: AWS wants {low}% to {high}% of "
                "the variant's instances (RollingUpdatePolicy.MaximumBatchSize)",
            )
        )
    rollback = rolling.rollback_batch
    if rollback is not None and rollback.instances(fleet) > fleet:
        problems.append(
            Problem(
                "deployment.rolling.rollback_batch_size",
                f"a rollback batch of {describe(rollback)} is more than the whole fleet ({fleet} instances): give at most "
                f"{'100' if rollback.type == CAPACITY_PERCENT else fleet}, or 0 to bring the whole old fleet back at once",
            )
        )
    return problems
