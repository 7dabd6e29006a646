"""The handler contract of the shipped code/inference.py: formats, the guide's examples, and 4xx for bad input."""
from __future__ import annotations

import json
import sys

import pytest

from bundle.examples import EXAMPLES, expected_classes, instances_request
from bundle.serving import load_artifact


def test_guides_three_examples_predict_0_1_2_with_probabilities_summing_to_1(call):
    status, result, content_type = call(instances_request())
    assert (status, content_type) == (200, "application/json")
    assert result["predictions"] == expected_classes() == [0, 1, 2]
    assert result["labels"] == ["setosa", "versicolor", "virginica"]
    assert all(isinstance(p, int) for p in result["predictions"])
    for probabilities in result["probabilities"]:
        assert len(probabilities) == 3
        assert sum(probabilities) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param([e.features for e in EXAMPLES], id="bare-list-of-rows"),
        pytest.param(
            {"instances": [dict(zip(["sepal_length", "sepal_width", "petal_length", "petal_width"], e.features)) for e in EXAMPLES]},
            id="records-in-instances",
        ),
        pytest.param(
            [dict(zip(["petal_width", "petal_length", "sepal_width", "sepal_length"], reversed(e.features))) for e in EXAMPLES],
            id="bare-records-any-key-order",
        ),
        pytest.param({"instances": [[5, 3, 1, 0], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]}, id="integers-are-numbers"),
    ],
)
def test_json_forms_give_the_same_answer(call, body):
    status, result, _ = call(body)
    assert status == 200
    assert result["predictions"] == [0, 1, 2]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"])
def test_content_type_parameters_and_case_are_accepted(call, content_type):
    status, result, _ = call(instances_request(), content_type=content_type)
    assert status == 200 and result["predictions"] == [0, 1, 2]


@pytest.mark.parametrize(
    "body",
    [
        "5.1,3.5,1.4,0.2\n6.2,2.9,4.3,1.3\n7.7,3.0,6.1,2.3\n",
        "sepal_length,sepal_width,petal_length,petal_width\r\n5.1,3.5,1.4,0.2\r\n6.2,2.9,4.3,1.3\r\n7.7,3.0,6.1,2.3",
        '"5.1","3.5","1.4","0.2"\n6.2, 2.9, 4.3, 1.3\n\n7.7,3.0,6.1,2.3\n',
    ],
    ids=["plain", "header-crlf", "quoted-spaces-blank-line"],
)
def test_csv_rows(call, body):
    status, result, _ = call(body, content_type="text/csv; charset=utf-8")
    assert status == 200 and result["predictions"] == [0, 1, 2]


def test_csv_response_when_accept_asks_for_it(call):
    status, text, content_type = call(instances_request(), accept="text/csv")
    assert (status, content_type) == (200, "text/csv")
    rows = [line.split(",") for line in text.strip().splitlines()]
    assert [int(r[0]) for r in rows] == [0, 1, 2]
    assert all(sum(float(x) for x in r[1:]) == pytest.approx(1.0) for r in rows)


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/*", "text/html;q=0.9, application/json", "text/csv;q=0.1, application/json"])
def test_accept_defaults_and_negotiation_pick_json(call, accept):
    status, result, content_type = call(instances_request(), accept=accept)
    assert (status, content_type) == (200, "application/json")
    assert result["predictions"] == [0, 1, 2]


SIX_MB = 6 * 1024 * 1024


@pytest.mark.parametrize(
    "body, content_type, accept, status, error, words",
    [
        ('{"instances": [[5.1, 3.5', "application/json", "application/json", 400, "MalformedJSON", "not valid JSON"),
        (b"\xff\xfe{", "application/json", "application/json", 400, "MalformedJSON", "not valid JSON"),
        ({"instances": [[5.1, 3.5, 1.4]]}, "application/json", "application/json", 400, "WrongFeatureCount", "expected 4 features"),
        ({"instances": [[5.1, 3.5, 1.4, 0.2], [1, 2, 3, 4, 5]]}, "application/json", "application/json", 400, "WrongFeatureCount", "row 1"),
        ({"instances": [[5.1, "abc", 1.4, 0.2]]}, "application/json", "application/json", 400, "NonNumericValue", "'abc'"),
        ({"instances": [[5.1, "3.5", 1.4, 0.2]]}, "application/json", "application/json", 400, "NonNumericValue", "'3.5'"),
        ({"instances": [[5.1, None, 1.4, 0.2]]}, "application/json", "application/json", 400, "NonNumericValue", "None"),
        ({"instances": [[5.1, 3.5, True, 0.2]]}, "application/json", "application/json", 400, "NonNumericValue", "True"),
        ('{"instances": [[5.1, NaN, 1.4, 0.2]]}', "application/json", "application/json", 400, "NonFiniteValue", "sepal_width"),
        ('{"instances": [[5.1, 3.5, Infinity, 0.2]]}', "application/json", "application/json", 400, "NonFiniteValue", "petal_length"),
        ('{"instances": [[5.1, 3.5, 1.4, 1e999]]}', "application/json", "application/json", 400, "NonFiniteValue", "inf"),
        ({"instances": [[5.1, 3.5, 1e39, 0.2]]}, "application/json", "application/json", 400, "ValueOutOfRange", "petal_length"),
        ("5.1,3.5,-1e39,0.2", "text/csv", "application/json", 400, "ValueOutOfRange", "petal_length"),
        ("5.1,3.5,nan,0.2", "text/csv", "application/json", 400, "NonFiniteValue", "petal_length"),
        ("5.1,3.5,x,0.2", "text/csv", "application/json", 400, "NonNumericValue", "'x'"),
        ("5.1,3.5,1.4", "text/csv", "application/json", 400, "WrongFeatureCount", "expected 4 features"),
        ({"instances": []}, "application/json", "application/json", 400, "NoRows", "no rows"),
        ([], "application/json", "application/json", 400, "NoRows", "no rows"),
        ("", "text/csv", "application/json", 400, "NoRows", "no rows"),
        ("", "application/json", "application/json", 400, "MalformedJSON", "not valid JSON"),
        ({"rows": [[5.1, 3.5, 1.4, 0.2]]}, "application/json", "application/json", 400, "InvalidInput", '"instances"'),
        ({"instances": [5.1, 3.5, 1.4, 0.2]}, "application/json", "application/json", 400, "InvalidInput", "row 0"),
        ({"instances": [{"sepal_length": 5.1}]}, "application/json", "application/json", 400, "MissingFeature", "'sepal_width'"),
        ({"instances": [{"sepal_length": 5.1, "colour": 1}]}, "application/json", "application/json", 400, "UnknownFeature", "'colour'"),
        ("5.1,3.5,1.4,0.2", "application/x-npy", "application/json", 415, "UnsupportedContentType", "application/x-npy"),
        (instances_request(), "application/json", "application/xml", 406, "UnsupportedAccept", "application/xml"),
        (b"[" + b" " * SIX_MB + b"]", "application/json", "application/json", 413, "PayloadTooLarge", "6 MB"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else None,
)
def test_bad_input_is_a_4xx_json_message_naming_the_problem(call, body, content_type, accept, status, error, words):
    got_status, result, got_type = call(body, content_type=content_type, accept=accept)
    assert (got_status, got_type) == (status, "application/json")
    assert result["error"] == error
    assert words in result["message"]


def test_4xx_uses_the_containers_response_object_when_it_is_importable(artifact, tmp_path, monkeypatch):
    """In the image, `sagemaker_containers` exists; a stub with its import path proves the handlers pick it.

    The real package is not on PyPI, so this stub mirrors the constructor the worker's Response has
    (response, status, mimetype); the container test itself can only run in the image.
    """
    worker = tmp_path / "stub" / "sagemaker_containers" / "beta" / "framework"
    worker.mkdir(parents=True)
    for package in (worker.parents[1], worker.parent, worker):
        (package / "__init__.py").write_text("")
    (worker / "worker.py").write_text(
        "class Response:\n"
        "    def __init__(self, response=None, accept=None, status=200, headers=None, mimetype=None, direct_passthrough=False):\n"
        "        self.body, self.status_code, self.mimetype = response, status, mimetype\n"
        "    def get_data(self):\n"
        "        return self.body.encode() if isinstance(self.body, str) else self.body\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "stub"))
    for name in [m for m in sys.modules if m.startswith("sagemaker_containers")]:
        monkeypatch.delitem(sys.modules, name)
    loaded = load_artifact(artifact.path, tmp_path / "unpacked")
    assert loaded.handlers.Response.__module__ == "sagemaker_containers.beta.framework.worker"
    reply = loaded.handlers.transform_fn(loaded.model, '{"instances": [[1, 2]]}', "application/json", "application/json")
    assert type(reply).__module__ == "sagemaker_containers.beta.framework.worker"
    assert reply.status_code == 400 and json.loads(reply.get_data())["error"] == "WrongFeatureCount"
