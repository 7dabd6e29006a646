"""The guide renders for every combination of its sections, one named test per row of the table.

Each row is a params document; the test plans it and renders the guide strictly, so a typo in any section
(a misspelt tag, a tag the context lacks for that combination) fails the row that shows it. The last test
checks the table itself: every section flag of bundle/guide/render.py takes both values somewhere, so a new
section cannot be added without a row that renders it and one that leaves it out.
"""
from __future__ import annotations

import pytest

from bundle.guide.blocks import code_blocks
from bundle.guide.render import guide_context, guide_flags, render
from bundle.local.plan import evaluate
from bundle.params.rules import validate
from model_registry import GROUP, model_registry

TOPIC = "arn:aws:sns:us-east-1:123456789012:ml-alarms"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
VPC = {"subnet_ids": ["subnet-0a1b2c3d", "subnet-0e1f2a3b"], "security_group_ids": ["sg-0a1b2c3d"]}
CUSTOM = {"model_source": "custom-s3", "custom_model_s3_uri": "s3://team-models/iris/v2/model.tar.gz"}
# moto numbers a group's versions from 1 and names them after the group, in its default account.
FIRST_VERSION = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/1"

COMBINATIONS = {
    "defaults": {},
    "linear-vpc-topic": {"initial_instance_count": 4, "deployment": {"strategy": "LINEAR", "linear_step_percent": 25}, "vpc": VPC, "alarms": {"topic_arn": TOPIC}},
    "canary-email-capture-kms": {
        "initial_instance_count": 2,
        "kms_key_arn": KEY,
        "deployment": {"strategy": "CANARY"},
        "alarms": {"email": "ops@example.com"},
        "data_capture": {"enabled": True},
    },
    "rolling-instance-batches-async": {
        "deployment_mode": "async",
        "initial_instance_count": 3,
        "autoscaling": {"min_capacity": 2},
        "deployment": {"strategy": "ROLLING", "rolling": {"batch_type": "INSTANCE_COUNT", "batch_size": 1, "rollback_batch_type": "INSTANCE_COUNT", "rollback_batch_size": 1}},
    },
    "rolling-no-rollback-fixed-fleet": {"initial_instance_count": 2, "autoscaling": {"enabled": False}, "deployment": {"strategy": "ROLLING", "auto_rollback": False}},
    "rollback-off-fixed-fleet": {"deployment": {"auto_rollback": False}, "autoscaling": {"enabled": False}},
    "custom-model-no-bucket": {**CUSTOM, "autoscaling": {"enabled": False}, "enable_network_isolation": False},
    "custom-model-capture-into-bundle-bucket": {**CUSTOM, "data_capture": {"enabled": True}},
    "capture-elsewhere": {"data_capture": {"enabled": True, "destination_s3_uri": "s3://audit-bucket/captured"}},
    "bucket-deleted-on-destroy": {"delete_bucket_on_destroy": True},
    "async-scale-to-zero-topics-batch": {
        "deployment_mode": "async",
        "autoscaling": {"min_capacity": 0},
        "async_inference": {"notification_email": "ops@example.com"},
        "batch_transform": {"enabled": True},
    },
    "async-fixed-fleet": {"deployment_mode": "async", "autoscaling": {"enabled": False}},
    "multi-model-with-own-archive": {
        "enable_network_isolation": False,
        "multi_model": {"enabled": True, "models": ["random-forest", "s3://team-models/churn/v3/churn.tar.gz"], "cache": "Disabled"},
    },
    "pipeline-async-custom-model": {"deployment_mode": "async", **CUSTOM, "preprocessing": {"enabled": True}},
    "pipeline-mm-rolling": {"preprocessing": {"enabled": True, "unit": "mm"}, "initial_instance_count": 2, "deployment": {"strategy": "ROLLING"}},
    "serverless-on-demand": {"deployment_mode": "serverless"},
    "serverless-provisioned-topic": {"deployment_mode": "serverless", "serverless": {"provisioned_concurrency": 1}, "alarms": {"topic_arn": TOPIC}},
    "serverless-custom-model": {"deployment_mode": "serverless", **CUSTOM},
    "ab-variants-no-capture": {"variants": [{"name": "challenger", "weight": 2}]},
    "ab-variants-custom-primary-capture": {**CUSTOM, "data_capture": {"enabled": True}, "variants": [{"name": "b", "autoscaling": {"enabled": False}}]},
    "shadow": {"data_capture": {"enabled": True}, "shadow": {"enabled": True, "model": "s3://team-models/iris/v3/model.tar.gz"}},
    "monitoring-topic-vpc": {"monitoring": {"enabled": True, "schedule": "daily"}, "alarms": {"topic_arn": TOPIC}, "vpc": VPC},
    "api-direct-iam": {"api": {"enabled": True}},
    "api-lambda-key-quota": {"api": {"enabled": True, "integration": "lambda", "auth": "api_key", "quota_per_day": 1000}},
    "api-direct-key-serverless": {"deployment_mode": "serverless", "api": {"enabled": True, "auth": "api_key"}},
    "model-package-group-async": {"model_source": "model-package", "model_package": {"group": GROUP}, "deployment_mode": "async"},
    "model-package-pinned-shadow": {
        "model_source": "model-package",
        "model_package": {"arn": FIRST_VERSION},
        "data_capture": {"enabled": True},
        "shadow": {"enabled": True, "model": "logistic-regression"},
    },
}


def flags_and_guide(raw: dict) -> tuple[dict, str]:
    params = validate(raw)
    if params.model_package is not None:  # planned against a registry holding one Approved version
        with model_registry() as registry:
            registry.register(approve=True)
            outputs = evaluate(params).outputs
    else:
        outputs = evaluate(params).outputs
    return guide_flags(params, outputs), render(guide_context(params, outputs))


@pytest.mark.parametrize("name", COMBINATIONS)
def test_the_guide_renders(name):
    flags, guide = flags_and_guide(COMBINATIONS[name])
    assert guide.startswith("---\ntemplating: mustache\n---\n")
    assert code_blocks(guide), "the guide has blocks to run"


def test_the_table_turns_every_section_on_and_off():
    seen: dict[str, set] = {}
    for raw in COMBINATIONS.values():
        flags, _ = flags_and_guide(raw)
        for flag, value in flags.items():
            seen.setdefault(flag, set()).add(bool(value))
    one_sided = sorted(flag for flag, values in seen.items() if values != {True, False})
    assert not one_sided, f"add rows to COMBINATIONS that turn these sections on and off: {one_sided}"
