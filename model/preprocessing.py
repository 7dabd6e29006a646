"""The preprocessing container's handlers: the first stage of the inference pipeline (a SageMaker PipelineModel's
containers run in series, each one's answer the next one's request).

Shipped as `code/preprocessing.py` in `preprocessing.tar.gz`, with `code/inference.py` beside it (whose request
decoding and checks it reuses, so both stages judge a request alike) and `preprocessing.json` (the model's feature
names, in the model's column order, and the unit of measurements sent without one). It runs inside the serving image
under its single-model worker (SAGEMAKER_PROGRAM=preprocessing.py) and imports nothing from `bundle/`.

What it accepts (every request format of the model, plus names and units):
  application/json  records with named features, in any order: {"instances": [{"sepal_length": 51, ...}]} or a bare
                    list of records; a name may carry its unit (`sepal_length_mm`, `petal_width_cm`); a document's
                    "unit" ("cm" or "mm") applies to the names without one; rows of numbers are in the model's order
  text/csv          an optional header of feature names (any order, with or without a unit suffix), then rows
  application/jsonlines, application/x-npy   records or rows, as the model reads them
Units: a named feature without its own unit (no suffix, no document "unit") is in the configured unit
(preprocessing.unit); plain rows of numbers (JSON rows, CSV without a header, npy) are the model's own format, in
centimetres, whatever the configured unit, unless their JSON document says "unit". Every value is checked: a number (not a string, boolean or
null), finite, within float32's range, and not negative (a length). What it answers: text/csv, one row of the model's
features in centimetres per record, no header, whatever the Accept header says (its reader is the next container, never
the client; the Model also sets SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT=text/csv for it, as AWS's own scikit-learn
preprocessing examples do). A bad request is a 4xx JSON {"error", "message", "stage": "preprocessing"}, never a 5xx.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass

import numpy as np

import inference
from inference import CSV, JSON, JSONLINES, NPY, ClientError, Response

CONFIG_FILENAME = "preprocessing.json"
STAGE = "preprocessing"
# Centimetres per unit's value: a value in millimetres is divided by 10.
DIVISORS = {"cm": 1.0, "mm": 10.0}
MODEL_UNIT = "cm"  # what the model reads, and the unit of plain rows (the model's own format)


@dataclass(frozen=True)
class Features:
    """What the model reads: its feature names in column order (the model's manifest), and the default unit."""

    feature_names: tuple[str, ...]
    unit: str

    @property
    def n_features(self) -> int:
        return len(self.feature_names)


def model_fn(model_dir: str) -> Features:
    with open(os.path.join(model_dir, CONFIG_FILENAME), encoding="utf-8") as f:
        config = json.load(f)
    if config["unit"] not in DIVISORS:
        raise ValueError(f"{CONFIG_FILENAME}: unit {config['unit']!r} is not one of {', '.join(DIVISORS)}")
    return Features(tuple(config["feature_names"]), config["unit"])


def transform_fn(features: Features, body, content_type, accept):
    """Decode, name, convert and check; answer the model's rows as CSV. The Accept header is not the client's concern here."""
    try:
        matrix = to_centimetres(body, content_type, features)
    except ClientError as e:
        error = json.dumps({"error": e.error, "message": e.message, "stage": STAGE})
        return Response(response=error, status=e.status, mimetype=JSON)
    return Response(response=as_csv(matrix), status=200, mimetype=CSV)


def as_csv(matrix: np.ndarray) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in matrix.tolist())


# --- decoding --------------------------------------------------------------------------------------


def to_centimetres(body, content_type, features: Features) -> np.ndarray:
    """The request's rows as the model's columns, in centimetres, checked."""
    if body is None:
        body = b""
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if size > inference.MAX_BODY_BYTES:
        raise ClientError(413, "PayloadTooLarge", f"body is {size} bytes; the limit is {inference.MAX_BODY_BYTES} bytes (6 MB)")
    media = inference._media_type(content_type or JSON)
    if media == JSON:
        matrix, divisors = _from_json(inference._text(body, "MalformedJSON", "JSON"), features)
    elif media == CSV:
        matrix, divisors = _from_csv(inference._text(body, "MalformedCSV", "CSV"), features)
    elif media == JSONLINES:
        matrix, divisors = _from_jsonlines(inference._text(body, "MalformedJSON", "JSON Lines"), features)
    elif media == NPY:
        raw = body if isinstance(body, (bytes, bytearray)) else body.encode("utf-8", "surrogatepass")
        matrix, divisors = inference._rows_from_npy(raw, features), _rows_unit(features)
    else:
        raise ClientError(415, "UnsupportedContentType", f"Content-Type {content_type!r} is not supported; use {JSON}, {CSV}, {JSONLINES} or {NPY}")
    centimetres = inference._check_matrix(matrix, features) / divisors  # checked as sent: a message quotes the client's value
    negative = centimetres < 0
    if negative.any():
        row, column = (int(v) for v in np.argwhere(negative)[0])
        raise ClientError(400, "ValueOutOfRange", f"row {row}: feature {features.feature_names[column]!r} is {centimetres[row, column]:g} cm; a length cannot be negative")
    return centimetres


def _rows_unit(features: Features, unit: float = DIVISORS[MODEL_UNIT]) -> np.ndarray:
    """Rows of numbers are the model's own format, in centimetres, unless their JSON document says otherwise."""
    return np.full(features.n_features, unit)


def _unit(unit) -> float:
    if unit not in DIVISORS:
        raise ClientError(400, "UnknownUnit", f"unit {unit!r} is not one of {', '.join(DIVISORS)}")
    return DIVISORS[unit]


def _parse_json(text: str, where: str = "body is not valid JSON") -> object:
    try:
        return json.loads(text)
    except ValueError as e:
        raise ClientError(400, "MalformedJSON", f"{where}: {e}") from None
    except RecursionError:  # a few KB of nested brackets exhaust the parser's stack
        raise ClientError(400, "MalformedJSON", f"{where}: nested too deeply") from None


def _from_json(text: str, features: Features) -> tuple[np.ndarray, np.ndarray]:
    document = _parse_json(text)
    unit = None  # the document's own unit, if it says one
    if isinstance(document, dict):
        if "unit" in document:
            unit = _unit(document["unit"])
        if "instances" not in document:
            raise ClientError(400, "InvalidInput", 'JSON object must have an "instances" list')
        document = document["instances"]
    if not isinstance(document, list):
        raise ClientError(400, "InvalidInput", '"instances" must be a list of rows')
    return _rows_or_records(document, features, unit, strict_types="true" in text or "false" in text)


def _from_jsonlines(text: str, features: Features) -> tuple[np.ndarray, np.ndarray]:
    rows = [_parse_json(line, f"line {n} is not valid JSON") for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    return _rows_or_records(rows, features, None, strict_types="true" in text or "false" in text)


def _rows_or_records(document: list, features: Features, unit: float | None, strict_types: bool) -> tuple[np.ndarray, np.ndarray]:
    """Records (named features) take the document's unit, else the configured one; rows the document's, else cm."""
    if not document:
        raise ClientError(400, "NoRows", "the request has no rows")
    if isinstance(document[0], dict):
        return _from_records(document, features, unit or DIVISORS[features.unit])
    return inference._to_matrix(document, features, strict_types), _rows_unit(features, unit or DIVISORS[MODEL_UNIT])


def _name(key: str, features: Features, row: int) -> tuple[str, float | None]:
    """A feature's name and its key's own unit (None: the request's), from `petal_width` or `petal_width_mm`."""
    if key in features.feature_names:
        return key, None
    base, _, suffix = key.rpartition("_")
    if base in features.feature_names and suffix in DIVISORS:
        return base, DIVISORS[suffix]
    expected = list(features.feature_names)
    raise ClientError(400, "UnknownFeature", f"row {row}: unknown feature {key!r}; expected {expected}, each optionally suffixed _cm or _mm")


def _from_records(records: list, features: Features, unit: float) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ClientError(400, "InvalidInput", f"row {i}: mix of records and lists; use one form")
        values: dict[str, float] = {}
        for key, value in record.items():
            name, own = _name(key, features, i)
            if name in values:
                raise ClientError(400, "DuplicateFeature", f"row {i}: feature {name!r} is given twice ({key!r} and another unit of it)")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ClientError(400, "NonNumericValue", f"row {i}: value {value!r} is not a number")
            values[name] = float(value) / (own or unit)
        missing = [n for n in features.feature_names if n not in values]
        if missing:
            raise ClientError(400, "MissingFeature", f"row {i}: missing feature {missing[0]!r}; expected {list(features.feature_names)}")
        rows.append([values[n] for n in features.feature_names])
    # Converted per value already (each may carry its own unit): the rows are in centimetres.
    return np.array(rows, dtype=np.float64), np.ones(features.n_features)


def _from_csv(text: str, features: Features) -> tuple[np.ndarray, np.ndarray]:
    if "\x00" in text:  # Python 3.10's csv module raises on NUL (3.11 reads it): one answer on every Python
        raise ClientError(400, "MalformedCSV", "body is not valid CSV: it contains a NUL character")
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(lines)]
    except csv.Error as e:
        raise ClientError(400, "MalformedCSV", f"body is not valid CSV: {e}") from None
    header = rows[0] if rows and not any(_is_number(cell) for cell in rows[0]) else None
    if header is None:
        if not rows:
            raise ClientError(400, "NoRows", "the request has no rows")
        numbers = [[inference._csv_number(v, i) for v in row] for i, row in enumerate(rows)]
        return inference._to_matrix(numbers, features, strict_types=False), _rows_unit(features)
    named = [_name(cell, features, 0) for cell in header]
    names = [name for name, _ in named]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ClientError(400, "DuplicateFeature", f"the header names feature {duplicated[0]!r} twice")
    missing = [n for n in features.feature_names if n not in names]
    if missing:
        raise ClientError(400, "MissingFeature", f"the header has no feature {missing[0]!r}; expected {list(features.feature_names)}")
    body = rows[1:]
    if not body:
        raise ClientError(400, "NoRows", "the request has no rows")
    order = [names.index(n) for n in features.feature_names]
    matrix = []
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise ClientError(400, "WrongFeatureCount", f"row {i}: expected {len(header)} values (the header's), got {len(row)}")
        numbers = [inference._csv_number(v, i) for v in row]
        matrix.append([numbers[j] for j in order])
    divisors = [named[j][1] or DIVISORS[features.unit] for j in order]
    return np.array(matrix, dtype=np.float64), np.array(divisors)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
