"""Model quality in the plan (monitoring.enabled): capture on, the baseline uploaded under its content's digest, a
DataQualityJobDefinition on the endpoint's captured data against that baseline, an hourly MonitoringSchedule on it, a
PredictionAccuracy alarm on the alarms' topic, and a job role that reads only the capture, baseline and ground-truth
prefixes and writes only the reports prefix. Off (the default), none of it exists."""
from __future__ import annotations

import json

import pytest

from bundle.artifact.baseline import build_baseline, default_accuracy_threshold, training_data
from bundle.local.plan import evaluate
from bundle.names import MODEL_QUALITY_NAMESPACE, MONITORING_SCHEDULES, PREDICTION_ACCURACY_METRIC, accuracy_alarm_name
from bundle.params.rules import validate

JOB = "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition"
SCHEDULE = "aws:sagemaker/monitoringSchedule:MonitoringSchedule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
MONITORED = {"monitoring": {"enabled": True}, "alarms": {"email": "ops@example.com"}}


@pytest.fixture(scope="module")
def plan():
    return evaluate(validate(MONITORED))


def test_monitoring_turns_capture_on_and_plans_the_job_the_schedule_and_the_alarm(plan):
    capture = plan.one(CONFIG).inputs["dataCaptureConfig"]
    assert capture["enableCapture"] is True and {o["captureMode"] for o in capture["captureOptions"]} == {"Input", "Output"}
    job, schedule = plan.one(JOB), plan.one(SCHEDULE)
    assert job.inputs["dataQualityJobInput"]["endpointInput"]["endpointName"] == plan.outputs["endpoint"]["endpoint_name"]
    assert job.inputs["dataQualityAppSpecification"]["imageUri"].endswith("/sagemaker-model-monitor-analyzer:latest")
    config = schedule.inputs["monitoringScheduleConfig"]
    assert config["monitoringJobDefinitionName"] == job.state["name"] and config["monitoringType"] == "DataQuality"
    assert config["scheduleConfig"]["scheduleExpression"] == MONITORING_SCHEDULES["hourly"] == "cron(0 * ? * * *)"
    resources = job.inputs["jobResources"]["clusterConfig"]
    assert (resources["instanceType"], resources["volumeSizeInGb"], job.inputs["stoppingCondition"]["maxRuntimeInSeconds"]) == ("ml.m5.xlarge", 20, 1800)


def test_the_schedule_waits_for_the_endpoint(plan):
    endpoint = plan.one("aws:sagemaker/endpoint:Endpoint")
    assert endpoint.name in plan.one(SCHEDULE).depends_on


def test_the_accuracy_alarm_watches_prediction_accuracy_on_the_other_alarms_topic(plan):
    alarms = {a.inputs["name"]: a.inputs for a in plan.of_type(ALARM)}
    accuracy = alarms[accuracy_alarm_name("iris-endpoint")]
    assert (accuracy["namespace"], accuracy["metricName"]) == (MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC)
    assert accuracy["dimensions"] == {"EndpointName": "iris-endpoint", "VariantName": "primary"}
    assert accuracy["comparisonOperator"] == "LessThanThreshold" and accuracy["treatMissingData"] == "notBreaching"
    from bundle.artifact.build import build_artifact

    assert accuracy["threshold"] == default_accuracy_threshold(build_artifact().manifest["metrics"]) == plan.outputs["monitoring"]["accuracy_threshold"]
    errors = alarms["iris-endpoint-invocation-5xx"]
    assert accuracy["alarmActions"] == errors["alarmActions"] and len(errors["alarmActions"]) == 1
    assert accuracy_alarm_name("iris-endpoint") not in plan.outputs["deployment"]["rollback_alarms"]


def test_the_baseline_is_uploaded_under_its_digest_and_the_job_reads_it(plan):
    baseline = build_baseline()
    uploads = {o.inputs["key"]: o.inputs for o in plan.of_type(OBJECT) if "baseline" in o.name}
    assert set(uploads) == {f"monitoring/baseline/{baseline.sha256[:12]}/statistics.json", f"monitoring/baseline/{baseline.sha256[:12]}/constraints.json"}
    config = plan.one(JOB).inputs["dataQualityBaselineConfig"]
    assert config["statisticsResource"]["s3Uri"] == plan.outputs["monitoring"]["baseline_statistics"]
    assert config["statisticsResource"]["s3Uri"].endswith(f"/monitoring/baseline/{baseline.sha256[:12]}/statistics.json")


def test_the_baseline_is_model_monitors_format_from_the_training_data():
    baseline = build_baseline()
    statistics, constraints = json.loads(baseline.statistics.read_text()), json.loads(baseline.constraints.read_text())
    data = training_data()
    assert statistics["dataset"]["item_count"] == data.rows.shape[0]
    assert [f["name"] for f in statistics["features"]] == list(data.names) == [f["name"] for f in constraints["features"]]
    first = statistics["features"][0]["numerical_statistics"]
    assert first["mean"] == pytest.approx(data.rows[:, 0].mean()) and first["common"] == {"num_present": 150, "num_missing": 0}
    assert sum(b["count"] for b in first["distribution"]["kll"]["buckets"]) == 150
    assert constraints["monitoring_config"]["distribution_constraints"]["perform_comparison"] == "Enabled"
    assert build_baseline().sha256 == baseline.sha256  # deterministic


def test_the_job_role_reads_and_writes_only_its_prefixes(plan):
    policy = next(r for r in plan.of_type("aws:iam/rolePolicy:RolePolicy") if r.name.endswith("-monitor")).inputs["policy"]
    statements = {s["Sid"]: s for s in json.loads(policy)["Statement"]}
    out = plan.outputs["monitoring"]
    bucket = plan.outputs["bucket"]

    def arn(uri: str) -> str:
        return "arn:aws:s3:::" + uri.removeprefix("s3://") + "*"

    baseline_folder = out["baseline_statistics"].rsplit("/", 1)[0] + "/"
    assert statements["ReadCaptureBaselineGroundTruth"]["Resource"] == [arn(out["capture"]), arn(baseline_folder), arn(out["ground_truth"])]
    assert statements["WriteReports"]["Resource"] == [arn(out["reports"])]
    assert out["capture"] == f"s3://{bucket}/data-capture/iris-endpoint/" and out["ground_truth"] == f"s3://{bucket}/ground-truth/iris-endpoint/"
    writes = [s for s in statements.values() if any(a.startswith("s3:Put") for a in s["Action"])]
    assert writes == [statements["WriteReports"]]


def test_off_by_default_nothing_of_it_is_planned():
    plan = evaluate(validate({}))
    assert not plan.of_type(JOB) and not plan.of_type(SCHEDULE) and "monitoring" not in plan.outputs
    assert all(a.inputs["metricName"] != PREDICTION_ACCURACY_METRIC for a in plan.of_type(ALARM))


def test_an_explicit_threshold_and_a_daily_schedule_are_used_and_an_ab_variant_gets_its_own_alarm():
    plan = evaluate(validate({"monitoring": {"enabled": True, "accuracy_threshold": 0.93, "schedule": "daily"}, "variants": [{"name": "challenger"}]}))
    assert plan.one(SCHEDULE).inputs["monitoringScheduleConfig"]["scheduleConfig"]["scheduleExpression"] == "cron(0 0 ? * * *)"
    accuracy = {a.inputs["name"]: a.inputs for a in plan.of_type(ALARM) if a.inputs["metricName"] == PREDICTION_ACCURACY_METRIC}
    assert set(accuracy) == {"iris-endpoint-prediction-accuracy", "iris-endpoint-challenger-prediction-accuracy"}
    assert {a["threshold"] for a in accuracy.values()} == {0.93}


def test_the_dashboard_graphs_accuracy_against_the_alarms_threshold(plan):
    body = json.loads(plan.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    (accuracy,) = [w for w in body["widgets"] if PREDICTION_ACCURACY_METRIC in json.dumps(w["properties"].get("metrics", []))]
    assert accuracy["properties"]["annotations"]["horizontal"][0]["value"] == plan.outputs["monitoring"]["accuracy_threshold"]
    assert accuracy["properties"]["metrics"][0][:2] == [MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC]
    default = json.loads(evaluate(validate({})).one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    assert PREDICTION_ACCURACY_METRIC not in json.dumps(default)
