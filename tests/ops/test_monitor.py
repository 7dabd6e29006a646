"""`python -m bundle monitor`: drift flags a shifted feature and not the others; mislabelled ground truth lowers the
published PredictionAccuracy by exactly the mislabelled share (read back from moto's CloudWatch); labels are written in
Model Monitor's ground-truth format and joined on the captured records' inferenceId.

Captured records are made as the front makes them (bundle/local/variants.py capture_record), with the shipped model's
real answers (bundle/local/inprocess.py runs code/inference.py in this process)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from bundle.artifact.baseline import training_data
from bundle.cli import main
from bundle.local.emulator import FAKE_CREDENTIALS, moto_server
from bundle.local.inprocess import invoke
from bundle.local.variants import capture_record
from bundle.names import FEATURE_DRIFT_METRIC, MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC, model_quality_dimensions
from bundle.ops import aws
from bundle.ops.monitor import ground_truth_record, population_stability_index


def write_capture(directory, loaded, rows: np.ndarray, variant: str = "primary", per_call: int = 1) -> list[tuple[str, list[int]]]:
    """Capture files under <variant>/yyyy/mm/dd/hh/ for calls of `per_call` rows; returns (inference id, predictions)."""
    hour = directory / variant / "2026" / "12" / "07" / "09"
    hour.mkdir(parents=True, exist_ok=True)
    lines, calls = [], []
    for start in range(0, len(rows), per_call):
        body = json.dumps({"instances": rows[start : start + per_call].tolist()}).encode()
        reply = invoke(loaded, body, "application/json", "application/json")
        assert reply.status == 200, reply.body
        inference_id = f"call-{variant}-{start:04d}"
        lines.append(json.dumps(capture_record(body, "application/json", reply.body, "application/json", datetime.now(timezone.utc), inference_id)))
        calls.append((inference_id, json.loads(reply.body)["predictions"]))
    (hour / "capture.jsonl").write_text("\n".join(lines) + "\n")
    return calls


def test_a_shifted_feature_is_reported_as_drifted_and_the_unshifted_ones_are_not(loaded, tmp_path, capsys):
    training = training_data()
    rows = training.rows.copy()
    shifted = training.names.index("petal_length")
    rows[:, shifted] += 2.0  # centimetres: a different population
    write_capture(tmp_path / "captured", loaded, rows, per_call=10)
    assert main(["monitor", "drift", "--captured", str(tmp_path / "captured"), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    drifted = {f["name"]: f["drifted"] for f in report["features"]}
    assert report["rows"] == len(rows)
    assert drifted == {name: name == "petal_length" for name in training.names}
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["petal_length"]["ks_pvalue"] < 1e-6 and by_name["petal_length"]["psi"] > 1.0
    assert by_name["sepal_length"]["psi"] == 0.0 and by_name["sepal_length"]["ks_pvalue"] == 1.0  # the training rows themselves


def test_psi_of_a_sample_against_itself_is_zero_and_grows_with_the_shift():
    values = training_data().column("sepal_width")
    assert population_stability_index(values, values) == 0.0
    assert 0 < population_stability_index(values, values + 0.2) < population_stability_index(values, values + 0.6)


@pytest.fixture
def moto_env(monkeypatch):
    with moto_server() as url:
        for key, value in {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        yield url


def published(endpoint: str, metric: str, variant: str = "primary") -> float:
    cloudwatch = aws.client("cloudwatch", "us-east-1", max_attempts=1)
    now = datetime.now(timezone.utc)
    answer = cloudwatch.get_metric_statistics(
        Namespace=MODEL_QUALITY_NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in model_quality_dimensions(endpoint, variant).items()],
        StartTime=now.replace(year=now.year - 1),
        EndTime=now.replace(year=now.year + 1),
        Period=86400 * 366,
        Statistics=["Average", "SampleCount"],
    )
    (point,) = answer["Datapoints"]
    assert point["SampleCount"] == 1.0
    return point["Average"]


def test_mislabelled_ground_truth_lowers_the_published_accuracy_by_the_mislabelled_share(loaded, tmp_path, moto_env, capsys):
    training = training_data()
    from sklearn.datasets import load_iris

    truth = load_iris().target
    picked = np.arange(0, 150, 5)  # 30 rows, every class
    calls = write_capture(tmp_path / "captured", loaded, training.rows[picked])
    correct = [i for i, (_, predicted) in zip(picked, calls) if predicted == [int(truth[i])]]
    n, k = len(calls), 4
    assert len(correct) >= k
    flipped = set(correct[:k])  # labels the model had right, now wrong

    def labels(mislabel: set) -> str:
        path = tmp_path / f"labels-{len(mislabel)}.jsonl"
        lines = [ground_truth_record(inference_id, [int((truth[i] + 1) % 3) if i in mislabel else int(truth[i])]) for i, (inference_id, _) in zip(picked, calls)]
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        return str(path)

    for endpoint, mislabel in (("iris-honest", set()), ("iris-mislabelled", flipped)):
        args = ["monitor", "accuracy", "--captured", str(tmp_path / "captured"), "--ground-truth", labels(mislabel), "--endpoint", endpoint, "--publish"]
        assert main(args) == 0
    out = capsys.readouterr().out
    assert "confusion (rows: truth, columns: prediction)" in out and f"published {PREDICTION_ACCURACY_METRIC}" in out
    honest, mislabelled = published("iris-honest", PREDICTION_ACCURACY_METRIC), published("iris-mislabelled", PREDICTION_ACCURACY_METRIC)
    assert honest == len(correct) / n
    assert honest - mislabelled == pytest.approx(k / n, abs=1e-12)


def test_labels_are_written_in_model_monitors_format_and_joined_on_the_inference_id(loaded, tmp_path, capsys):
    calls = write_capture(tmp_path / "captured", loaded, training_data().rows[[0, 60, 120]])
    given = tmp_path / "given.jsonl"
    given.write_text("".join(json.dumps({"inference_id": i, "label": p[0]}) + "\n" for i, p in calls))
    assert main(["monitor", "ground-truth", "--labels", str(given), "--out", str(tmp_path / "gt.jsonl")]) == 0
    lines = [json.loads(line) for line in (tmp_path / "gt.jsonl").read_text().splitlines()]
    assert lines[0] == {"groundTruthData": {"data": str(calls[0][1][0]), "encoding": "CSV"}, "eventMetadata": {"eventId": calls[0][0]}, "eventVersion": "0"}
    captured = [json.loads(line) for line in next((tmp_path / "captured").rglob("*.jsonl")).read_text().splitlines()]
    assert [c["eventMetadata"]["inferenceId"] for c in captured] == [line["eventMetadata"]["eventId"] for line in lines]
    capsys.readouterr()
    assert main(["monitor", "accuracy", "--captured", str(tmp_path / "captured"), "--ground-truth", str(tmp_path / "gt.jsonl"), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == 1.0 and result["rows"] == 3 and result["unlabelled"] == 0


def test_drift_publishes_the_worst_psi(loaded, tmp_path, moto_env, capsys):
    rows = training_data().rows.copy()
    rows[:, 0] += 1.0
    write_capture(tmp_path / "captured", loaded, rows, per_call=50)
    assert main(["monitor", "drift", "--captured", str(tmp_path / "captured"), "--endpoint", "iris-drift", "--publish", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out.split("\npublished")[0])
    assert published("iris-drift", FEATURE_DRIFT_METRIC) == pytest.approx(max(f["psi"] for f in report["features"]))


def test_variants_that_answered_the_same_requests_are_compared_for_agreement(loaded, tmp_path, capsys):
    rows = training_data().rows[::3]
    write_capture(tmp_path / "captured", loaded, rows, "primary")
    shadow = write_capture(tmp_path / "captured", loaded, rows, "shadow")
    for path in (tmp_path / "captured" / "shadow").rglob("*.jsonl"):  # the shadow's copies carry the production call's id
        path.write_text(path.read_text().replace("call-shadow-", "call-primary-"))
    assert main(["monitor", "drift", "--captured", str(tmp_path / "captured"), "--agreement"]) == 0
    assert f"agreement primary vs shadow: 1.0000 of {len(shadow)} predictions on the same requests" in capsys.readouterr().out


def test_no_label_for_any_prediction_is_an_error_naming_the_join(loaded, tmp_path, capsys):
    write_capture(tmp_path / "captured", loaded, training_data().rows[:2])
    (tmp_path / "gt.jsonl").write_text(json.dumps(ground_truth_record("someone-else", [0])) + "\n")
    assert main(["monitor", "accuracy", "--captured", str(tmp_path / "captured"), "--ground-truth", str(tmp_path / "gt.jsonl")]) == 2
    assert "InferenceId" in capsys.readouterr().err


def test_the_stacks_outputs_name_where_capture_and_labels_are_read_from(loaded, tmp_path, moto_env, capsys):
    from bundle.local.plan import evaluate
    from bundle.params.rules import validate

    outputs = evaluate(validate({"monitoring": {"enabled": True}})).outputs
    (tmp_path / "outputs.json").write_text(json.dumps(outputs, default=str))
    s3 = aws.client("s3", "us-east-1", max_attempts=1)
    bucket = outputs["bucket"]
    s3.create_bucket(Bucket=bucket)
    rows = training_data().rows[[0, 70, 140]]
    calls = write_capture(tmp_path / "captured", loaded, rows)
    capture_key = outputs["monitoring"]["capture"].removeprefix(f"s3://{bucket}/") + "primary/2026/12/07/09/capture.jsonl"
    s3.put_object(Bucket=bucket, Key=capture_key, Body=next((tmp_path / "captured").rglob("*.jsonl")).read_bytes())
    given = tmp_path / "given.jsonl"
    given.write_text("".join(json.dumps({"inference_id": i, "label": p[0]}) + "\n" for i, p in calls[:2]))
    assert main(["monitor", "ground-truth", "--labels", str(given), "--outputs", str(tmp_path / "outputs.json")]) == 0
    written = capsys.readouterr().out
    assert f"2 ground-truth records written to {outputs['monitoring']['ground_truth']}" in written
    assert main(["monitor", "accuracy", "--outputs", str(tmp_path / "outputs.json"), "--publish"]) == 0
    out = capsys.readouterr().out
    assert "accuracy 1.0000 over 2 labelled predictions (1 captured calls without labels)" in out
    assert published(outputs["endpoint"]["endpoint_name"], PREDICTION_ACCURACY_METRIC) == 1.0
