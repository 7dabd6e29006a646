"""The serving image's multi-model handler service, written for this project: what MMS calls for every model.

Runs INSIDE `.venv-image`, in each of multi-model-server's Python workers, as its own top-level module (MMS loads
`default_service_handler`, this module's name, and instantiates its one class per model). It imports nothing from
`bundle/`. The image's own handler service (in `sagemaker_sklearn_container`, not on PyPI) is, like this one, a
subclass of sagemaker-inference's `DefaultHandlerService` whose Transformer is sagemaker-inference's own, with
scikit-learn defaults for the hooks a user module leaves out:

    model_fn    none: a user module must load its model (NotImplementedError otherwise)
    input_fn    sagemaker-containers' decoder (JSON, CSV, npy to a numpy array; float32 for JSON and CSV)
    predict_fn  model.predict
    output_fn   sagemaker-containers' encoder for the Accept type

Everything that matters for this bundle is sagemaker-inference's, unchanged: the user module (`$SAGEMAKER_PROGRAM`)
is imported by name; `model_fn(model_dir)` runs once per model, `model_dir` being the directory MMS registered
(SageMaker's /opt/ml/models/<name>/model); `application/json` and `text/csv` bodies are decoded from UTF-8
*strictly* before any hook runs; a hook's `BaseInferenceToolkitError` becomes its status and message, any other
exception a 500; a hook returns bytes or `(bytes, content_type)`.
"""
from __future__ import annotations

import numpy as np
from sagemaker_containers.beta.framework import encoders
from sagemaker_inference import content_types
from sagemaker_inference.default_handler_service import DefaultHandlerService
from sagemaker_inference.default_inference_handler import DefaultInferenceHandler
from sagemaker_inference.transformer import Transformer


class HandlerService(DefaultHandlerService):
    """sagemaker-inference's Transformer over the user module, with scikit-learn's defaults (MMS wants one class here)."""

    class SklearnDefaults(DefaultInferenceHandler):
        def default_model_fn(self, model_dir):
            raise NotImplementedError("the user module must define model_fn(model_dir) to load a scikit-learn model")

        def default_input_fn(self, input_data, content_type):
            array = encoders.decode(input_data, content_type)
            return array.astype(np.float32) if content_type in content_types.UTF8_TYPES else array

        def default_predict_fn(self, data, model):
            return model.predict(data)

        def default_output_fn(self, prediction, accept):
            return encoders.encode(prediction, accept)

    def __init__(self):
        super().__init__(transformer=Transformer(default_inference_handler=self.SklearnDefaults()))
