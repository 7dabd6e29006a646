"""Operating several variants: the live weights, counts and invocations against the stack's (`variants show`), and
comparing variants on captured data (`shadow compare`, `variants compare`).

Weights are the stack's. A weight or instance count changed by hand with UpdateEndpointWeightsAndCapacities lives
until the next configuration change: UpdateEndpoint defaults to RetainAllVariantProperties=false and pulumi-aws cannot
pass it, so `pulumi up` resets every variant to the stack's Initial* values. `variants show` names that drift first.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

NAMESPACE = "AWS/SageMaker"


@dataclass(frozen=True)
class StackVariant:
    name: str
    weight: float
    initial_instance_count: int | None
    autoscaling: dict | None  # {"min_capacity", "max_capacity"} or None
    shadow: bool = False


def stack_variants(outputs: dict) -> list[StackVariant]:
    """The stack's variants from its outputs: the `variants` output, or the one variant of a one-variant stack."""
    if outputs.get("variants"):
        v = outputs["variants"]
        found = [StackVariant(p["name"], p["weight"], p["initial_instance_count"], p["autoscaling"]) for p in v["production"]]
        if v.get("shadow"):
            s = v["shadow"]
            found.append(StackVariant(s["name"], s["weight"], s["initial_instance_count"], None, shadow=True))
        return found
    params, scaling = outputs["params"], outputs["autoscaling"]
    ranged = {"min_capacity": scaling["min_capacity"], "max_capacity": scaling["max_capacity"]} if scaling["enabled"] else None
    return [StackVariant(outputs["variant_name"], float(params.get("variant_weight", 1)), params.get("initial_instance_count"), ranged)]


@dataclass
class VariantState:
    name: str
    shadow: bool
    stack_weight: float | None
    live_weight: float | None
    stack_count: int | None
    live_count: int | None
    invocations: float
    drift: list[str] = field(default_factory=list)


def _sum(cloudwatch, endpoint: str, variant: str, metric: str, since: datetime, until: datetime) -> float:
    points = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName=metric, StartTime=since, EndTime=until, Period=60, Statistics=["Sum"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
    )["Datapoints"]  # fmt: skip
    return float(sum(p["Sum"] for p in points))


def show(endpoint: str, sagemaker, cloudwatch, outputs: dict, minutes: int = 60) -> list[VariantState]:
    """Each variant live (DescribeEndpoint, CloudWatch) against the stack: weight, instances, invocations, drift."""
    described = sagemaker.describe_endpoint(EndpointName=endpoint)
    live = {v["VariantName"]: (v, False) for v in described.get("ProductionVariants", [])}
    live |= {v["VariantName"]: (v, True) for v in described.get("ShadowProductionVariants", [])}
    stack = {v.name: v for v in stack_variants(outputs)}
    until = datetime.now(timezone.utc) + timedelta(minutes=1)
    since = until - timedelta(minutes=minutes + 1)
    states = []
    for name in [*stack, *(n for n in live if n not in stack)]:
        s, (v, shadow) = stack.get(name), live.get(name, ({}, False))
        state = VariantState(
            name=name,
            shadow=s.shadow if s else shadow,
            stack_weight=s.weight if s else None,
            live_weight=v.get("CurrentWeight"),
            stack_count=s.initial_instance_count if s else None,
            live_count=v.get("CurrentInstanceCount"),
            invocations=_sum(cloudwatch, endpoint, name, "Invocations", since, until) if v else 0.0,
        )
        if s is None:
            state.drift.append("live but not in the stack: the next `pulumi up` removes it")
        elif not v:
            state.drift.append("in the stack but not live: the endpoint runs another configuration (or the last update failed)")
        else:
            if state.live_weight is not None and float(state.live_weight) != float(s.weight):
                state.drift.append(f"weight {state.live_weight:g} live, {s.weight:g} in the stack: the next configuration change resets it")
            if state.live_count is not None and s.initial_instance_count is not None and state.live_count != s.initial_instance_count:
                scaled = s.autoscaling and s.autoscaling["min_capacity"] <= state.live_count <= s.autoscaling["max_capacity"]
                if not scaled:
                    state.drift.append(f"{state.live_count} instances live, {s.initial_instance_count} in the stack: the next configuration change resets it")
        states.append(state)
    return states


def show_table(states: list[VariantState]) -> str:
    total = sum(s.invocations for s in states if not s.shadow) or 0.0
    rows = ["| variant | kind | weight (live / stack) | instances (live / stack) | invocations | share | drift |", "|---|---|---|---|---|---|---|"]
    for s in states:
        share = f"{s.invocations / total:.1%}" if total and not s.shadow else ""
        rows.append(
            f"| {s.name} | {'shadow' if s.shadow else 'production'} | {_g(s.live_weight)} / {_g(s.stack_weight)} | "
            f"{_g(s.live_count)} / {_g(s.stack_count)} | {s.invocations:g} | {share} | {'; '.join(s.drift) or 'none'} |"
        )
    return "\n".join(rows)


def _g(value) -> str:
    return "-" if value is None else f"{value:g}"


# --- comparing variants on captured data ------------------------------------------------------------------


@dataclass
class Captured:
    records: int = 0
    predictions: Counter = field(default_factory=Counter)
    by_input: dict = field(default_factory=lambda: defaultdict(list))  # input data -> [predictions]


def read_captured(s3, prefix: str, variant: str) -> Captured:
    """Every capture record of `variant` under the endpoint's capture prefix (s3://bucket/<dest>/<endpoint>/)."""
    bucket, _, key_prefix = prefix.removeprefix("s3://").partition("/")
    found = Captured()
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{key_prefix}{variant}/"):
        for obj in page.get("Contents", []):
            for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines():
                if not line.strip():
                    continue
                data = json.loads(line).get("captureData", {})
                if "endpointInput" not in data or "endpointOutput" not in data:
                    continue
                found.records += 1
                prediction = _predictions(data["endpointOutput"])
                found.predictions.update(map(str, prediction))
                found.by_input[data["endpointInput"]["data"]].append(prediction)
    return found


def _predictions(output: dict) -> list:
    text = output.get("data", "")
    if output.get("encoding") == "JSON":
        try:
            document = json.loads(text)
        except ValueError:
            return [text]
        return document.get("predictions", document) if isinstance(document, dict) else document
    return [line for line in text.splitlines() if line]


def _latency_and_errors(cloudwatch, endpoint: str, variant: str, since: datetime, until: datetime) -> dict:
    points = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE, MetricName="ModelLatency", StartTime=since, EndTime=until, Period=60, Statistics=["Sum", "SampleCount", "Maximum"],
        Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
    )["Datapoints"]  # fmt: skip
    samples = sum(p["SampleCount"] for p in points)
    return {
        "invocations": _sum(cloudwatch, endpoint, variant, "Invocations", since, until),
        "errors_4xx": _sum(cloudwatch, endpoint, variant, "Invocation4XXErrors", since, until),
        "errors_5xx": _sum(cloudwatch, endpoint, variant, "Invocation5XXErrors", since, until),
        "model_latency_ms_mean": round(sum(p["Sum"] for p in points) / samples / 1000, 3) if samples else None,
        "model_latency_ms_max": round(max(p["Maximum"] for p in points) / 1000, 3) if points else None,
    }


def compare(s3, cloudwatch, endpoint: str, capture_prefix: str, variants: list[str], minutes: int = 60) -> dict:
    """Agreement of predictions on the inputs both variants saw (a shadow sees copies of the production's), the
    prediction mix of each, and latency and errors per variant (CloudWatch, as SageMaker publishes them)."""
    until = datetime.now(timezone.utc) + timedelta(minutes=1)
    since = until - timedelta(minutes=minutes + 1)
    captured = {v: read_captured(s3, capture_prefix, v) for v in variants}
    first, *others = variants
    agreement = {}
    for other in others:
        shared = set(captured[first].by_input) & set(captured[other].by_input)
        same = sum(1 for i in shared if captured[first].by_input[i][0] == captured[other].by_input[i][0])
        agreement[f"{first} vs {other}"] = {"shared_inputs": len(shared), "agreeing": same, "agreement": round(same / len(shared), 4) if shared else None}
    return {
        "endpoint": endpoint,
        "agreement": agreement,
        "variants": {
            v: {"captured_records": captured[v].records, "predictions": dict(sorted(captured[v].predictions.items())), **_latency_and_errors(cloudwatch, endpoint, v, since, until)}
            for v in variants
        },
    }
