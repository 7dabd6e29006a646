"""The local endpoint in multi-model mode: the runtime-API front honours TargetModel as SageMaker does.

Behind the front runs the image's multi-model server (Java multi-model-server, .venv-image); each model's archive is
fetched from the store on its first call, registered with POST /models and invoked with POST /models/{name}/invoke.
Called through boto3, as clients call SageMaker.
"""
from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from bundle.artifact.build import sourcedir_tarball
from bundle.artifact.recipes import RECIPES, target_model_name
from bundle.artifact.build import recipe_artifact
from bundle.local.endpoint import LocalEndpoint, MultiModelSource
from bundle.local.multi_model import ModelStore, java_problem
from bundle.ops import aws
from bundle.ops.examples import expected_classes, instances_request
from corpus import BAD, MMS_MAX_REQUEST, MMS_STRICT_UTF8_500

PROBLEM = java_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=f"multi-model-server cannot run here: {PROBLEM}")
ENDPOINT = "iris-models"


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefix")
    names = {}
    for recipe in RECIPES:
        archive = recipe_artifact(recipe, layout="multi-model")
        names[recipe] = target_model_name(recipe, archive.sha256)
        (root / names[recipe]).write_bytes(archive.path.read_bytes())
    # A single-model artifact put under the prefix by mistake: its root manifest.json breaks MMS's registration.
    (root / "single-model-layout.tar.gz").write_bytes(recipe_artifact("random-forest").path.read_bytes())
    return root, names


@pytest.fixture(scope="module")
def mme(archives):
    root, _ = archives
    with LocalEndpoint(None, port=0, endpoint_name=ENDPOINT, multi_model=MultiModelSource(ModelStore.directory(root), sourcedir_tarball())) as served:
        yield served


@pytest.fixture(scope="module")
def runtime(mme):
    return aws.client("sagemaker-runtime", "us-east-1", endpoint_url=mme.url, max_attempts=1)


def invoke(runtime, target=None, body=None, content_type="application/json", accept="application/json"):
    extra = {"TargetModel": target} if target is not None else {}
    if accept is not None:
        extra["Accept"] = accept
    response = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType=content_type, Body=json.dumps(instances_request()) if body is None else body, **extra
    )
    return json.loads(response["Body"].read())


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_model_answers_by_its_target_model(runtime, archives, recipe):
    result = invoke(runtime, archives[1][recipe])
    assert result["predictions"] == expected_classes()
    assert result["labels"] == ["setosa", "versicolor", "virginica"]


def test_models_are_loaded_on_first_use_only(mme, runtime, archives):
    for recipe in RECIPES:
        invoke(runtime, archives[1][recipe])
    status, data, _ = mme.worker.request("GET", "/models")
    assert status == 200 and len(json.loads(data)["models"]) >= len(RECIPES)
    before = len(json.loads(data)["models"])
    invoke(runtime, archives[1]["random-forest"])
    assert len(json.loads(mme.worker.request("GET", "/models")[1])["models"]) == before


def error_of(call) -> dict:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


def test_an_unknown_target_is_a_validation_error_as_aws_answers(runtime, archives):
    response = error_of(lambda: invoke(runtime, "no-such-model.tar.gz"))
    assert response["Error"]["Code"] == "ValidationError" and response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Failed to download model data" in response["Error"]["Message"] and "no-such-model.tar.gz" in response["Error"]["Message"]


def test_a_body_over_the_runtime_limit_is_refused_by_the_front_not_the_model_server(mme, runtime, archives):
    """AWS's runtime refuses the body before any container: 413 with only a message, no ModelError; MMS never sees it."""
    limit = runtime.meta.service_model.operation_model("InvokeEndpoint").input_shape.members["Body"].metadata["max"]
    response = error_of(lambda: invoke(runtime, archives[1]["random-forest"], b"[" + b" " * limit + b"]"))
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("413", 413)
    assert response["Error"]["Message"] == f"HTTP content length exceeded {limit} bytes."
    at_the_limit = json.dumps(instances_request()).encode().ljust(limit)  # JSON allows the trailing whitespace
    assert invoke(runtime, archives[1]["random-forest"], at_the_limit)["predictions"] == expected_classes()


def test_an_unknown_endpoint_name_is_not_found_as_on_aws(runtime, archives):
    response = error_of(lambda: runtime.invoke_endpoint(EndpointName="iris-modles", TargetModel=archives[1]["random-forest"], ContentType="application/json", Body=b"[]"))
    assert response["Error"]["Code"] == "ValidationError" and response["Error"]["Message"] == "Endpoint iris-modles of account 123456789012 not found."


def test_a_call_without_target_model_is_a_validation_error(runtime):
    response = error_of(lambda: invoke(runtime))
    assert response["Error"]["Code"] == "ValidationError"
    assert "missing a target model header" in response["Error"]["Message"]


def test_a_path_outside_the_prefix_is_no_model(runtime):
    response = error_of(lambda: invoke(runtime, "../../etc/passwd"))
    assert response["Error"]["Code"] == "ValidationError"


@pytest.mark.parametrize("case", [c for c in BAD if c.id not in MMS_STRICT_UTF8_500 and len(c.body) <= MMS_MAX_REQUEST], ids=lambda c: c.id)
def test_a_bad_request_is_a_model_error_carrying_the_handlers_4xx_json(runtime, archives, case):
    response = error_of(lambda: invoke(runtime, archives[1]["gradient-boosting"], case.body, case.content_type, case.accept))
    assert response["Error"]["Code"] == "ModelError" and response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == case.status
    assert json.loads(response["OriginalMessage"])["error"] == case.error


def test_an_archive_with_a_root_manifest_json_fails_to_load_as_a_model_error(runtime):
    response = error_of(lambda: invoke(runtime, "single-model-layout.tar.gz"))
    assert response["Error"]["Code"] == "ModelError" and response["OriginalStatusCode"] == 500
    assert "NullPointerException" in response["OriginalMessage"]


def test_a_single_model_endpoint_refuses_target_model_as_aws_does(endpoint):
    runtime = aws.client("sagemaker-runtime", "us-east-1", endpoint_url=endpoint.url, max_attempts=1)
    response = error_of(
        lambda: runtime.invoke_endpoint(EndpointName="iris-test", ContentType="application/json", Body=json.dumps(instances_request()), TargetModel="x.tar.gz")
    )
    assert response["Error"]["Code"] == "ValidationError"
    assert "is not a multi-model endpoint and does not support target model header" in response["Error"]["Message"]


def test_a_model_still_loading_is_model_not_ready_then_serves(mme, runtime, archives):
    """With no time to wait for a load, the first call of a model is refused as a call to a model that loads for over
    60 s is on SageMaker; the load goes on, and retrying (what the guide tells clients to do) reaches the model."""
    root, names = archives
    (root / "cold-start.tar.gz").write_bytes((root / names["logistic-regression"]).read_bytes())
    router = mme._server.models  # the multi-model router (TargetModel); `router` routes variants
    router.ready_timeout = 0.0
    try:
        response = error_of(lambda: invoke(runtime, "cold-start.tar.gz"))
        assert response["Error"]["Code"] == "ModelNotReadyException" and response["ResponseMetadata"]["HTTPStatusCode"] == 429
        deadline = time.monotonic() + 60
        while True:
            try:
                assert invoke(runtime, "cold-start.tar.gz")["predictions"] == expected_classes()
                break
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ModelNotReadyException" and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        router.ready_timeout = 60.0


def test_a_killed_jvm_is_restarted_its_models_load_again_and_stop_leaves_nothing(archives):
    """serve's supervisor notices the JVM's death (the launcher exits with it), starts the server again on its port,
    and the next call loads its model again; stopping then ends the launcher, the JVM and its Python workers (one
    process group), all gone."""
    import psutil

    root, names = archives
    target = names[next(iter(RECIPES))]
    served = LocalEndpoint(None, port=0, endpoint_name=ENDPOINT, multi_model=MultiModelSource(ModelStore.directory(root), sourcedir_tarball()))
    family = []
    try:
        served.start()
        runtime = aws.client("sagemaker-runtime", "us-east-1", endpoint_url=served.url, max_attempts=1)
        assert invoke(runtime, target)["predictions"] == expected_classes()
        logged = []
        supervisor = served.supervise(poll=0.2, log=logged.append)
        java = [p for p in psutil.Process(served.worker._process.pid).children(recursive=True) if p.name() == "java"]
        assert java, "the server runs a JVM"
        java[0].kill()
        deadline = time.monotonic() + 180
        while supervisor.restarts < 1:
            assert time.monotonic() < deadline and supervisor.failure is None, (supervisor.failure, logged)
            time.sleep(0.2)
        assert invoke(runtime, target)["predictions"] == expected_classes(), "the model loads again in the new server"
        # The launcher exits once it sees the JVM die; until then /ping fails. Whichever the supervisor sees first is
        # the death, told with its reason.
        assert any("its process exited" in line or "/ping failed" in line for line in logged), logged
        launcher = psutil.Process(served.worker._process.pid)
        family = [launcher, *launcher.children(recursive=True)]
    finally:
        served.stop()
    gone, alive = psutil.wait_procs(family, timeout=20)
    assert not alive, f"still running after stop: {[p.pid for p in alive]}"
