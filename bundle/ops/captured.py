"""What the endpoint captured and what its callers labelled, read as `python -m bundle monitor` needs them: SageMaker's
capture records (JSON lines with captureData.endpointInput/endpointOutput and eventMetadata, from S3 or a folder, bodies
read with the model's own request parser) and Model Monitor's ground-truth lines (groundTruthData, eventMetadata.eventId)."""
from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bundle.errors import BundleError
from bundle.names import split_s3_uri


@dataclass
class Captured:
    """One captured call: its id (InferenceId, else the eventId), variant, the rows it sent, the predictions it got."""

    record_id: str
    variant: str
    rows: np.ndarray  # (n, features)
    predictions: list[str]  # the model's predictions, as text (labels compare as text)
    names: list[str] = field(default_factory=list)  # the class names the answer gave, when it gave them


def _decoded(part: dict) -> str | bytes:
    data = part.get("data", "")
    return base64.b64decode(data) if part.get("encoding") == "BASE64" else data


def _predictions(answer, content_type: str) -> tuple[list[str], list[str]]:
    """The predictions (and class names) of one answer, in every format the model writes (model/inference.py)."""
    media = (content_type or "application/json").split(";")[0].strip().lower()
    text = answer.decode("utf-8") if isinstance(answer, bytes) and media != "application/x-npy" else answer
    if media == "application/json":
        document = json.loads(text)
        return [str(p) for p in document["predictions"]], [str(n) for n in document.get("labels") or []]
    if media == "text/csv":
        return [line.split(",", 1)[0] for line in text.splitlines() if line.strip()], []
    if media == "application/jsonlines":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        return [str(line["prediction"]) for line in lines], [str(line["label"]) for line in lines if "label" in line]
    if media == "application/x-npy":
        import io

        return [str(p) for p in np.load(io.BytesIO(answer if isinstance(answer, bytes) else answer.encode()), allow_pickle=False).tolist()], []
    raise BundleError(f"captured answer of type {content_type!r}: not one the model writes")


def _rows(body, content_type: str, feature_names: tuple[str, ...]) -> np.ndarray:
    """The rows of one request, parsed by the model's own parser."""
    from model.inference import ServedModel, _decode

    reader = ServedModel(estimator=None, classes=np.array([]), feature_names=feature_names, class_names=None, labels=None)
    return np.asarray(_decode(body, content_type, reader), dtype=np.float64)


def parse_record(line: dict, variant: str, feature_names: tuple[str, ...]) -> Captured | None:
    """A capture record, or None for one without both the request and the answer."""
    data = line.get("captureData") or {}
    request, answer = data.get("endpointInput"), data.get("endpointOutput")
    if not request or not answer:
        return None
    metadata = line.get("eventMetadata") or {}
    record_id = metadata.get("inferenceId") or metadata.get("eventId")
    rows = _rows(_decoded(request), request.get("observedContentType", ""), feature_names)
    predictions, names = _predictions(_decoded(answer), answer.get("observedContentType", ""))
    return Captured(record_id, variant, rows, predictions, names)


@dataclass
class CaptureSet:
    records: list[Captured]
    skipped: int  # lines without both a request and an answer (or unreadable)

    def variants(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.records))

    def of(self, variant: str) -> list[Captured]:
        return [r for r in self.records if r.variant == variant]


def _parse_lines(lines: list[tuple[str, str]], feature_names: tuple[str, ...]) -> CaptureSet:
    records, skipped = [], 0
    for variant, text in lines:
        for raw in text.splitlines():
            if not raw.strip():
                continue
            try:
                parsed = parse_record(json.loads(raw), variant, feature_names)
            except Exception:  # a line the model would not have answered: not a prediction to judge
                parsed = None
            if parsed is None:
                skipped += 1
            else:
                records.append(parsed)
    return CaptureSet(records, skipped)


def captured_from_directory(directory: Path, default_variant: str, feature_names: tuple[str, ...]) -> CaptureSet:
    """Every .jsonl under `directory`; a file under <variant>/yyyy/mm/dd/hh/ is that variant's, a flat one the default's."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"--captured {directory}: no such directory")
    lines = []
    for path in sorted(directory.rglob("*.jsonl")):
        parts = path.relative_to(directory).parts
        lines.append((parts[0] if len(parts) >= 6 else default_variant, path.read_text()))
    return _parse_lines(lines, feature_names)


def s3_objects(s3, location: str) -> list[tuple[str, str]]:
    """(key relative to the location, body) of every object under an s3:// location."""
    bucket, prefix = split_s3_uri(location)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
            found.append((item["Key"][len(prefix) :], body))
    return found


def captured_from_s3(s3, location: str, feature_names: tuple[str, ...]) -> CaptureSet:
    """The endpoint's capture folder: <location><variant>/yyyy/mm/dd/hh/<file>.jsonl."""
    return _parse_lines([(relative.split("/", 1)[0], body) for relative, body in s3_objects(s3, location) if relative.endswith(".jsonl")], feature_names)


# --- ground truth -------------------------------------------------------------------------------------------------


def ground_truth_record(record_id: str, labels: list) -> dict:
    """One label line as Model Monitor's merge reads it: one label as CSV text, several (a multi-row request) as JSON."""
    data, encoding = (str(labels[0]), "CSV") if len(labels) == 1 else (json.dumps(labels), "JSON")
    return {"groundTruthData": {"data": data, "encoding": encoding}, "eventMetadata": {"eventId": record_id}, "eventVersion": "0"}


def labels_of(line: dict) -> tuple[str, list[str]]:
    data = line["groundTruthData"]
    text = data["data"]
    values = json.loads(text) if data.get("encoding") == "JSON" else [v for v in text.split(",")]
    values = values if isinstance(values, list) else [values]
    return line["eventMetadata"]["eventId"], [str(v) for v in values]


def ground_truth_from_text(texts: list[str]) -> dict[str, list[str]]:
    found = {}
    for text in texts:
        for raw in text.splitlines():
            if raw.strip():
                record_id, labels = labels_of(json.loads(raw))
                found[record_id] = labels
    return found


def ground_truth_key(location: str, when: float | None = None) -> tuple[str, str]:
    """(bucket, key) of a new label file under the location's yyyy/mm/dd/hh/ folder of `when` (UTC)."""
    bucket, prefix = split_s3_uri(location)
    stamp = time.gmtime(when if when is not None else time.time())
    return bucket, f"{prefix}{time.strftime('%Y/%m/%d/%H', stamp)}/labels-{time.strftime('%M%S', stamp)}-{uuid.uuid4().hex[:8]}.jsonl"
