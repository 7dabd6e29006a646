"""Runs inside .venv-clients (the SageMaker Python SDK and boto3 as users have them; nothing from bundle/): each call
named on the command line against the local front at $FRONT_URL, one JSON line per call with what it returned or
raised. tests/clients/test_sdk_clients.py reads the lines; the README's client section copies these calls."""
import json
import os
import sys

import boto3
import numpy as np
from botocore.exceptions import ClientError
from sagemaker.deserializers import CSVDeserializer, JSONDeserializer, JSONLinesDeserializer, NumpyDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer, JSONLinesSerializer, JSONSerializer, NumpySerializer
from sagemaker.session import Session
from sagemaker.sklearn.model import SKLearnPredictor

ROWS = json.loads(os.environ["ROWS"])
MARK = "CALL "  # the SDK prints its own lines too
ENDPOINT = os.environ["ENDPOINT_NAME"]
runtime = boto3.client("sagemaker-runtime", region_name="us-east-1", endpoint_url=os.environ["FRONT_URL"])
session = Session(boto_session=boto3.Session(region_name="us-east-1"), sagemaker_runtime_client=runtime)


def sklearn_predictor_defaults():
    return SKLearnPredictor(ENDPOINT, session).predict(np.array(ROWS)).tolist()


def predictor(serializer, deserializer, data):
    return Predictor(ENDPOINT, session, serializer=serializer, deserializer=deserializer).predict(data)


CALLS = {
    "SKLearnPredictor defaults (npy in, npy out)": sklearn_predictor_defaults,
    "Predictor JSONSerializer/JSONDeserializer": lambda: predictor(JSONSerializer(), JSONDeserializer(), {"instances": ROWS})["predictions"],
    "Predictor CSVSerializer/CSVDeserializer": lambda: [int(r[0]) for r in predictor(CSVSerializer(), CSVDeserializer(), ROWS)],
    "Predictor NumpySerializer/NumpyDeserializer": lambda: predictor(NumpySerializer(), NumpyDeserializer(), np.array(ROWS)).tolist(),
    "Predictor JSONLinesSerializer/JSONLinesDeserializer": lambda: [line["prediction"] if isinstance(line, dict) else line for line in predictor(JSONLinesSerializer(), JSONLinesDeserializer(), ROWS)],
    "boto3 invoke_endpoint, unknown endpoint": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT + "x", ContentType="application/json", Body=json.dumps(ROWS)),
    "boto3 invoke_endpoint, unknown TargetVariant": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, TargetVariant="green", ContentType="application/json", Body=json.dumps(ROWS)),
    "boto3 invoke_endpoint, body over the limit": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/json", Body=b" " * 6291457),
}


def main(names):
    for name in names:
        try:
            print(MARK + json.dumps({"call": name, "returned": CALLS[name]()}), flush=True)
        except ClientError as e:
            print(MARK + json.dumps({"call": name, "code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"], "message": e.response["Error"]["Message"]}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(CALLS))
