"""The artifact alone, in an environment with only the serving image's libraries (.venv-image).

`make setup` builds .venv-image from requirements-image.txt (the image's pins: scikit-learn 1.4.2,
numpy 2.1.0, sagemaker-containers, Flask 1.1.1, ...) on Python 3.10 where this machine has it, as the
image does. The check imports the extracted code/inference.py there with warnings as errors, so an
InconsistentVersionWarning fails it, and asserts which Response class the handlers picked: the worker's
own, or Flask answers every request with 500. test_image_worker.py serves it in the real worker.
Under multi-model-server (SAGEMAKER_MULTI_MODEL set) the handlers raise sagemaker-inference's own error type instead,
and answer with (bytes, content type); test_multi_model_server.py serves them there.
"""
from __future__ import annotations

import json
import subprocess
import tarfile

import pytest

from conftest import REPO

IMAGE_PYTHON = REPO / ".venv-image" / "bin" / "python"

PROBE = r"""
import importlib.util, json, sys, warnings
# The image's own stack (sagemaker-containers, pkg_resources, six 1.15) warns as it imports under Python 3.10: load
# it first, quietly. After that any warning from the handlers or the model fails the probe (InconsistentVersionWarning
# above all), except ImportWarning, which six's import hook raises on every later lookup.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sagemaker_containers.beta.framework
warnings.simplefilter("error")
warnings.simplefilter("ignore", ImportWarning)
model_dir = sys.argv[1]
sys.path.insert(0, model_dir + "/code")  # what SAGEMAKER_SUBMIT_DIRECTORY does
import inference
assert importlib.util.find_spec("bundle") is None, "bundle must not be importable here"
import sklearn, numpy
model = inference.model_fn(model_dir)
ok = inference.transform_fn(model, '{"instances": [[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3],[7.7,3.0,6.1,2.3]]}', "application/json", "application/json")
bad = inference.transform_fn(model, '{"instances": [[5.1]]}', "application/json", "application/json")
import os
os.environ["SAGEMAKER_MULTI_MODEL"] = "true"
mme_ok = inference.transform_fn(model, '{"instances": [[5.1,3.5,1.4,0.2]]}', "application/json", "text/csv")
try:
    inference.transform_fn(model, '{"instances": [[5.1]]}', "application/json", "application/json")
    raised = None
except Exception as e:
    raised = {"class": f"{type(e).__module__}.{type(e).__qualname__}", "status": e.status_code, "body": json.loads(e.message), "phrase": e.phrase}
print(json.dumps({
    "mme_ok": [mme_ok[0].decode(), mme_ok[1]], "mme_error": raised,
    "python": sys.version.split()[0], "sklearn": sklearn.__version__, "numpy": numpy.__version__,
    "status": ok.status_code, "result": json.loads(ok.get_data()),
    "bad_status": bad.status_code, "response_class": f"{inference.Response.__module__}.{inference.Response.__qualname__}",
    "flask_response": __import__("flask").Response in inference.Response.__mro__, "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("bundle", "model", "pulumi")),
}))
"""


def test_extracted_artifact_runs_with_only_the_images_libraries(artifact, tmp_path):
    if not IMAGE_PYTHON.exists():
        pytest.fail(".venv-image is missing: run `make setup` (make test does)")
    with tarfile.open(artifact.path, "r:gz") as tar:
        tar.extractall(tmp_path / "model", filter="data")
    result = subprocess.run(
        [str(IMAGE_PYTHON), "-I", "-c", PROBE, str(tmp_path / "model")], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["sklearn"], report["numpy"]) == ("1.4.2", "2.1.0")
    assert report["status"] == 200 and report["result"]["predictions"] == [0, 1, 2]
    assert report["bad_status"] == 400
    assert report["response_class"] == "sagemaker_containers._worker.Response" and report["flask_response"]
    assert report["modules"] == []
    assert report["mme_ok"][1] == "text/csv" and report["mme_ok"][0].startswith("0,")
    assert report["mme_error"] == {
        "class": "sagemaker_inference.errors.GenericInferenceToolkitError",
        "status": 400,
        "body": {"error": "WrongFeatureCount", "message": "expected 4 features per row, got 1"},
        "phrase": "Bad Request",
    }
    assert result.stderr == ""
