"""The local front's variants: weighted routing, TargetVariant, a sample copied to a shadow, and what SageMaker
records of each call (data capture files in S3, per-variant metrics in CloudWatch) written into the emulator.

What AWS does, and what this stands in for (shared FACTS.md, "Several production variants"):
- a request goes to a production variant drawn with probability weight / sum of weights, unless the caller names one
  with TargetVariant (header X-Amzn-SageMaker-Target-Variant); an unknown name is a ValidationError (HTTP 400);
  the response names the variant in x-Amzn-Invoked-Production-Variant;
- with a shadow variant, a copy of a sample of the requests (shadow weight / production weight) also goes to the
  shadow; only the production variant's answer returns to the caller;
- with data capture, sampled requests and responses land as JSON Lines under
  <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl, one object per call: captureData.endpointInput and
  endpointOutput ({observedContentType, mode, data, encoding}), eventMetadata ({eventId, inferenceTime, and
  inferenceId when the caller sent InferenceId}), eventVersion. Model Monitor joins ground truth on inferenceId when
  a record has one, else on eventId (developer guide, "Ingest Ground Truth labels and merge them with predictions").
  (SageMaker batches several records per file and writes every few minutes; here a file is written on flush.)
- SageMaker publishes Invocations, Invocation4XXErrors, Invocation5XXErrors and ModelLatency (µs) per
  EndpointName and VariantName to AWS/SageMaker; the front publishes the same names into the emulator on flush.

The exact wording of AWS's unknown-variant message is not checked here (no AWS account): the status and the error
code are what clients act on.
"""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

TARGET_VARIANT_HEADER = "X-Amzn-SageMaker-Target-Variant"
INVOKED_VARIANT_HEADER = "x-Amzn-Invoked-Production-Variant"
JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv",)


@dataclass(frozen=True)
class Route:
    """A variant the front can send to: its name, weight and worker (a ImageWorker's URL)."""

    name: str
    weight: float
    worker_url: str


class Router:
    """Chooses the production variant of each request, and whether the shadow gets a copy."""

    def __init__(self, production: list[Route], shadow: Route | None = None, seed: int | None = None):
        if not production or sum(r.weight for r in production) <= 0:
            raise ValueError("the front needs at least one production variant with a positive weight")
        self.production = {r.name: r for r in production}
        self.shadow = shadow
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        primary_weight = production[0].weight
        self.shadow_share = min(1.0, shadow.weight / primary_weight) if shadow and primary_weight else 0.0

    def choose(self, target: str | None) -> Route:
        """TargetVariant wins; else a draw by weight. KeyError for a name that is no production variant."""
        if target is not None:
            return self.production[target]
        routes = list(self.production.values())
        with self._lock:
            return self._random.choices(routes, weights=[r.weight for r in routes])[0]

    def copies_to_shadow(self) -> bool:
        if self.shadow is None:
            return False
        with self._lock:
            return self._random.random() < self.shadow_share


def unknown_variant_message(name: str, endpoint_name: str) -> str:
    return f"Variant {name} does not exist on endpoint {endpoint_name}."  # the wording main's front used (AWS's exact text is not checked here)


def _encoded(body: bytes, content_type: str) -> tuple[str, str]:
    """Capture stores JSON and CSV bodies as text, others as base64 (CaptureContentTypeHeader)."""
    import base64

    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in JSON_TYPES:
        return body.decode("utf-8", "replace"), "JSON"
    if kind in CSV_TYPES:
        return body.decode("utf-8", "replace"), "CSV"
    return base64.b64encode(body).decode(), "BASE64"


def capture_record(body: bytes, content_type: str, answer: bytes, answer_type: str, when: datetime, inference_id: str | None = None) -> dict:
    data_in, enc_in = _encoded(body, content_type)
    data_out, enc_out = _encoded(answer, answer_type)
    metadata = {"eventId": str(uuid.uuid4()), **({"inferenceId": inference_id} if inference_id else {})}
    return {
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data_in, "encoding": enc_in},
            "endpointOutput": {"observedContentType": answer_type, "mode": "OUTPUT", "data": data_out, "encoding": enc_out},
        },
        "eventMetadata": {**metadata, "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"},
        "eventVersion": "0",
    }


@dataclass
class Recorder:
    """Capture records and metrics per variant, flushed into the emulator's S3 and CloudWatch (boto3 clients)."""

    endpoint_name: str
    capture_destination: str | None = None  # s3://bucket/prefix (DestinationS3Uri), None: no capture
    sampling_percentage: int = 100
    s3: object | None = None
    cloudwatch: object | None = None
    seed: int | None = None
    _records: dict = field(default_factory=lambda: defaultdict(list))
    _metrics: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(list)))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self._random = random.Random(self.seed)

    def record(
        self, variant: str, body: bytes, content_type: str, status: int, answer: bytes, answer_type: str, seconds: float, inference_id: str | None = None
    ) -> None:
        when = datetime.now(timezone.utc)
        with self._lock:
            metrics = self._metrics[variant]
            metrics["Invocations"].append(1.0)
            metrics["Invocation4XXErrors"].append(1.0 if 400 <= status < 500 else 0.0)
            metrics["Invocation5XXErrors"].append(1.0 if status >= 500 or status == 0 else 0.0)
            if status < 400:
                metrics["ModelLatency"].append(seconds * 1e6)
            if self.capture_destination and status < 400 and self._random.random() * 100 < self.sampling_percentage:
                self._records[variant].append(capture_record(body, content_type, answer, answer_type, when, inference_id))

    def flush(self) -> list[str]:
        """Write what was recorded: one capture file per variant, one PutMetricData per variant. The keys written."""
        with self._lock:
            records, self._records = self._records, defaultdict(list)
            metrics, self._metrics = self._metrics, defaultdict(lambda: defaultdict(list))
        keys = []
        now = datetime.now(timezone.utc)
        if self.s3 is not None and self.capture_destination:
            bucket, _, prefix = self.capture_destination.removeprefix("s3://").partition("/")
            for variant, lines in records.items():
                key = f"{prefix.rstrip('/')}/{self.endpoint_name}/{variant}/{now:%Y/%m/%d/%H}/{now:%M-%S-%f}-{uuid.uuid4().hex[:8]}.jsonl".lstrip("/")
                self.s3.put_object(Bucket=bucket, Key=key, Body="\n".join(json.dumps(r) for r in lines).encode() + b"\n")
                keys.append(f"s3://{bucket}/{key}")
        if self.cloudwatch is not None:
            for variant, by_name in metrics.items():
                data = []
                for name, values in by_name.items():
                    if not values:
                        continue
                    unit = "Microseconds" if name == "ModelLatency" else "None"
                    stats = {"SampleCount": float(len(values)), "Sum": float(sum(values)), "Minimum": float(min(values)), "Maximum": float(max(values))}
                    data.append(
                        {
                            "MetricName": name,
                            "Dimensions": [{"Name": "EndpointName", "Value": self.endpoint_name}, {"Name": "VariantName", "Value": variant}],
                            "Timestamp": now,
                            "StatisticValues": stats,
                            "Unit": unit,
                        }
                    )
                if data:
                    self.cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data)
        return keys


def timed(call) -> tuple[object, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start
