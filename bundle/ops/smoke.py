"""`python -m bundle smoke`: after a deploy, check that what serves is what the stack says it deployed.

A failed UpdateEndpoint can leave the old config InService with no error from the provider, so the
first check compares the endpoint's current config with the stack's, and reports FailureReason.
boto3 with botocore's standard retry mode; AWS_ENDPOINT_URL* are honoured (moto, the local endpoint).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from bundle.ops import aws
from bundle.ops.client import EndpointClient, Prediction
from bundle.ops.examples import expected_classes, instances_request
from bundle.names import SCALING_METRIC
from bundle.names import SCALABLE_DIMENSION, scaling_resource_id


@dataclass(frozen=True)
class Expected:
    """What the stack deployed; None where the caller did not say (smoke --endpoint NAME)."""

    endpoint_name: str
    region: str
    endpoint_config_name: str | None = None
    variant_name: str | None = None
    autoscaling: dict | None = None  # the `autoscaling` stack output
    iris_model: bool = True  # the three Iris examples must give [0, 1, 2]
    # A multi-model endpoint's models, each invoked by TargetModel; those not built from a recipe are not Iris models.
    target_models: tuple[str, ...] = ()
    other_models: frozenset[str] = frozenset()
    variants: tuple[str, ...] = ()  # with several production variants (A/B): every one's name, each invoked by TargetVariant

    @classmethod
    def from_outputs(cls, outputs: dict) -> "Expected":
        params = outputs.get("params") or {}
        hosted = (outputs.get("multi_model") or {}).get("models") or []
        return cls(
            target_models=tuple(m["target_model"] for m in hosted),
            other_models=frozenset(m["target_model"] for m in hosted if str(m["source"]).startswith("s3://")),
            endpoint_name=outputs["endpoint"]["endpoint_name"],
            region=outputs["endpoint"]["region"],
            endpoint_config_name=outputs.get("endpoint_config_name"),
            variant_name=outputs.get("variant_name"),
            autoscaling=outputs.get("autoscaling"),
            iris_model=params.get("model_source", "poc-sklearn") == "poc-sklearn",
            variants=tuple(v["name"] for v in (outputs.get("variants") or {}).get("production", [])) if len(params.get("variants") or []) else (),
        )


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class SmokeReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))

    def table(self) -> str:
        width = max(len(c.name) for c in self.checks)
        lines = [f"{'check'.ljust(width)}  result  detail", f"{'-' * width}  ------  ------"]
        lines += [f"{c.name.ljust(width)}  {'PASS' if c.ok else 'FAIL':6}  {c.detail}" for c in self.checks]
        lines.append(f"\n{sum(c.ok for c in self.checks)} passed, {sum(not c.ok for c in self.checks)} failed")
        return "\n".join(lines)


def _error(e: Exception) -> str:
    if isinstance(e, ClientError):
        return f"{e.response['Error'].get('Code')}: {e.response['Error'].get('Message')}"
    return str(e)


def check_endpoint(sm, expected: Expected, report: SmokeReport) -> str | None:
    """Endpoint InService, on the config the stack expects. Returns the variant name actually serving."""
    try:
        described = sm.describe_endpoint(EndpointName=expected.endpoint_name)
    except (ClientError, BotoCoreError) as e:
        report.add("endpoint in service", False, _error(e))
        return None
    status, reason = described["EndpointStatus"], described.get("FailureReason")
    report.add("endpoint in service", status == "InService", status + (f"; FailureReason: {reason}" if reason else ""))
    serving = described.get("EndpointConfigName")
    if expected.endpoint_config_name:
        detail = serving if serving == expected.endpoint_config_name else f"serving {serving}, stack expects {expected.endpoint_config_name}"
        if reason and serving != expected.endpoint_config_name:
            detail += f" (last update failed: {reason})"
        report.add("config is the stack's", serving == expected.endpoint_config_name, detail)
    variants = [v["VariantName"] for v in described.get("ProductionVariants", [])]
    variant = expected.variant_name or (variants[0] if variants else None)
    if expected.variant_name and variants:
        report.add("variant", expected.variant_name in variants, f"{variants}")
    return variant


def check_autoscaling(autoscaling, expected: Expected, variant: str | None, report: SmokeReport) -> None:
    if variant is None:
        return
    resource_id = scaling_resource_id(expected.endpoint_name, variant)
    wanted = expected.autoscaling
    try:
        targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[resource_id])["ScalableTargets"]
        policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=resource_id)["ScalingPolicies"]
    except (ClientError, BotoCoreError) as e:
        report.add("autoscaling", False, _error(e))
        return
    if wanted is not None and not wanted.get("enabled"):
        report.add("autoscaling", not targets, "not configured" if not targets else f"{resource_id} is registered but the stack has autoscaling off")
        return
    target = next((t for t in targets if t["ScalableDimension"] == SCALABLE_DIMENSION), None)
    if target is None:
        if wanted is None:  # nothing to compare with: report, do not fail
            report.add("autoscaling", True, f"{resource_id} is not registered (pass --outputs to check against the stack)")
        else:
            report.add("autoscaling target", False, f"{resource_id} is not registered")
        return
    capacity = (target["MinCapacity"], target["MaxCapacity"])
    if wanted is not None:
        want = (wanted["min_capacity"], wanted["max_capacity"])
        report.add("autoscaling target", capacity == want, f"{resource_id} min/max {capacity}" + ("" if capacity == want else f", stack expects {want}"))
    else:
        report.add("autoscaling target", True, f"{resource_id} min/max {capacity}")
    tracking = [p for p in policies if p.get("PolicyType") == "TargetTrackingScaling"]
    config = tracking[0]["TargetTrackingScalingPolicyConfiguration"] if tracking else {}
    metric = config.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
    got = (metric, config.get("TargetValue"), config.get("ScaleInCooldown"), config.get("ScaleOutCooldown"))
    if wanted is not None:
        want = (SCALING_METRIC, float(wanted["target_invocations_per_instance"]), wanted["scale_in_cooldown"], wanted["scale_out_cooldown"])
        same = got[0] == want[0] and got[1] is not None and float(got[1]) == want[1] and got[2:] == want[2:]
        report.add("autoscaling policy", same, f"{got[0]} target {got[1]}, cooldowns in/out {got[2]}/{got[3]}" + ("" if same else f"; stack expects {want}"))
    else:
        report.add("autoscaling policy", metric == SCALING_METRIC, f"{metric} target {got[1]}")


def check_invocation(runtime, expected: Expected, report: SmokeReport, target_model: str | None = None) -> None:
    """Through the bundle's client (bundle/ops/client.py): standard retries, ModelNotReady backoff (a multi-model
    endpoint's cold start), never a ModelError retried. A multi-model endpoint is invoked model by model."""
    name = f"invoke {target_model}" if target_model else "invoke: guide's examples"
    try:
        answer = EndpointClient(expected.endpoint_name, runtime=runtime).invoke(json.dumps(instances_request()), target_model=target_model)
        result = answer.json()
    except (ClientError, BotoCoreError, ValueError) as e:
        report.add(name, False, _error(e))
        return
    if not expected.iris_model or target_model in expected.other_models:
        report.add(name, "predictions" in result, f"answered {str(result)[:80]} (your model: values not checked)")
        return
    try:
        prediction = Prediction.from_answer(answer)
    except (TypeError, ValueError) as e:
        report.add(name, False, f"not a prediction: {e}")
        return
    sums = [round(sum(p), 6) for p in prediction.probabilities]
    ok = prediction.predictions == expected_classes() and len(sums) == 3 and all(abs(s - 1) < 1e-6 for s in sums)
    detail = f"predictions {prediction.predictions} (want {expected_classes()}), probability sums {sums}, variant {prediction.variant}"
    report.add(name, ok, detail)


def check_variants(runtime, expected: Expected, report: SmokeReport) -> None:
    """Several production variants: each answers when named by TargetVariant, and the answer says it did."""
    for name in expected.variants:
        try:
            response = runtime.invoke_endpoint(
                EndpointName=expected.endpoint_name, TargetVariant=name, ContentType="application/json", Body=json.dumps(instances_request())
            )
            result = json.loads(response["Body"].read())
        except (ClientError, BotoCoreError, ValueError) as e:
            report.add(f"invoke variant {name}", False, _error(e))
            continue
        invoked = response.get("InvokedProductionVariant")
        ok = invoked == name and "predictions" in result
        report.add(f"invoke variant {name}", ok, f"TargetVariant {name}: answered by {invoked}, predictions {result.get('predictions')}")


def run_smoke(expected: Expected) -> SmokeReport:
    report = SmokeReport()
    sm = aws.client("sagemaker", expected.region)
    variant = check_endpoint(sm, expected, report)
    check_autoscaling(aws.client("application-autoscaling", expected.region), expected, variant, report)
    runtime = aws.client("sagemaker-runtime", expected.region)
    for target_model in expected.target_models or (None,):  # a multi-model endpoint: each model by its TargetModel
        check_invocation(runtime, expected, report, target_model)
    check_variants(runtime, expected, report)
    return report
