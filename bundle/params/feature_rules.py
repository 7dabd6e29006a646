"""The rules of the optional features that read several fields: a Model Registry reference (model_package), model
quality monitoring and the inference pipeline (preprocessing). Each names the field it refuses and the one it conflicts
with; rules.py runs them with the others."""
from __future__ import annotations

from bundle.params.model import Problem
from bundle.params.schema import ASYNC, SERVERLESS, integers


def model_package_problems(document: dict) -> list[Problem]:
    """model_source model-package names one version: a group (its latest Approved) or an ARN, exactly one of them."""
    if document.get("model_source") != "model-package":
        return []
    package = document.get("model_package")
    if not isinstance(package, dict):
        return [
            Problem(
                "model_package",
                "model_source model-package needs model_package: {\"group\": NAME} (the group's latest Approved version) or "
                "{\"arn\": ARN} (one version)",
            )
        ]
    group, arn = package.get("group"), package.get("arn")
    if group and arn:
        return [Problem("model_package.arn", "give model_package.group (its latest Approved version) or model_package.arn (one version), not both")]
    if not group and not arn:
        return [Problem("model_package", "give model_package.group (the group's latest Approved version) or model_package.arn (one version)")]
    return []


def monitoring_problems(document: dict) -> list[Problem]:
    """Model quality monitoring reads captured data: what turns capture off, or has none, conflicts with it."""
    monitoring = document.get("monitoring")
    if not isinstance(monitoring, dict) or monitoring.get("enabled") is not True:
        return []
    mode = document.get("deployment_mode")
    if mode in (SERVERLESS, ASYNC):
        return [
            Problem(
                "monitoring.enabled",
                f"monitoring.enabled true conflicts with deployment_mode {mode}: AWS captures no data of {mode} endpoints, and "
                "accuracy and data quality are computed from captured data; use deployment_mode realtime, or set monitoring.enabled to false",
            )
        ]
    if (document.get("multi_model") or {}).get("enabled") is True:
        return [
            Problem(
                "monitoring.enabled",
                "monitoring.enabled true conflicts with multi_model.enabled true: AWS supports neither data capture nor Model Monitor on "
                "multi-model endpoints; set monitoring.enabled to false, or multi_model.enabled to false",
            )
        ]
    problems: list[Problem] = []
    capture = document.get("data_capture")
    if isinstance(capture, dict) and capture.get("enabled") is False:  # composition made it true unless the user set false
        problems.append(
            Problem(
                "data_capture.enabled",
                "data_capture.enabled false conflicts with monitoring.enabled true: accuracy, drift and Model Monitor's data-quality "
                "job read the captured requests and responses; leave data_capture.enabled out (it then follows monitoring.enabled) "
                "or set monitoring.enabled to false",
            )
        )
    source = document.get("model_source")
    if source in ("custom-s3", "model-package"):
        problems.append(
            Problem(
                "monitoring.enabled",
                f"monitoring.enabled true conflicts with model_source {source}: the data-quality baseline and the default accuracy "
                "threshold are computed from the POC model's training data and cross-validation, which a model built elsewhere does "
                "not have here; use model_source poc-sklearn, or set monitoring.enabled to false",
            )
        )
    if (document.get("preprocessing") or {}).get("enabled") is True:
        problems.append(
            Problem(
                "monitoring.enabled",
                "monitoring.enabled true conflicts with preprocessing.enabled true: the endpoint captures the pipeline's raw records "
                "(named features, units) while the baseline, accuracy and drift read the model's four columns; set one of them to false",
            )
        )
    runtime, schedule = monitoring.get("max_runtime_seconds"), monitoring.get("schedule")
    if schedule == "hourly" and integers(runtime) and runtime > 3600:
        problems.append(
            Problem(
                "monitoring.max_runtime_seconds",
                f"max_runtime_seconds {runtime} is longer than monitoring.schedule hourly's hour: each run must end before the next "
                "starts; lower it to 3600 or less, or set monitoring.schedule to daily",
            )
        )
    return problems


def preprocessing_problems(document: dict) -> list[Problem]:
    """What the bundle's inference pipeline cannot be combined with; both fields named (serverless: the schema)."""
    pre = document.get("preprocessing")
    if not isinstance(pre, dict):
        return []
    if pre.get("enabled") is not True:
        if "unit" in pre:
            return [Problem("preprocessing.unit", "applies only with preprocessing.enabled true (the preprocessing stage converts the units): set preprocessing.enabled to true, or remove preprocessing.unit")]
        return []
    both = "preprocessing.enabled true conflicts with"
    problems: list[Problem] = []
    if (document.get("multi_model") or {}).get("enabled") is True:
        problems.append(
            Problem(
                "multi_model.enabled",
                f"{both} multi_model.enabled true: SageMaker's multi-model hosting runs one container (Mode MultiModel), "
                "so there is no place for a preprocessing container before it; set one of them to false",
            )
        )
    if document.get("model_source") == "model-package":
        problems.append(
            Problem(
                "model_source",
                f"{both} model_source model-package: a Model Registry version brings its own container (ModelPackageName), "
                "which this bundle does not put behind a preprocessing container; use another model_source, or set preprocessing.enabled to false",
            )
        )
    if document.get("variants"):
        problems.append(
            Problem("variants", f"{both} variants: this bundle puts the preprocessing stage before the primary's model only; remove variants, or set preprocessing.enabled to false")
        )
    if (document.get("shadow") or {}).get("enabled") is True:
        problems.append(
            Problem(
                "shadow.enabled",
                f"{both} shadow.enabled true: this bundle puts the preprocessing stage before the primary's model only, so the "
                "shadow would read other requests than the primary; set one of them to false",
            )
        )
    return problems
