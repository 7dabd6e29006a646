"""Inference handlers for the AWS prebuilt scikit-learn container (user-module contract).

Shipped as `code/inference.py` inside model.tar.gz and picked by SAGEMAKER_PROGRAM. It runs inside
the serving image, so it is self-contained: the standard library, numpy and joblib only, and
nothing from `bundle/`.

Two servers run this module, and the image picks one by the environment variable SAGEMAKER_MULTI_MODEL:

  single-model (unset)  sagemaker-containers' Flask worker under gunicorn. It turns *every* exception raised in a
                        hook into HTTP 500 (counted as Invocation5XXErrors, which trips rollback alarms); the only
                        way to answer a client error with 4xx is to return the worker's own Response object, which
                        `transform_fn` can do for every stage of the request.
  multi-model (set)     Java multi-model-server with sagemaker-inference's Transformer. A returned Response is not
                        serialisable there (every request would get 503); a client error is *raised* as
                        sagemaker-inference's GenericInferenceToolkitError, which the Transformer turns into its
                        status with the message as the body, and an answer is returned as (bytes, content type).
Both answer a bad request with the same status and the same JSON body {"error": ..., "message": ...}.

Model directories: a single-model artifact carries its feature and class names in `manifest.json`; a multi-model
archive carries them in `model-manifest.json` instead, because a root `manifest.json` makes multi-model-server's
registration fail (it takes the file for its own legacy manifest). Either is read.

Request formats (Content-Type, parameters such as `; charset=utf-8` accepted):
  application/json  {"instances": [[f1, f2, f3, f4], ...]}   (rows)
                    [[f1, f2, f3, f4], ...]                    (a bare list of rows)
                    {"instances": [{"sepal_length": ..., ...}]} or a bare list of such records
  text/csv          one row per line, optional header line of feature names
  application/x-npy a numpy array of shape (rows, features) or (features,), as the SageMaker Python SDK's
                    SKLearnPredictor sends by default; loaded with pickles refused
  application/jsonlines one row (a list, or a record of named features) per line
Response formats (Accept):
  application/json  (default) {"predictions": [...], "probabilities": [[...]], "labels": [...]}
  text/csv          one line per row: the prediction, then the class probabilities
  application/jsonlines one object per row: {"prediction": ..., "probabilities": [...], "label": ...}
  application/x-npy the predictions as a 1-D array (what SKLearnPredictor's NumpyDeserializer expects);
                    `application/x-npy; output=probabilities` for the (rows, classes) probabilities instead.
                    Written without pickles (labels that are strings become a unicode array), so a client
                    never needs allow_pickle.

What the image's worker (sagemaker-containers) does before this code runs, and why it matters here:
for exactly `application/json` or `text/csv` it hands the body over as *text*, decoded from UTF-8 with
replacement characters (U+FFFD) for bytes that are not UTF-8; any other type (with parameters too, or
npy) arrives as bytes. So a malformed body is recognised by its replacement characters, and the size
limit is counted on the UTF-8 bytes, not on characters. Under multi-model-server, sagemaker-inference decodes the
same two types *strictly*: a body that is not UTF-8 ends in its own 500 before this code runs (nothing here can
change that), and multi-model-server itself refuses a body over its max_request_size (6 MiB) with an empty 413.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from http import HTTPStatus

import joblib
import numpy as np

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
JSONLINES = "application/jsonlines"
# What `Accept: application/x-npy; output=...` may ask for; the first is the default.
NPY_OUTPUTS = ("predictions", "probabilities")
# The real-time InvokeEndpoint payload limit.
MAX_BODY_BYTES = 6 * 1024 * 1024
MODEL_FILENAME = "model.joblib"
FLOAT32_MAX = float(np.finfo(np.float32).max)
MANIFEST_FILENAME = "manifest.json"  # single-model artifacts
MULTI_MODEL_MANIFEST_FILENAME = "model-manifest.json"  # multi-model archives (MMS refuses a root manifest.json)
# The response is a fresh tree of lists with no cycles: skipping json's cycle check saves ~15% of encoding.
_RESPONSE_ENCODER = json.JSONEncoder(check_circular=False)

try:  # Inside the serving image: the worker's Flask response, so a 4xx stays a 4xx.
    # `worker` is a *name* in the package's public `beta.framework` namespace (bound to the private module
    # `_worker`), not a submodule: `from sagemaker_containers.beta.framework.worker import Response` fails
    # there, and any other class makes Flask answer every request with HTTP 500.
    from sagemaker_containers.beta.framework import worker as _worker

    Response = _worker.Response
except ImportError:  # Anywhere else (unit tests calling the hooks directly): the same surface, no Flask.

    class Response:  # type: ignore[no-redef]
        def __init__(self, response=b"", status=200, mimetype=JSON):
            self._body = response.encode("utf-8") if isinstance(response, str) else response
            self.status_code = status
            self.mimetype = mimetype

        def get_data(self) -> bytes:
            return self._body


try:  # Inside the serving image: the error type sagemaker-inference turns into a status under multi-model-server.
    from sagemaker_inference.errors import GenericInferenceToolkitError as ToolkitError
except ImportError:  # Anywhere else: the same constructor and attributes.

    class ToolkitError(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code, message=None, phrase=None):
            self.status_code = status_code
            self.message = message or "Invalid Request"
            self.phrase = phrase or self.message
            super().__init__(status_code, self.message, self.phrase)


def under_multi_model_server() -> bool:
    """The image serves with multi-model-server when SAGEMAKER_MULTI_MODEL is set to anything (its own test)."""
    return bool(os.environ.get("SAGEMAKER_MULTI_MODEL"))


class ClientError(Exception):
    """A request the model cannot answer because of the request itself: always a 4xx."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True)
class ServedModel:
    estimator: object
    classes: np.ndarray  # the estimator's class labels, indexed by probability column
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    labels: np.ndarray | None  # class_names as an array, so a batch's labels are one numpy lookup

    @property
    def n_features(self) -> int:
        return len(self.feature_names)


def model_fn(model_dir: str) -> ServedModel:
    """Load once per worker: everything that does not depend on the request happens here."""
    estimator = joblib.load(os.path.join(model_dir, MODEL_FILENAME))
    if hasattr(estimator, "n_jobs"):
        estimator.n_jobs = 1  # no thread-pool start-up inside each predict
    manifest = {}
    for filename in (MANIFEST_FILENAME, MULTI_MODEL_MANIFEST_FILENAME):
        manifest_path = os.path.join(model_dir, filename)
        if os.path.exists(manifest_path):
            with open(manifest_path, encoding="utf-8") as f:
                manifest = json.load(f)
            break
    n_features = int(estimator.n_features_in_)
    names = manifest.get("feature_names") or [f"f{i}" for i in range(n_features)]
    class_names = manifest.get("class_names")
    return ServedModel(
        estimator=estimator,
        classes=np.asarray(estimator.classes_),
        feature_names=tuple(names),
        class_names=tuple(class_names) if class_names else None,
        labels=np.array(class_names, dtype=object) if class_names else None,
    )


def transform_fn(model: ServedModel, body, content_type, accept):
    """The one hook: decode, predict, encode; client errors become 4xx JSON answers under either server."""
    try:
        response_type, output = _response_type(accept)
        rows = _decode(body, content_type, model)
        probabilities = model.estimator.predict_proba(rows)
        winners = probabilities.argmax(axis=1)
        payload = _encode(winners, probabilities, model, response_type, output)
    except ClientError as e:
        error = json.dumps({"error": e.error, "message": e.message})
        if under_multi_model_server():
            raise ToolkitError(e.status, error, HTTPStatus(e.status).phrase) from None
        return Response(response=error, status=e.status, mimetype=JSON)
    if under_multi_model_server():
        return (payload.encode("utf-8") if isinstance(payload, str) else payload), response_type
    return Response(response=payload, status=200, mimetype=response_type)


# --- content negotiation -------------------------------------------------------------------------


def _media_type(header: str) -> str:
    """'application/json; charset=utf-8' -> 'application/json'."""
    return header.split(";", 1)[0].strip().lower()


def _response_type(accept) -> tuple[str, str | None]:
    """The media type to answer in, and for npy which array (`output=` in the Accept header's parameters)."""
    if not accept:
        return JSON, None
    offers = []
    for position, part in enumerate(accept.split(",")):
        media, _, params = part.partition(";")
        quality, options = 1.0, {}
        for param in params.split(";"):
            key, _, value = param.partition("=")
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            elif key:
                options[key] = value
        offers.append((-quality, position, media.strip().lower(), options))
    for negative_quality, _, media, options in sorted(offers, key=lambda offer: offer[:2]):
        if negative_quality >= 0:
            continue
        if media in (JSON, "*/*", "application/*"):
            return JSON, None
        if media in (CSV, "text/*"):
            return CSV, None
        if media == JSONLINES:
            return JSONLINES, None
        if media == NPY:
            output = options.get("output", NPY_OUTPUTS[0])
            if output not in NPY_OUTPUTS:
                raise ClientError(406, "UnsupportedAccept", f"Accept {accept!r}: output={output!r} is not one of {', '.join(NPY_OUTPUTS)}")
            return NPY, output
    raise ClientError(406, "UnsupportedAccept", f"Accept {accept!r} is not supported; use {JSON}, {CSV}, {JSONLINES} or {NPY}")


# --- decoding --------------------------------------------------------------------------------------


def _decode(body, content_type, model: ServedModel) -> np.ndarray:
    if body is None:
        body = b""
    # The worker hands JSON and CSV over as text: count the bytes the client sent, not characters.
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if size > MAX_BODY_BYTES:
        raise ClientError(413, "PayloadTooLarge", f"body is {size} bytes; the limit is {MAX_BODY_BYTES} bytes (6 MB)")
    media = _media_type(content_type or JSON)
    if media == JSON:
        return _rows_from_json(_text(body, "MalformedJSON", "JSON"), model)
    if media == CSV:
        return _rows_from_csv(_text(body, "MalformedCSV", "CSV"), model)
    if media == JSONLINES:
        return _rows_from_jsonlines(_text(body, "MalformedJSON", "JSON Lines"), model)
    if media == NPY:
        return _rows_from_npy(body if isinstance(body, (bytes, bytearray)) else body.encode("utf-8", "surrogatepass"), model)
    raise ClientError(415, "UnsupportedContentType", f"Content-Type {content_type!r} is not supported; use {JSON}, {CSV}, {JSONLINES} or {NPY}")


def _text(body, error: str, what: str) -> str:
    """The body as text; bytes that are not UTF-8 are a client error, whoever decoded them."""
    if isinstance(body, str):
        # The worker's decoding replaced each malformed byte sequence by U+FFFD. A genuine U+FFFD can only
        # sit inside a JSON string or a CSV cell, where no feature value can be: refusing it loses nothing.
        if "\ufffd" in body:
            raise ClientError(400, error, f"body is not valid {what}: it is not UTF-8 text")
        return body
    try:
        return bytes(body).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ClientError(400, error, f"body is not valid {what}: it is not UTF-8 text ({e.reason} at byte {e.start})") from None


def _rows_from_json(body: str, model: ServedModel) -> np.ndarray:
    try:
        document = json.loads(body)
    except ValueError as e:
        raise ClientError(400, "MalformedJSON", f"body is not valid JSON: {e}") from None
    except RecursionError:  # a few KB of nested brackets exhaust the parser's stack
        raise ClientError(400, "MalformedJSON", "body is not valid JSON for this model: nested too deeply") from None
    if isinstance(document, dict):
        if "instances" not in document:
            raise ClientError(400, "InvalidInput", 'JSON object must have an "instances" list')
        document = document["instances"]
    if not isinstance(document, list):
        raise ClientError(400, "InvalidInput", '"instances" must be a list of rows')
    if not document:
        raise ClientError(400, "NoRows", "the request has no rows")
    if isinstance(document[0], dict):
        document = _rows_from_records(document, model)
    # Booleans are JSON literals numpy would silently turn into 1.0/0.0: check values one by one then.
    return _to_matrix(document, model, strict_types="true" in body or "false" in body)


def _rows_from_jsonlines(body: str, model: ServedModel) -> np.ndarray:
    rows = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as e:
            raise ClientError(400, "MalformedJSON", f"line {number} is not valid JSON: {e}") from None
        except RecursionError:
            raise ClientError(400, "MalformedJSON", f"line {number} is nested too deeply") from None
    if not rows:
        raise ClientError(400, "NoRows", "the request has no rows")
    if isinstance(rows[0], dict):
        rows = _rows_from_records(rows, model)
    return _to_matrix(rows, model, strict_types="true" in body or "false" in body)


def _rows_from_records(records: list, model: ServedModel) -> list:
    names = model.feature_names
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise ClientError(400, "InvalidInput", f"row {i}: mix of records and lists; use one form")
        unknown = sorted(set(record) - set(names))
        if unknown:
            raise ClientError(400, "UnknownFeature", f"row {i}: unknown feature {unknown[0]!r}; expected {list(names)}")
        missing = [n for n in names if n not in record]
        if missing:
            raise ClientError(400, "MissingFeature", f"row {i}: missing feature {missing[0]!r}; expected {list(names)}")
        rows.append([record[n] for n in names])
    return rows


def _rows_from_csv(text: str, model: ServedModel) -> np.ndarray:
    if "\x00" in text:  # Python 3.10's csv module raises on NUL (3.11 reads it): one answer on every Python
        raise ClientError(400, "MalformedCSV", "body is not valid CSV: it contains a NUL character")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].replace(" ", "").split(",") == list(model.feature_names):
        lines = lines[1:]  # a header row of our own feature names
    if not lines:
        raise ClientError(400, "NoRows", "the request has no rows")
    try:
        rows = list(csv.reader(lines))
    except csv.Error as e:
        raise ClientError(400, "MalformedCSV", f"body is not valid CSV: {e}") from None
    try:
        matrix = np.array(rows, dtype=np.float64)
    except ValueError:
        matrix = None  # ragged or non-numeric: _to_matrix names the first offending value
    if matrix is None or matrix.ndim != 2:
        return _to_matrix([[_csv_number(v, i) for v in row] for i, row in enumerate(rows)], model, strict_types=False)
    return _check_matrix(matrix, model)


def _rows_from_npy(body: bytes, model: ServedModel) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError, TypeError) as e:  # not npy, truncated, or an object array (pickles)
        raise ClientError(400, "MalformedNPY", f"body is not a numpy .npy array without pickles: {e}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "iuf":
        kind = getattr(getattr(array, "dtype", None), "name", type(array).__name__)
        raise ClientError(400, "NonNumericValue", f"the array's dtype is {kind}; send integers or floats")
    if array.ndim == 1:
        array = array.reshape(1, -1)  # one row, as the SDK sends a single sample
    if array.ndim != 2:
        raise ClientError(400, "WrongFeatureCount", f"expected rows of {model.n_features} features, got an array of shape {array.shape}")
    return _check_matrix(array.astype(np.float64), model)


def _csv_number(value: str, row: int):
    try:
        return float(value)
    except ValueError:
        raise ClientError(400, "NonNumericValue", f"row {row}: value {value!r} is not a number") from None


# --- validation ------------------------------------------------------------------------------------


def _to_matrix(rows: list, model: ServedModel, strict_types: bool) -> np.ndarray:
    """Fast path: numpy converts well-formed rows at C speed; a slow scan explains anything else."""
    if not strict_types:
        try:
            matrix = np.array(rows)
        except ValueError:  # ragged nesting
            matrix = None
        if matrix is not None and matrix.ndim == 2 and matrix.dtype.kind in "fi":
            return _check_matrix(matrix.astype(np.float64, copy=False), model)
    _explain_bad_rows(rows, model)
    return _check_matrix(np.array(rows, dtype=np.float64), model)


def _explain_bad_rows(rows: list, model: ServedModel) -> None:
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise ClientError(400, "InvalidInput", f"row {i}: expected a list of {model.n_features} numbers, got {_kind(row)}")
        if len(row) != model.n_features:
            raise ClientError(400, "WrongFeatureCount", f"row {i}: expected {model.n_features} features, got {len(row)}")
        for value in row:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ClientError(400, "NonNumericValue", f"row {i}: value {value!r} is not a number")


def _check_matrix(matrix: np.ndarray, model: ServedModel) -> np.ndarray:
    if matrix.shape[0] == 0:
        raise ClientError(400, "NoRows", "the request has no rows")
    if matrix.ndim != 2 or matrix.shape[1] != model.n_features:
        got = matrix.shape[1] if matrix.ndim == 2 else "not a list of rows"
        raise ClientError(400, "WrongFeatureCount", f"expected {model.n_features} features per row, got {got}")
    finite = np.isfinite(matrix)
    if not finite.all():
        row, column = (int(v) for v in np.argwhere(~finite)[0])
        raise ClientError(
            400, "NonFiniteValue", f"row {row}: feature {model.feature_names[column]!r} is {matrix[row, column]}; NaN and infinity are not allowed"
        )
    # Tree models compare in float32: a finite value beyond its range makes scikit-learn raise (a 500).
    in_range = np.abs(matrix) <= FLOAT32_MAX
    if not in_range.all():
        row, column = (int(v) for v in np.argwhere(~in_range)[0])
        raise ClientError(
            400, "ValueOutOfRange", f"row {row}: feature {model.feature_names[column]!r} is {matrix[row, column]}; values must be within ±{FLOAT32_MAX:.4g}"
        )
    return matrix


def _kind(value) -> str:
    return "null" if value is None else type(value).__name__


# --- encoding --------------------------------------------------------------------------------------


def _encode(winners: np.ndarray, probabilities: np.ndarray, model: ServedModel, media: str, output: str | None) -> str | bytes:
    """`winners` are probability-column indexes; the predictions are the estimator's labels for them."""
    predictions = model.classes[winners]
    if media == NPY:
        array = probabilities if output == "probabilities" else predictions
        if array.dtype == object:  # string labels: a unicode array loads without pickles
            array = array.astype(str)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        return buffer.getvalue()
    if media == CSV:
        return "".join(
            f"{p}," + ",".join(repr(x) for x in probs) + "\n" for p, probs in zip(predictions.tolist(), probabilities.tolist())
        )
    labels = model.labels[winners].tolist() if model.labels is not None else None
    if media == JSONLINES:
        lines = []
        for i, (p, probs) in enumerate(zip(predictions.tolist(), probabilities.tolist())):
            line = {"prediction": p, "probabilities": probs}
            if labels is not None:
                line["label"] = labels[i]
            lines.append(_RESPONSE_ENCODER.encode(line) + "\n")
        return "".join(lines)
    document = {"predictions": predictions.tolist(), "probabilities": probabilities.tolist()}
    if labels is not None:
        document["labels"] = labels
    return _RESPONSE_ENCODER.encode(document)
