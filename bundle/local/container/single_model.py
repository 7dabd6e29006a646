"""The serving image's single-model entry point, written for this project: a WSGI app for gunicorn.

Runs INSIDE `.venv-image` (the serving image's pinned libraries), as its own top-level module: it
imports nothing from `bundle/` and `bundle` is not importable there. The image's own glue package
(`sagemaker_sklearn_container`, Apache-2.0, not on PyPI) does the same job; this is our wiring of the
same public pieces of `sagemaker_containers`, which IS the installed PyPI package the image runs:

    gunicorn -k gevent -w $SAGEMAKER_MODEL_SERVER_WORKERS --timeout $SAGEMAKER_MODEL_SERVER_TIMEOUT single_model:app
      -> worker.Worker(transform_fn=transformer.Transformer(model_fn=..., transform_fn=...).transform)

The user module is `$SAGEMAKER_PROGRAM` (without `.py`) from `$SAGEMAKER_SUBMIT_DIRECTORY`, the model
directory is `$SAGEMAKER_BASE_DIR/model` (the image's `/opt/ml/model`). Hooks are picked as the image
picks them: `transform_fn`, or any of `input_fn`/`predict_fn`/`output_fn` (the rest from
sagemaker-containers' defaults), never both kinds; `model_fn` is called once per gunicorn worker.

One difference from the image, on purpose: the image pip-installs the code directory (and its
`requirements.txt`) into its site-packages at start; here the directory is put on `sys.path`, so
serving an artifact never changes `.venv-image`. The bundle's artifact ships no requirements.txt.
"""
from __future__ import annotations

import importlib
import os
import sys

from sagemaker_containers.beta.framework import env, transformer, worker

_HOOKS = ("input_fn", "predict_fn", "output_fn")


def user_module():
    serving_env = env.ServingEnv()
    if serving_env.module_dir not in sys.path:
        sys.path.insert(0, serving_env.module_dir)
    return serving_env, importlib.import_module(serving_env.module_name)


def user_transformer(module) -> transformer.Transformer:
    model_fn = getattr(module, "model_fn", None)
    if hasattr(module, "transform_fn"):
        return transformer.Transformer(model_fn=model_fn, transform_fn=module.transform_fn)
    return transformer.Transformer(model_fn=model_fn, **{hook: getattr(module, hook) for hook in _HOOKS if hasattr(module, hook)})


def build_app() -> worker.Worker:
    serving_env, module = user_module()
    served = user_transformer(module)
    served.initialize()  # model_fn(model_dir), once per gunicorn worker, before the first request
    return worker.Worker(transform_fn=served.transform, module_name=serving_env.module_name)


_app = None


def app(environ, start_response):
    """The WSGI callable gunicorn serves; the Worker is built lazily in each forked worker, as in the image."""
    global _app
    if _app is None:
        _app = build_app()
    return _app(environ, start_response)


if __name__ == "__main__":  # `python single_model.py`: import and load once, then exit (a start-up check)
    build_app()
    print(f"loaded {os.environ.get('SAGEMAKER_PROGRAM')} from {os.environ.get('SAGEMAKER_SUBMIT_DIRECTORY')}")
