"""The operator guide: strict rendering, sections, and every code block run against the emulated deployment (a block
that reads the same in several scenarios but for the endpoint's name runs once, in the first of them).

The emulated deployment is moto (control plane) with the stack's resources created in it, plus the
local endpoint (data plane). Blocks marked not-runnable-locally or moto-lacks are skipped with their
reason, visible in pytest's summary (-ra).
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys

import pytest

from bundle.local.emulator import EmulatedDeployment
from bundle.guide.blocks import code_blocks
from bundle.guide.render import TEMPLATE_PATH, TemplateError, guide_context, render
from bundle.params.rules import validate
from bundle.local.multi_model import java_problem
from bundle.local.plan import evaluate
from conftest import REPO
from model_registry import GROUP, model_registry

SCENARIOS = {
    "poc-autoscaling": {},
    "custom-no-autoscaling": {
        "endpoint_name": "fraud-scorer",
        "variant_name": "blue",
        "model_source": "custom-s3",
        "custom_model_s3_uri": "s3://team-models/fraud/v7/model.tar.gz",
        "autoscaling": {"enabled": False},
        "initial_instance_count": 2,
        "enable_network_isolation": False,
    },
    "canary-capture-email": {
        "initial_instance_count": 2,
        "autoscaling": {"min_capacity": 2},
        "deployment": {"strategy": "CANARY", "canary_size_percent": 50},
        "data_capture": {"enabled": True, "sampling_percentage": 20},
        "alarms": {"email": "ops@example.com"},
    },
    "serverless": {"deployment_mode": "serverless", "serverless": {"memory_size_mb": 3072, "provisioned_concurrency": 2}},
    "rolling": {
        "initial_instance_count": 2,
        "autoscaling": {"min_capacity": 2},
        "deployment": {"strategy": "ROLLING", "wait_interval_seconds": 300, "rolling": {"batch_type": "INSTANCE_COUNT", "batch_size": 1}},
    },
    "ab-variants": {
        "variant_weight": 3,
        "data_capture": {"enabled": True, "sampling_percentage": 100},
        "variants": [{"name": "challenger", "model": "s3://team-models/xgb/v1/model.tar.gz", "weight": 1, "autoscaling": {"max_capacity": 3}}],
    },
    "shadow": {"data_capture": {"enabled": True, "sampling_percentage": 100}, "shadow": {"enabled": True}},
    "async-scale-to-zero-batch": {"deployment_mode": "async", "autoscaling": {"min_capacity": 0}, "batch_transform": {"enabled": True}},
    "monitoring": {"data_capture": {"sampling_percentage": 100}, "monitoring": {"enabled": True}, "alarms": {"email": "ops@example.com"}},
    "api-direct-iam": {"api": {"enabled": True}},
    "api-lambda-key": {"api": {"enabled": True, "integration": "lambda", "auth": "api_key", "quota_per_day": 1000}},
    "pipeline-mm-batch": {"endpoint_name": "iris-pipeline", "preprocessing": {"enabled": True, "unit": "mm"}, "batch_transform": {"enabled": True}},
    "model-package": {"model_source": "model-package", "model_package": {"group": GROUP}, "autoscaling": {"enabled": False}},
    "multi-model": {
        "endpoint_name": "iris-models",
        "enable_network_isolation": False,
        "multi_model": {"enabled": True, "models": ["random-forest", "logistic-regression", "gradient-boosting", "s3://team-models/churn/v3/churn.tar.gz"]},
    },
}


class _Rendered(dict):
    """Each scenario planned and rendered when a test first asks for it: a broken section fails the tests that
    name it (tests/guide/test_guide_sections.py renders every combination), not the import of this module."""

    def __missing__(self, name):
        params = validate(SCENARIOS[name])
        if params.model_package is not None:  # planned against a registry holding one Approved version
            with model_registry() as registry:
                registry.register(approve=True)
                PLANS[name] = evaluate(params)
        else:
            PLANS[name] = evaluate(params)
        outputs = PLANS[name].outputs
        self[name] = (params, outputs, render(guide_context(params, outputs)))
        return self[name]

    def items(self):
        return [(name, self[name]) for name in SCENARIOS]


PLANS = {}
RENDERED = _Rendered()


def test_template_keeps_the_catalogs_front_matter_and_variables():
    template = TEMPLATE_PATH.read_text()
    assert template.startswith("---\ntemplating: mustache\n---\n")
    for tag in ("artifacts.endpoint.endpoint_name", "artifacts.endpoint.region", "params.instance_type", "params.initial_instance_count"):
        assert "{{" + tag + "}}" in template


def test_context_carries_params_artifacts_and_resources():
    params, outputs, _ = RENDERED["poc-autoscaling"]
    context = guide_context(params, outputs)
    assert context["params"] == params.document
    assert context["artifacts"]["endpoint"] == context["resources"]["endpoint"] == outputs["endpoint"]
    assert set(context["artifacts"]["endpoint"]) == {"endpoint_name", "endpoint_arn", "region", "model_name", "invoke_policy"}


def test_a_tag_missing_from_the_context_fails_the_render_naming_it():
    params, outputs, _ = RENDERED["poc-autoscaling"]
    context = copy.deepcopy(guide_context(params, outputs))
    del context["artifacts"]["endpoint"]["region"]
    with pytest.raises(TemplateError, match=r"\{\{artifacts\.endpoint\.region\}\} is not in the context"):
        render(context)


def test_an_empty_value_fails_the_render():
    params, outputs, _ = RENDERED["poc-autoscaling"]
    context = guide_context(params, {**outputs, "log_group": ""})
    with pytest.raises(TemplateError, match=r"\{\{stack\.log_group\}\} is empty"):
        render(context)


def test_a_value_mustache_would_html_escape_fails_instead_of_showing_entities():
    params, outputs, _ = RENDERED["poc-autoscaling"]
    context = guide_context(params, {**outputs, "log_group": "/aws/sagemaker/Endpoints/<oops>"})
    with pytest.raises(TemplateError, match=r"\{\{stack\.log_group\}\} = .* would be HTML-escaped"):
        render(context)


def test_a_misspelt_section_and_a_misspelt_tag_inside_a_section_fail():
    params, outputs, _ = RENDERED["poc-autoscaling"]
    context = guide_context(params, outputs)
    with pytest.raises(TemplateError, match=r"\{\{#guide\.autoscalling\}\} \(section\)"):
        render(context, "{{#guide.autoscalling}}x{{/guide.autoscalling}}")
    with pytest.raises(TemplateError, match=r"\{\{params\.autoscaling\.max_capacityy\}\}"):
        render(context, "{{#guide.autoscaling}}{{params.autoscaling.max_capacityy}}{{/guide.autoscaling}}")
    # A section that does not render does not need its tags: the custom model's URI is empty for the POC.
    assert render(context, "{{#guide.custom_model}}{{params.nothing}}{{/guide.custom_model}}ok") == "ok"


def test_one_variant_name_everywhere():
    _, _, default = RENDERED["poc-autoscaling"]
    _, _, blue = RENDERED["custom-no-autoscaling"]
    assert "AllTraffic" not in default and "AllTraffic" not in blue
    assert "variant/primary" in default and "Value=primary" in default
    assert "primary" not in blue and "Value=blue" in blue


def test_sections_appear_only_when_they_apply():
    _, outputs, default = RENDERED["poc-autoscaling"]
    _, _, custom = RENDERED["custom-no-autoscaling"]
    assert "Understanding the POC Model" in default and "Your Model" not in default
    assert "Your Model" in custom and "s3://team-models/fraud/v7/model.tar.gz" in custom and "Understanding the POC Model" not in custom
    assert "Autoscaling is **on**" in default and "between **1** and\n**4** instances" in default
    assert "Autoscaling is **off**" in custom and "describe-scalable-targets" not in custom
    assert outputs["artifact_sha256"] in default
    assert "Network isolation is **on**" in default and "Network isolation is **off**" in custom


def test_guardrails_capture_notifications_and_serverless_sections():
    _, outputs, default = RENDERED["poc-autoscaling"]
    _, canary_outputs, canary = RENDERED["canary-capture-email"]
    _, _, serverless = RENDERED["serverless"]
    assert "traffic moves all at once" in default and "first 50% (the canary), then the rest" in canary
    assert "Captured data" not in default and canary_outputs["data_capture"]["destination"] in canary
    assert "No notification is configured" in default and "notification address" in canary and "ops@example.com" not in canary
    assert outputs["alarms"]["invocation_5xx"] in default and outputs["dashboard_url"] in default
    assert "| Serverless | 3072 MB of memory" in serverless and "2 provisioned" in serverless
    assert "Instance type" not in serverless and "describe-scalable-targets" not in serverless
    assert "ServerlessConcurrentExecutionsUtilization" in serverless and "CPUUtilization" not in serverless


def test_the_rolling_sections_say_batches_not_blue_green():
    _, outputs, rolling = RENDERED["rolling"]
    _, _, default = RENDERED["poc-autoscaling"]
    rollouts = rolling[rolling.index("## Rollouts and rollback") : rolling.index("## Scaling")]
    assert "**rolling** deployment: the fleet of 2 instances is replaced a batch at a time,\n1 instance(s) per batch (2 batches)" in rollouts
    assert "blue/green" not in rollouts and "waits 300 s" in rollouts and outputs["alarms"]["invocation_5xx"] in rollouts
    assert "brings the old instances back\nall at once" in rollouts and "(600 s of\n   waiting in all)" in rollouts
    assert "| Updates | rolling, 1 instance(s) per batch of the 2 instances" in rolling and "during a rolling update" in rolling
    assert "rolling" not in default[default.index("## Rollouts and rollback") : default.index("## Scaling")].replace("Rolling back", "")


def test_the_pipeline_section_appears_only_with_preprocessing_and_names_its_stages_and_code():
    _, outputs, pipeline = RENDERED["pipeline-mm-batch"]
    _, _, default = RENDERED["poc-autoscaling"]
    section = pipeline[pipeline.index("## The inference pipeline") : pipeline.index("## Understanding the POC Model")]
    assert "| Inference pipeline | Serial: the `preprocessing` container, then the `model` container" in pipeline
    assert outputs["preprocessing"]["code_url"] in section and outputs["preprocessing"]["code_sha256"] in section
    assert "named features are in `mm`" in section and "even though this stack's default is millimetres" in section
    assert '"stage": "preprocessing"' in section and "a CSV header would reach only the first request" in section
    assert "## The inference pipeline" not in default and "Inference pipeline |" not in default


def test_the_multi_model_section_names_every_model_and_the_single_model_one_is_gone():
    _, outputs, multi = RENDERED["multi-model"]
    _, _, default = RENDERED["poc-autoscaling"]
    assert "Testing the Endpoint (multi-model)" in multi and "## Testing the Endpoint\n" not in multi
    for hosted in outputs["multi_model"]["models"]:
        assert multi.count(hosted["target_model"]) >= 4, hosted  # the table, the Python list, the CLI and the smoke test
    assert "ModelNotReadyException" in multi and "models add" in multi and "ModelCacheHit" in multi and "LoadedModelCount" in multi
    assert "Understanding the POC Model" not in multi and "Your Model" not in multi
    assert "multi-model" not in default.lower() and "TargetModel" not in default
    assert "--target-model " + outputs["multi_model"]["models"][0]["target_model"] in multi  # the load test


def test_the_model_registry_section_names_the_deployed_version_and_how_to_move_it():
    _, outputs, guide = RENDERED["model-package"]
    _, _, default = RENDERED["poc-autoscaling"]
    package = outputs["model_package"]
    assert "## Your Model, from the Model Registry" in guide and "Model Registry" not in default
    assert f"| Model package | `{package['arn']}` (version 1 of group {GROUP}, Approved) |" in guide
    assert f"--model-package-group-name {GROUP}" in guide and "--model-approval-status Rejected" in guide
    assert f"python -m bundle register --group {GROUP}" in guide
    assert "Understanding the POC Model" not in guide and "## Your Model\n" not in guide


def test_log_group_and_metric_dimensions_match_the_deployment():
    _, outputs, default = RENDERED["poc-autoscaling"]
    assert default.count("/aws/sagemaker/Endpoints/iris-endpoint") >= 3
    assert "Name=EndpointName,Value=iris-endpoint Name=VariantName,Value=primary" in default
    assert outputs["endpoint_config_name"] in default


def test_pulumi_up_exports_the_rendered_guide():
    _, outputs, default = RENDERED["poc-autoscaling"]
    assert outputs["operator_guide"] == default


def block_cases() -> dict[str, list]:
    """{scenario: its blocks as pytest params}. A block whose code is another scenario's but for the endpoint's name
    runs once, in the first scenario that has it (SCENARIOS' order: the default stack first): running it again
    against another emulated stack proves nothing new. Blocks that differ run in every scenario that renders them."""
    seen: dict[tuple[str, str], str] = {}
    cases: dict[str, list] = {}
    for scenario in SCENARIOS:
        cases[scenario] = []
        try:
            params, _, text = RENDERED[scenario]
        except TemplateError as e:  # collected as one failing case, named by its scenario
            cases[scenario].append(pytest.param(e, id="renders"))
            continue
        for block in code_blocks(text):
            key = (block.language, block.code.replace(params.endpoint_name, "<endpoint>"))
            if not block.skip_reason and seen.setdefault(key, scenario) != scenario:
                continue
            slug = "".join(c if c.isalnum() else "-" for c in block.heading.lower()).strip("-")
            cases[scenario].append(pytest.param(block, id=f"{block.index:02d}-{block.language}-{slug}"))
    return cases


CASES = block_cases()


def pytest_generate_tests(metafunc):
    if metafunc.cls is not None and issubclass(metafunc.cls, _ScenarioBlocks):
        metafunc.parametrize("block", CASES[metafunc.cls.scenario])


class _ScenarioBlocks:
    """One scenario's blocks, run against its emulated deployment. A class per scenario, so that pytest-xdist's
    loadscope hands the scenarios to different workers (moto's state is per process: one deployment at a time)."""

    scenario: str

    @pytest.fixture(scope="class")
    def deployment(self, artifact):
        if self.scenario == "multi-model" and java_problem():
            pytest.skip(f"the multi-model server cannot run here: {java_problem()}")
        with EmulatedDeployment(PLANS[self.scenario], artifact.path) as deployment:
            yield deployment

    def test_guide_code_block_runs(self, request, tmp_path, block):
        if isinstance(block, TemplateError):
            pytest.fail(f"the guide does not render for {self.scenario}: {block}")
        if block.skip_reason:
            pytest.skip(block.skip_reason)
        deployment = request.getfixturevalue("deployment")
        env = {
            **os.environ,
            **deployment.env(),
            "PYTHONPATH": str(REPO),
            "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        }
        command = ["bash", "-euo", "pipefail", "-c", block.code] if block.language == "bash" else [sys.executable, "-c", block.code]
        result = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"block {block.index} under '{block.heading}' failed:\n{block.code}\n--- output ---\n{result.stdout}{result.stderr}"


for _scenario in SCENARIOS:
    _name = "TestBlocks_" + _scenario.replace("-", "_")
    globals()[_name] = type(_name, (_ScenarioBlocks,), {"scenario": _scenario, "__doc__": f"The guide's blocks for the {_scenario} scenario."})


def test_async_and_batch_sections_appear_only_when_they_apply():
    _, outputs, asynchronous = RENDERED["async-scale-to-zero-batch"]
    _, _, default = RENDERED["poc-autoscaling"]
    _, _, serverless = RENDERED["serverless"]
    assert "python -m bundle invoke-async" in asynchronous and "invoke_endpoint_async" in asynchronous
    assert "invoke_endpoint(" not in asynchronous and "bundle smoke --endpoint" not in asynchronous.split("## Updating the Model")[0]
    assert "scales to zero" in asynchronous and outputs["async_inference"]["wake_policy"] in asynchronous
    assert "ApproximateBacklogSizePerInstance" in asynchronous and "SageMakerVariantInvocationsPerInstance" not in asynchronous
    assert outputs["async_inference"]["alarms"]["oldest_request_age"] in asynchronous
    assert "## Batch transform" in asynchronous and outputs["batch_transform"]["input_location"] in asynchronous
    for other in (default, serverless):
        assert "invoke-async" not in other and "## Batch transform" not in other and "ApproximateBacklogSize" not in other
        assert "invoke_endpoint(" in other
def test_rest_api_sections_appear_only_with_the_api_and_name_its_outputs():
    _, _, default = RENDERED["poc-autoscaling"]
    _, direct_outputs, direct = RENDERED["api-direct-iam"]
    _, keyed_outputs, keyed = RENDERED["api-lambda-key"]
    assert "## The REST API" not in default and "execute-api" not in default
    assert direct_outputs["api"]["invocations_url"] in direct and "--aws-sigv4" in direct and "SigV4Auth" in direct
    assert '"Action": "execute-api:Invoke"' in direct and direct_outputs["api"]["method_arn"] in direct
    assert "x-api-key" not in direct and "get-api-key" not in direct
    assert keyed_outputs["api"]["api_key_id"] in keyed and "get-api-key" in keyed and "1000 requests a day" in keyed
    assert "--aws-sigv4" not in keyed and keyed_outputs["api"]["function_name"] in keyed
    assert direct_outputs["api"]["access_log_group"] in direct and "the access log group" in direct


def test_callers_policy_rollback_cost_and_teardown_sections():
    _, outputs, default = RENDERED["poc-autoscaling"]
    _, _, serverless = RENDERED["serverless"]
    _, _, keyed = RENDERED["api-lambda-key"]
    assert '"Action": [\n        "sagemaker:InvokeEndpoint"' in default and outputs["endpoint"]["endpoint_arn"] in default
    assert "### Rolling back by hand" in default and f"({600} s of\n   waiting in all)" in default
    assert "git revert" in default
    cost = default[default.index("## What it costs per hour") : default.index("## Updating the Model")]
    assert "No AWS price source could be reached" in cost and "`ml.m5.large`" in cost and "`4` × P" in cost
    assert "$" not in cost.replace("$(", ""), "no price is invented"
    assert "up to twice the instances (`2` × P" in cost
    assert "3072 MB, per second" in serverless and "provisioned concurrency | `2`" in serverless
    assert "Lambda (https://aws.amazon.com/lambda/pricing/)" in keyed and "REST API | requests per hour" in keyed
    assert "The REST API goes with it" in keyed and "The REST API goes with it" not in default


def test_the_model_quality_section_appears_only_with_monitoring_and_names_its_outputs():
    _, outputs, monitored = RENDERED["monitoring"]
    _, _, default = RENDERED["poc-autoscaling"]
    quality = outputs["monitoring"]
    assert "## Model quality" in monitored and "## Model quality" not in default and "monitor accuracy" not in default
    for value in (quality["ground_truth"], quality["capture"], quality["baseline_constraints"], quality["schedule_name"], quality["alarms"][0]["name"]):
        assert value in monitored, value
    assert f"under **{quality['accuracy_threshold']}**" in monitored and "InferenceId=inference_id" in monitored
    assert "--publish" in monitored and "monitor drift" in monitored and outputs["alarm_topic_arn"] in monitored
