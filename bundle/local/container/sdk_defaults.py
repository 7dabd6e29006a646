"""What a user of the SDK's defaults serves, for `bench`'s side-by-side row: only `model_fn` of their own.

Shipped as code/inference.py in a variant artifact that `python -m bundle bench` builds in a scratch
directory. The image decodes the request with sagemaker-containers' `default_input_fn` (a JSON array of
rows becomes a numpy array), predicts with `model.predict` (what the scikit-learn image's default
predict_fn does) and encodes with `default_output_fn`. No 4xx handling: a bad request is a 500 there.
"""
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return model.predict(data)
