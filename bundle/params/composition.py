"""Defaults that follow from the features a params document enables: a field the user did not set takes the value
the enabled features need, so switching one feature on never requires learning another field's default from an error.
Only a value the user set explicitly can conflict, and the rules then name both fields (rules.py, variant_rules.py).

- multi_model.enabled: enable_network_isolation defaults to false (the image downloads the handlers from S3 when a
  multi-model container starts, which isolation forbids);
- shadow.enabled: data_capture.enabled defaults to true (a shadow test compares both variants' captured predictions);
- deployment.strategy ROLLING: deployment.rolling takes its defaults (half the fleet per batch, a rollback all at once);
- monitoring.enabled: data_capture.enabled defaults to true (accuracy and drift are computed from captured data);
- a serverless endpoint has no network isolation, no data capture and no inference pipeline: saying so
  (`enable_network_isolation: false`, `data_capture: {"enabled": false}`, `preprocessing: {"enabled": false}`) is no conflict, and the key is dropped as if it were left out.
"""
from __future__ import annotations

import copy

from bundle.params.model import ROLLING
from bundle.params.schema import REALTIME, SERVERLESS


def _enabled(raw: dict, feature: str) -> bool:
    block = raw.get(feature)
    return isinstance(block, dict) and block.get("enabled") is True


def follow_features(raw: dict, default_mode: str) -> dict:
    """`raw` with the defaults its enabled features imply filled in; what the user set is kept as set."""
    document = copy.deepcopy(raw)
    mode = document.get("deployment_mode", default_mode)
    if _enabled(document, "multi_model"):
        document.setdefault("enable_network_isolation", False)
    if _enabled(document, "shadow") and mode == REALTIME:  # elsewhere the shadow itself is refused
        capture = document.setdefault("data_capture", {})
        if isinstance(capture, dict):
            capture.setdefault("enabled", True)
    rollout = document.get("deployment")
    if isinstance(rollout, dict) and rollout.get("strategy") == ROLLING:
        rollout.setdefault("rolling", {})
    if _enabled(document, "monitoring") and mode == REALTIME and not _enabled(document, "multi_model"):  # elsewhere refused
        capture = document.setdefault("data_capture", {})
        if isinstance(capture, dict):
            capture.setdefault("enabled", True)
    if mode == SERVERLESS:
        if document.get("enable_network_isolation") is False:
            del document["enable_network_isolation"]
        for feature in ("data_capture", "preprocessing"):
            if document.get(feature) == {"enabled": False}:
                del document[feature]
    return document
