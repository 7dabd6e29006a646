"""The endpoint's CloudWatch dashboard: the same widgets in the same places every time, only metrics that exist.

One variant: the mode's widgets (bundle/deploy/modes.py picks them), then the hosting's (a multi-model endpoint's
cache and loading), then the alarms. Several variants (A/B, a shadow): each graph has one line per variant, in the
variants' order, so they read side by side.
"""
from __future__ import annotations

from dataclasses import dataclass

from bundle.deploy.metrics import EndpointQueueMetrics, VariantMetrics, Watched
from bundle.names import FEATURE_DRIFT_METRIC, MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC

WIDTH, HEIGHT = 12, 6


def graph(title: str, metrics: list, region: str, **properties) -> dict:
    return {"type": "metric", "properties": {"title": title, "metrics": metrics, "region": region, "view": "timeSeries", "period": 60, **properties}}


@dataclass(frozen=True)
class Lines:
    """What every graph of one variant's dashboard shares: its metrics, the region, the alarms' threshold lines."""

    metrics: VariantMetrics
    region: str
    errors: dict  # the 5XX alarm's threshold as an annotation
    latency: dict  # the latency alarm's threshold as an annotation
    stat: str  # the latency alarm's percentile


def lines_for(w: Watched, region: str) -> Lines:
    a, stat = w.alarms, w.alarms.model_latency_percentile
    return Lines(
        VariantMetrics(w.endpoint_name, w.variant_name),
        region,
        {"horizontal": [{"label": f"alarm: {a.invocation_5xx_threshold} per {a.period_seconds}s", "value": a.invocation_5xx_threshold}]},
        {"horizontal": [{"label": f"alarm: {stat} {a.model_latency_threshold_ms:g} ms", "value": a.model_latency_threshold_ms}]},
        stat,
    )


def placed(widgets: list[dict]) -> dict:
    return {"widgets": [{**g, "x": (i % 2) * WIDTH, "y": (i // 2) * HEIGHT, "width": WIDTH, "height": HEIGHT} for i, g in enumerate(widgets)]}


def dashboard_body(w: Watched, mode, region: str, alarm_arns: list[str]) -> dict:
    if len(w.variants) > 1:
        return variants_dashboard_body(w, region, alarm_arns)
    lines = lines_for(w, region)
    widgets = mode.widgets(w, lines) + (multi_model_widgets(lines) if w.multi_model else []) + quality_widgets(w, region)
    widgets.append({"type": "alarm", "properties": {"title": "Alarms (they roll back a deployment in progress)", "alarms": alarm_arns}})
    return placed(widgets)


def quality_widgets(w: Watched, region: str) -> list[dict]:
    """monitoring.enabled: the published PredictionAccuracy per variant against the alarm's threshold, and the worst
    feature's PSI (bundle/ops/monitor.py publishes both; hourly points)."""
    if w.accuracy_threshold is None:
        return []
    metrics = [VariantMetrics(w.endpoint_name, v.name) for v in w.variants]
    threshold = {"horizontal": [{"label": f"alarm: under {w.accuracy_threshold:g}", "value": w.accuracy_threshold}]}
    return [
        graph("PredictionAccuracy (captured predictions against ground truth)", [m.graphed(MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC, stat="Average", label=m.variant_name) for m in metrics], region, period=3600, annotations=threshold),
        graph("Worst feature drift (PSI against the training data)", [m.graphed(MODEL_QUALITY_NAMESPACE, FEATURE_DRIFT_METRIC, stat="Maximum", label=m.variant_name) for m in metrics], region, period=3600),
    ]


def realtime_widgets(w: Watched, lines: Lines) -> list[dict]:
    m, region = lines.metrics, lines.region
    return [
        graph("Invocations (per minute)", [m.invocations(stat="Sum")], region),
        graph("Errors: 4XX (client input), 5XX (model; alarmed)", [m.errors_4xx(stat="Sum"), m.errors_5xx(stat="Sum")], region, annotations=lines.errors),
        graph(
            "Latency (ms): model, and SageMaker's overhead",
            m.latency_ms("ModelLatency", lines.stat, "model") + m.latency_ms("OverheadLatency", lines.stat, "overhead"),
            region,
            annotations=lines.latency,
        ),
    ]


def instance_widgets(w: Watched, lines: Lines) -> list[dict]:
    m, region = lines.metrics, lines.region
    return [
        # No metric counts instances; every instance reports CPUUtilization once a minute, so the samples do.
        graph("Instances (CPUUtilization samples per minute)", [m.instance("CPUUtilization", stat="SampleCount", label="instances")], region),
        graph("CPU and memory (%; CPU is summed over cores)", [m.instance("CPUUtilization", stat="Average"), m.instance("MemoryUtilization", stat="Average")], region),
    ]


def serverless_widgets(w: Watched, lines: Lines) -> list[dict]:
    m, region, serverless = lines.metrics, lines.region, w.variants[0].serverless
    concurrency = [m.serverless("ServerlessConcurrentExecutionsUtilization", stat="Maximum")]
    if serverless.provisioned_concurrency:
        concurrency += [
            m.serverless("ServerlessProvisionedConcurrencyUtilization", stat="Maximum"),
            m.serverless("ServerlessProvisionedConcurrencySpilloverInvocations", stat="Sum"),
        ]
    return [
        graph("Concurrency (share of max_concurrency in use)", concurrency, region),
        graph("Cold starts: ModelSetupTime (µs)", [m.serverless("ModelSetupTime", stat="Maximum")], region),
        graph("Memory (%)", [m.instance("MemoryUtilization", stat="Average")], region),
    ]


def multi_model_widgets(lines: Lines) -> list[dict]:
    m, region = lines.metrics, lines.region
    return [
        # Average of ModelCacheHit = the share of invocations whose model was already loaded.
        graph("Multi-model: cache hits (share of invocations served by a loaded model)", [m.multi_model("ModelCacheHit", stat="Average")], region, yAxis={"left": {"min": 0, "max": 1}}),
        graph(
            "Multi-model: cold starts (ms waiting for, downloading and loading a model)",
            m.multi_model_ms("ModelLoadingWaitTime", "Maximum", "wait")
            + m.multi_model_ms("ModelDownloadingTime", "Maximum", "download")
            + m.multi_model_ms("ModelLoadingTime", "Maximum", "load"),
            region,
        ),
        graph(
            "Multi-model: loaded models (per instance) and unloads",
            [m.instance("LoadedModelCount", stat="Maximum"), m.multi_model("ModelUnloadingTime", stat="SampleCount", label="unloads")],
            region,
        ),
    ]


def async_widgets(w: Watched, lines: Lines) -> list[dict]:
    """No Invocations, InvocationsPerInstance or OverheadLatency for async endpoints: the queue and the outcomes instead."""
    m, region, q = lines.metrics, lines.region, EndpointQueueMetrics(w.endpoint_name)
    return [
        graph("Backlog: queued requests, and per instance (the scaling metric)", [q.graphed(q.BACKLOG, stat="Average"), q.graphed(q.BACKLOG_PER_INSTANCE, stat="Average")], region),
        graph(
            "Failures: requests (alarmed), notifications; 4XX, 5XX",
            [m.invocation_failures(stat="Sum"), m.notification_failures(stat="Sum"), m.errors_4xx(stat="Sum"), m.errors_5xx(stat="Sum")],
            region,
            annotations=lines.errors,
        ),
        graph("Latency (ms): model", m.latency_ms("ModelLatency", lines.stat, "model"), region, annotations=lines.latency),
        graph("Age of the oldest queued request (s)", [q.graphed(q.OLDEST_REQUEST_AGE, stat="Maximum")], region),
        graph(
            "Instances (CPUUtilization samples per minute), and backlog without capacity",
            [m.instance("CPUUtilization", stat="SampleCount", label="instances"), q.graphed(q.BACKLOG_WITHOUT_CAPACITY, stat="Maximum")],
            region,
        ),
        graph("CPU and memory (%; CPU is summed over cores)", [m.instance("CPUUtilization", stat="Average"), m.instance("MemoryUtilization", stat="Average")], region),
    ]


def variants_dashboard_body(w: Watched, region: str, alarm_arns: list[str]) -> dict:
    """Several variants (A/B, or a shadow): one line per variant in each graph."""
    metrics = [VariantMetrics(w.endpoint_name, v.name) for v in w.variants]
    stat = w.alarms.model_latency_percentile
    latency: list = []
    for i, m in enumerate(metrics):
        hidden, shown = m.latency_ms("ModelLatency", stat, f"model{i}")
        latency += [hidden, [{**shown[0], "label": f"{m.variant_name}: ModelLatency {stat} (ms)"}]]
    return placed(
        [
            graph("Invocations per variant (per minute): the traffic split", [m.invocations(stat="Sum", label=m.variant_name) for m in metrics], region),
            graph("5XX errors per variant (alarmed per production variant)", [m.errors_5xx(stat="Sum", label=m.variant_name) for m in metrics], region),
            graph("4XX errors per variant (client input)", [m.errors_4xx(stat="Sum", label=m.variant_name) for m in metrics], region),
            graph(f"Model latency per variant (ms, {stat})", latency, region),
            graph("Instances per variant (CPUUtilization samples per minute)", [m.instance("CPUUtilization", stat="SampleCount", label=m.variant_name) for m in metrics], region),
            *quality_widgets(w, region),
            {"type": "alarm", "properties": {"title": "Alarms of every production variant (they roll back a deployment in progress)", "alarms": alarm_arns}},
        ]
    )
