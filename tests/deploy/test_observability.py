"""The dashboard and the alarms' notifications, under the mock runtime."""
from __future__ import annotations

import json

import pytest

from bundle.deploy.dashboard import dashboard_body
from bundle.deploy.metrics import Watched
from bundle.deploy.modes import mode_for
from bundle.deploy.observability import dashboard_url
from bundle.params.rules import validate
from bundle.local.plan import evaluate
from tokens import ALARM, DASHBOARD, SUBSCRIPTION, TOPIC

SERVERLESS = {"deployment_mode": "serverless"}
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:ops-pager"


@pytest.fixture(scope="module")
def realtime():
    return evaluate(validate({}))


@pytest.fixture(scope="module")
def serverless():
    return evaluate(validate(SERVERLESS))


def charted(body: dict) -> set[tuple[str, str]]:
    """(namespace, metric) of every metric on the dashboard, checking each is scoped to the endpoint's variant."""
    found = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            if isinstance(metric[0], dict):  # metric math, over the metrics listed
                continue
            namespace, name, *dimensions, options = metric
            assert dimensions == ["EndpointName", "iris-endpoint", "VariantName", "primary"], metric
            assert isinstance(options, dict)
            found.add((namespace, name))
    return found


def body_of(run) -> dict:
    return json.loads(run.one(DASHBOARD).inputs["dashboardBody"])


def test_realtime_dashboard_shows_traffic_errors_latency_instances_cpu_and_memory(realtime):
    dashboard = realtime.one(DASHBOARD)
    assert dashboard.inputs["dashboardName"] == realtime.outputs["dashboard_name"] == "sagemaker-endpoint-iris-endpoint"
    assert charted(body_of(realtime)) == {
        ("AWS/SageMaker", "Invocations"),
        ("AWS/SageMaker", "Invocation4XXErrors"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
        ("AWS/SageMaker", "ModelLatency"),
        ("AWS/SageMaker", "OverheadLatency"),
        ("/aws/sagemaker/Endpoints", "CPUUtilization"),
        ("/aws/sagemaker/Endpoints", "MemoryUtilization"),
    }
    titles = [w["properties"]["title"] for w in body_of(realtime)["widgets"]]
    assert any(t.startswith("Instances") for t in titles)


def test_serverless_dashboard_shows_only_metrics_serverless_endpoints_publish(serverless):
    shown = charted(body_of(serverless))
    assert ("/aws/sagemaker/Endpoints", "CPUUtilization") not in shown, "serverless endpoints publish no CPU metric"
    assert {
        ("AWS/SageMaker", "Invocations"),
        ("AWS/SageMaker", "Invocation5XXErrors"),
        ("AWS/SageMaker", "ModelLatency"),
        ("AWS/SageMaker", "OverheadLatency"),
        ("AWS/SageMaker", "ModelSetupTime"),
        ("AWS/SageMaker", "ServerlessConcurrentExecutionsUtilization"),
        ("/aws/sagemaker/Endpoints", "MemoryUtilization"),
    } <= shown
    provisioned = evaluate(validate({**SERVERLESS, "serverless": {"provisioned_concurrency": 1}}))
    assert ("AWS/SageMaker", "ServerlessProvisionedConcurrencySpilloverInvocations") in charted(body_of(provisioned))


def test_latency_is_charted_in_milliseconds_and_the_alarm_widget_lists_both_alarms(realtime):
    widgets = body_of(realtime)["widgets"]
    expressions = [m[0]["expression"] for w in widgets for m in w["properties"].get("metrics", []) if isinstance(m[0], dict)]
    assert expressions == ["model/1000", "overhead/1000"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    listed = alarm_widget["properties"]["alarms"]
    assert len(listed) == 2 and all(arn.startswith("arn:aws:cloudwatch:us-east-1:") for arn in listed)
    assert sorted(arn.rsplit("/", 1)[-1] for arn in listed) == sorted(realtime.outputs["alarms"].values())


def test_dashboard_body_is_deterministic_json(realtime):
    raw = realtime.one(DASHBOARD).inputs["dashboardBody"]
    assert raw == json.dumps(json.loads(raw), sort_keys=True)
    params = validate({})
    watched = Watched(params.endpoint_name, params.variants, params.alarms)
    mode = mode_for(params)
    assert dashboard_body(watched, mode, "us-east-1", ["a", "b"]) == dashboard_body(watched, mode, "us-east-1", ["a", "b"])
    assert evaluate(validate({})).one(DASHBOARD).inputs["dashboardBody"] == raw
    positions = [(w["x"], w["y"]) for w in json.loads(raw)["widgets"]]
    assert len(set(positions)) == len(positions), "no two widgets in the same place"


def test_dashboard_url_is_an_output_for_the_region_and_partition(realtime):
    assert realtime.outputs["dashboard_url"] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards/dashboard/sagemaker-endpoint-iris-endpoint"
    )
    assert dashboard_url("aws-cn", "cn-north-1", "d").startswith("https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#")
    assert evaluate(validate({}), region="eu-west-1").outputs["dashboard_url"].startswith("https://eu-west-1.console.aws.amazon.com/")


def test_no_notification_target_means_no_topic_and_no_actions(realtime):
    assert not realtime.of_type(TOPIC) and realtime.outputs["alarm_topic_arn"] is None
    assert all("alarmActions" not in a.inputs or a.inputs["alarmActions"] == [] for a in realtime.of_type(ALARM))


def test_an_email_creates_a_topic_that_both_alarms_notify():
    run = evaluate(validate({"alarms": {"email": "oncall@example.com"}}))
    topic, subscription = run.one(TOPIC), run.one(SUBSCRIPTION)
    assert topic.inputs["name"] == "iris-endpoint-alarms" and "kmsMasterKeyId" not in topic.inputs
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "oncall@example.com")
    arn = run.outputs["alarm_topic_arn"]
    assert subscription.inputs["topic"] == arn
    for alarm in run.of_type(ALARM):
        assert alarm.inputs["alarmActions"] == [arn] and alarm.inputs["okActions"] == [arn]


def test_an_existing_topic_is_notified_and_nothing_is_created():
    run = evaluate(validate({"alarms": {"topic_arn": TOPIC_ARN}}))
    assert not run.of_type(TOPIC) and not run.of_type(SUBSCRIPTION)
    assert run.outputs["alarm_topic_arn"] == TOPIC_ARN
    assert all(a.inputs["alarmActions"] == [TOPIC_ARN] for a in run.of_type(ALARM))
