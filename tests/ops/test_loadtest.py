"""The load test against the local endpoint (loopback only), briefly: a tiny ramp whose steps end after a fixed
number of requests (the clock only bounds them), so a busy machine changes the rates, never the verdicts."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from bundle.ops import aws
from bundle.ops.client import EndpointClient
from bundle.cli import main
from bundle.errors import BundleError
from bundle.ops.loadtest import LoadTestConfig, check_target, run_loadtest, run_step
from conftest import REPO


def config(endpoint, **overrides) -> LoadTestConfig:
    values = dict(
        endpoint_name="iris-test", region="us-east-1", endpoint_url=endpoint.url, ramp=(1, 2), duration_per_step_s=60, max_requests_per_step=30
    )
    return LoadTestConfig(**{**values, **overrides})


def test_recommendation_is_the_safety_factor_times_the_best_sustainable_rate(endpoint):
    result = run_loadtest(config(endpoint, latency_goal_ms=10_000, safety_factor=0.5))
    assert [s.concurrency for s in result.steps] == [1, 2]
    assert [s.requests for s in result.steps] == [30, 30], "each step stops at its request budget, not its 60 s"
    for step in result.steps:
        assert step.errors == 0 and step.requests > 0
        # The rate is what was answered in the step's time, per minute.
        assert step.invocations_per_minute_per_instance == pytest.approx(step.requests / step.elapsed_s * 60, rel=0.01)
        assert 0 < step.p50_ms <= step.p90_ms <= step.p99_ms <= 10_000 and step.sustainable
    best = max(s.invocations_per_minute_per_instance for s in result.steps if s.sustainable)
    assert result.max_sustainable_per_minute_per_instance == best
    assert result.target_invocations_per_instance == math.floor(0.5 * best)


def test_rates_are_per_instance(endpoint):
    result = run_loadtest(config(endpoint, ramp=(1,), latency_goal_ms=1000, instance_count=4))
    step = result.steps[0]
    assert step.invocations_per_minute_per_instance == pytest.approx(step.requests / step.elapsed_s * 60 / 4, rel=0.01)


def test_an_unreachable_goal_gives_no_recommendation_and_stops_the_ramp(endpoint):
    result = run_loadtest(config(endpoint, ramp=(1, 2, 4), latency_goal_ms=0.001))
    assert [s.sustainable for s in result.steps] == [False]
    assert result.target_invocations_per_instance is None


def test_errors_during_a_step_are_counted_and_make_it_unsustainable(endpoint):
    bad = config(endpoint, latency_goal_ms=1000, body='{"instances": [[1, 2]]}')
    runtime = aws.client("sagemaker-runtime", bad.region, endpoint_url=bad.endpoint_url, max_attempts=1)
    step = run_step([EndpointClient(bad.endpoint_name, runtime=runtime, not_ready_attempts=1)], bad)
    assert step.errors == step.requests > 0 and step.first_error == "ModelError"
    assert not step.sustainable


def test_a_request_the_model_refuses_stops_before_the_ramp_with_its_message(endpoint):
    with pytest.raises(BundleError, match="WrongFeatureCount"):
        run_loadtest(config(endpoint, body='{"instances": [[1, 2]]}'))


def test_cli_prints_the_table_and_writes_json(endpoint, tmp_path):
    out, body = tmp_path / "loadtest.json", tmp_path / "body.csv"
    body.write_text("5.1,3.5,1.4,0.2\n")
    result = subprocess.run(
        [sys.executable, "-m", "bundle", "loadtest", "--endpoint", "iris-test", "--endpoint-url", endpoint.url,
         # Ends after 40 requests, however slow the machine: the step's length is bounded by count, not by a clock.
         "--ramp", "1", "--duration-per-step", "60", "--max-requests-per-step", "40", "--latency-goal-ms", "1000", "--json", str(out),
         "--body", str(body), "--content-type", "text/csv"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    target = document["target_invocations_per_instance"]
    assert target == math.floor(0.5 * document["max_sustainable_per_minute_per_instance"])
    assert f"target_invocations_per_instance = 0.5 x that = {target}" in result.stdout
    assert "| clients |" in result.stdout
    assert document["config"]["content_type"] == "text/csv" and document["steps"][0]["errors"] == 0


@pytest.mark.parametrize(
    "args, words",
    [
        (["--ramp", "1,x"], "comma-separated integers"),
        (["--ramp", "0,2"], "between 1 and"),
        (["--safety-factor", "1.5"], "--safety-factor"),
        (["--duration-per-step", "0"], "--duration-per-step"),
        (["--endpoint-url", "http://example.com:8080"], "is not allowed"),
        (["--ramp", ",".join(["1"] * 13)], "at most 12"),
        (["--ramp", "1,2,4,8,16,32,64", "--duration-per-step", "600"], "at most 3600 s"),
        (["--body", "/nonexistent/body.json"], "cannot read --body"),
    ],
)
def test_bad_arguments_are_messages(args, words, capsys):
    assert main(["loadtest", "--endpoint", "x", "--endpoint-url", "http://127.0.0.1:9", *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_an_endpoint_that_is_not_there_is_a_message():
    with pytest.raises(BundleError, match="cannot invoke endpoint"):
        run_loadtest(LoadTestConfig(endpoint_name="x", region="us-east-1", endpoint_url="http://127.0.0.1:9", ramp=(1,), duration_per_step_s=0.1, request_timeout_s=2))


# --- only what it may -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://127.10.20.30:9",
        "http://[::1]:8080",
        "https://runtime.sagemaker.eu-west-1.amazonaws.com",
        "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn",
        "https://runtime-fips.sagemaker.us-east-1.amazonaws.com",
    ],
)
def test_allowed_targets(url):
    check_target(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080",  # a name: it resolves wherever DNS (or /etc/hosts) says
        "http://127.0.0.1.nip.io:8080",  # a DNS name that merely starts with 127.
        "http://127.evil.example.com",
        "http://10.0.0.1:8080",
        "http://[::2]:8080",
        "https://example.amazonaws.com",
        "https://s3.eu-west-1.amazonaws.com",
        "https://runtime.sagemaker.xx-nowhere-1.amazonaws.com",
        "https://runtime.sagemaker.eu-west-1.amazonaws.com.example.com",
    ],
)
def test_refused_targets(url):
    with pytest.raises(BundleError, match="is not allowed"):
        check_target(url)


def test_the_clients_resolved_endpoint_is_checked_after_it_is_built(tmp_path, monkeypatch):
    """No --endpoint-url, but the shared config (or an AWS_ENDPOINT_URL* variable) points the client elsewhere."""
    shared = tmp_path / "config"
    shared.write_text("[default]\nendpoint_url = http://192.0.2.1:9\n")
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))
    plain = LoadTestConfig(endpoint_name="x", region="us-east-1", ramp=(1,), duration_per_step_s=0.1, request_timeout_s=1)
    with pytest.raises(BundleError, match="'http://192.0.2.1:9' is not allowed"):
        run_loadtest(plain)
    monkeypatch.delenv("AWS_CONFIG_FILE")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://localhost:9")
    with pytest.raises(BundleError, match="'http://localhost:9' is not allowed"):
        run_loadtest(plain)
