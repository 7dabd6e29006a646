"""The request corpus: every kind of body a client can send, good and bad, with the answer it must get.

One list, replayed against the shipped hooks in-process (test_inference.py), the image's real worker over
HTTP and the runtime-API front through boto3 (test_image_worker.py). A good request gets 200 with
predictions; a bad one a 4xx JSON `{"error", "message"}` naming the problem; nothing gets a 5xx.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from bundle.ops.examples import EXAMPLES, expected_classes, instances_request

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
JSONLINES = "application/jsonlines"
NPY_PROBABILITIES = "application/x-npy; output=probabilities"
SIX_MB = 6 * 1024 * 1024
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@dataclass(frozen=True)
class Case:
    id: str
    body: bytes
    content_type: str = JSON
    accept: str | None = JSON
    status: int = 200
    error: str | None = None  # the 4xx body's "error"
    words: str = ""  # a phrase the 4xx message contains
    predictions: tuple[int, ...] = tuple(expected_classes())  # for a 200
    response_type: str = JSON  # the 200's media type (without parameters)


def _json(document) -> bytes:
    return json.dumps(document).encode()


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


ROWS = [e.features for e in EXAMPLES]
GOOD = [
    Case("json-instances", _json(instances_request())),
    Case("json-bare-rows", _json(ROWS)),
    Case("json-records", _json({"instances": [dict(zip(FEATURES, r)) for r in ROWS]})),
    Case("json-records-any-order", _json([dict(zip(reversed(FEATURES), reversed(r))) for r in ROWS])),
    Case("json-integers", _json({"instances": [[5, 3, 1, 0], ROWS[1], ROWS[2]]})),
    Case("json-charset", _json(instances_request()), content_type="application/json; charset=utf-8"),
    Case("json-mixed-case-type", _json(instances_request()), content_type="Application/JSON"),
    Case("json-accept-missing", _json(instances_request()), accept=None),
    Case("json-accept-any", _json(instances_request()), accept="*/*"),
    Case("json-accept-negotiated", _json(instances_request()), accept="text/html;q=0.9, application/json"),
    Case("json-accept-prefers-json", _json(instances_request()), accept="text/csv;q=0.1, application/json"),
    Case("json-to-csv", _json(instances_request()), accept=CSV, response_type=CSV),
    Case("csv-plain", b"5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n", content_type=CSV),
    Case("csv-header-crlf", b"sepal_length,sepal_width,petal_length,petal_width\r\n5.1,3.5,1.4,0.2\r\n6.2,2.9,4.3,1.3\r\n7.7,3.0,6.1,2.3", content_type=CSV),
    Case("csv-quoted-spaces", b'"5.1","3.5","1.4","0.2"\n6.2, 2.9, 4.3, 1.3\n\n7.7,3.0,6.1,2.3\n', content_type="text/csv; charset=utf-8"),
    Case("csv-to-csv", b"5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n", content_type=CSV, accept=CSV, response_type=CSV),
    Case("npy-rows", _npy(np.array(ROWS)), content_type=NPY),
    Case("npy-float32-rows", _npy(np.array(ROWS, dtype=np.float32)), content_type=NPY),
    Case("npy-one-sample", _npy(np.array(ROWS[2])), content_type=NPY, predictions=(2,)),
    Case("json-to-npy", _json(instances_request()), accept=NPY, response_type=NPY),
    # SKLearnPredictor's defaults: NumpySerializer's body, NumpyDeserializer's Accept.
    Case("npy-to-npy", _npy(np.array(ROWS)), content_type=NPY, accept=NPY, response_type=NPY),
    Case("npy-to-npy-probabilities", _npy(np.array(ROWS)), content_type=NPY, accept=NPY_PROBABILITIES, response_type=NPY),
    Case("jsonlines-rows", b"".join(_json(r) + b"\n" for r in ROWS), content_type=JSONLINES),
    Case("jsonlines-records", b"".join(_json(dict(zip(FEATURES, r))) + b"\n" for r in ROWS), content_type=JSONLINES),
    Case("json-to-jsonlines", _json(instances_request()), accept=JSONLINES, response_type=JSONLINES),
    # Just under the limit in bytes: whitespace is valid JSON.
    Case("json-just-under-6mb", b'{"instances": ' + b" " * (SIX_MB - 200) + _json(ROWS) + b"}"),
]

BAD = [
    Case("json-truncated", b'{"instances": [[5.1, 3.5', status=400, error="MalformedJSON", words="not valid JSON"),
    Case("json-not-utf8", b"\xff\xfe{", status=400, error="MalformedJSON", words="not UTF-8"),
    Case("json-not-utf8-in-string", b'{"instances": [[5.1, 3.5, 1.4, 0.2]], "note": "\xc3\x28"}', status=400, error="MalformedJSON", words="not UTF-8"),
    Case("json-binary", bytes(range(256)), status=400, error="MalformedJSON", words="not"),
    Case("json-nul", b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}\x00', status=400, error="MalformedJSON", words="not valid JSON"),
    Case("json-deep-nesting", b"[" * 100_000 + b"]" * 100_000, status=400, error="MalformedJSON", words="nested too deeply"),
    Case("json-deep-nesting-2kb", b"[" * 2048, status=400, error="MalformedJSON", words="nested too deeply"),
    Case("json-short-row", _json({"instances": [[5.1, 3.5, 1.4]]}), status=400, error="WrongFeatureCount", words="expected 4 features"),
    Case("json-ragged", _json({"instances": [ROWS[0], [1, 2, 3, 4, 5]]}), status=400, error="WrongFeatureCount", words="row 1"),
    Case("json-string-value", _json({"instances": [[5.1, "abc", 1.4, 0.2]]}), status=400, error="NonNumericValue", words="'abc'"),
    Case("json-numeric-string", _json({"instances": [[5.1, "3.5", 1.4, 0.2]]}), status=400, error="NonNumericValue", words="'3.5'"),
    Case("json-null", _json({"instances": [[5.1, None, 1.4, 0.2]]}), status=400, error="NonNumericValue", words="None"),
    Case("json-boolean", _json({"instances": [[5.1, 3.5, True, 0.2]]}), status=400, error="NonNumericValue", words="True"),
    Case("json-nan", b'{"instances": [[5.1, NaN, 1.4, 0.2]]}', status=400, error="NonFiniteValue", words="sepal_width"),
    Case("json-infinity", b'{"instances": [[5.1, 3.5, Infinity, 0.2]]}', status=400, error="NonFiniteValue", words="petal_length"),
    Case("json-overflow", b'{"instances": [[5.1, 3.5, 1.4, 1e999]]}', status=400, error="NonFiniteValue", words="inf"),
    Case("json-beyond-float32", _json({"instances": [[5.1, 3.5, 1e39, 0.2]]}), status=400, error="ValueOutOfRange", words="petal_length"),
    Case("json-no-rows", _json({"instances": []}), status=400, error="NoRows", words="no rows"),
    Case("json-empty-list", b"[]", status=400, error="NoRows", words="no rows"),
    Case("json-empty-body", b"", status=400, error="MalformedJSON", words="not valid JSON"),
    Case("json-no-instances", _json({"rows": [ROWS[0]]}), status=400, error="InvalidInput", words='"instances"'),
    Case("json-flat-row", _json({"instances": ROWS[0]}), status=400, error="InvalidInput", words="row 0"),
    Case("json-missing-feature", _json({"instances": [{"sepal_length": 5.1}]}), status=400, error="MissingFeature", words="'sepal_width'"),
    Case("json-unknown-feature", _json({"instances": [{"sepal_length": 5.1, "colour": 1}]}), status=400, error="UnknownFeature", words="'colour'"),
    Case("json-too-large", b"[" + b" " * SIX_MB + b"]", status=413, error="PayloadTooLarge", words="6 MB"),
    # 3.2 million characters, 6.4 MB: the limit counts the bytes a client sent, not the worker's decoded characters.
    Case("json-too-large-in-bytes-not-chars", b'{"instances": [[5.1, 3.5, 1.4, 0.2]], "pad": "' + "é".encode() * 3_200_000 + b'"}', status=413, error="PayloadTooLarge", words="bytes"),
    Case("csv-beyond-float32", b"5.1,3.5,-1e39,0.2", content_type=CSV, status=400, error="ValueOutOfRange", words="petal_length"),
    Case("csv-nan", b"5.1,3.5,nan,0.2", content_type=CSV, status=400, error="NonFiniteValue", words="petal_length"),
    Case("csv-word", b"5.1,3.5,x,0.2", content_type=CSV, status=400, error="NonNumericValue", words="'x'"),
    Case("csv-short-row", b"5.1,3.5,1.4", content_type=CSV, status=400, error="WrongFeatureCount", words="expected 4 features"),
    Case("csv-empty", b"", content_type=CSV, status=400, error="NoRows", words="no rows"),
    Case("csv-nul", b"5.1,3.5,1.4,0.2\x00\n", content_type=CSV, status=400, error="MalformedCSV", words="NUL"),
    Case("csv-not-utf8", b"5.1,3.5,\xff,0.2", content_type=CSV, status=400, error="MalformedCSV", words="not UTF-8"),
    Case("csv-binary", bytes(range(1, 256)), content_type=CSV, status=400, error="MalformedCSV", words="not UTF-8"),
    Case("npy-garbage", b"5.1,3.5,1.4,0.2", content_type=NPY, status=400, error="MalformedNPY", words="without pickles"),
    Case("npy-truncated", _npy(np.array(ROWS))[:-8], content_type=NPY, status=400, error="MalformedNPY", words="npy"),
    Case("npy-pickled-objects", _npy(np.array([[5.1, "x", 1.4, 0.2]], dtype=object)), content_type=NPY, status=400, error="MalformedNPY", words="pickles"),
    Case("npy-strings", _npy(np.array([["5.1", "3.5", "1.4", "0.2"]])), content_type=NPY, status=400, error="NonNumericValue", words="dtype"),
    Case("npy-three-dimensions", _npy(np.zeros((2, 2, 4))), content_type=NPY, status=400, error="WrongFeatureCount", words="shape"),
    Case("npy-short-rows", _npy(np.zeros((2, 3))), content_type=NPY, status=400, error="WrongFeatureCount", words="expected 4 features"),
    Case("npy-nan", _npy(np.array([[5.1, np.nan, 1.4, 0.2]])), content_type=NPY, status=400, error="NonFiniteValue", words="sepal_width"),
    Case("unsupported-content-type", b"<rows/>", content_type="application/xml", status=415, error="UnsupportedContentType", words="application/xml"),
    Case("npy-unknown-output", _json(instances_request()), accept="application/x-npy; output=logits", status=406, error="UnsupportedAccept", words="logits"),
    Case("jsonlines-bad-line", _json(ROWS[0]) + b"\n[5.1, 3.5\n", content_type=JSONLINES, status=400, error="MalformedJSON", words="line 2"),
    Case("jsonlines-short-row", _json(ROWS[0][:3]) + b"\n", content_type=JSONLINES, status=400, error="WrongFeatureCount", words="expected 4 features"),
    Case("unsupported-accept", _json(instances_request()), accept="application/xml", status=406, error="UnsupportedAccept", words="application/xml"),
]

CORPUS = GOOD + BAD

# Under the image's multi-model server (Java multi-model-server + sagemaker-inference), two kinds of case never reach
# the handlers (tests/local/test_multi_model_server.py shows each):
# - sagemaker-inference's Transformer decodes exactly `application/json` and `text/csv` bodies from UTF-8 *strictly*
#   before any hook runs, so bytes that are not UTF-8 end in its own HTTP 500 (UnicodeDecodeError);
# - MMS refuses a body over max_request_size (the image sets it to MAX_CONTENT_LENGTH, 6 MiB) with 413 and no body
#   (InvokeEndpoint's own 6 MB limit stops such a body before any container on SageMaker).
MMS_STRICT_UTF8_500 = frozenset({"json-not-utf8", "json-not-utf8-in-string", "json-binary", "csv-not-utf8", "csv-binary"})
MMS_MAX_REQUEST = 6 * 1024 * 1024


def predictions_in(body: bytes | str, media: str) -> list:
    """The predicted classes in a 200's body, whatever its media type; for the probabilities array, each row's
    most likely class (the Iris classes are the column indexes)."""
    if media == NPY:
        array = np.load(io.BytesIO(body), allow_pickle=False)
        return (array.argmax(axis=1) if array.ndim == 2 else array).tolist()
    text = body.decode() if isinstance(body, bytes) else body
    if media == CSV:
        return [int(line.split(",")[0]) for line in text.strip().splitlines()]
    if media == JSONLINES:
        return [json.loads(line)["prediction"] for line in text.splitlines() if line.strip()]
    return json.loads(text)["predictions"]


def ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]
