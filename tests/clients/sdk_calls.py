"""Runs inside .venv-clients (the SageMaker Python SDK and boto3 as users have them; nothing from bundle/): each call
named on the command line against the local front at $FRONT_URL, one JSON line per call with what it returned or
raised. tests/clients/test_sdk_clients.py reads the lines; the README's client section copies these calls.

The runtime client is the front's ($FRONT_URL); every other AWS call (S3, STS, SageMaker's control plane) goes where
boto3's own AWS_ENDPOINT_URL says, moto's server in the tests, so the SDK runs as it does against AWS."""
import json
import os
import sys

import boto3
import numpy as np
from botocore.exceptions import ClientError
from sagemaker import image_uris
from sagemaker.async_inference import WaiterConfig
from sagemaker.deserializers import BytesDeserializer, CSVDeserializer, JSONDeserializer, JSONLinesDeserializer, NumpyDeserializer
from sagemaker.exceptions import AsyncInferenceModelError
from sagemaker.multidatamodel import MultiDataModel
from sagemaker.predictor import Predictor
from sagemaker.predictor_async import AsyncPredictor
from sagemaker.serializers import CSVSerializer, JSONLinesSerializer, JSONSerializer, NumpySerializer
from sagemaker.session import Session
from sagemaker.sklearn.model import SKLearnPredictor

ROWS = json.loads(os.environ["ROWS"])
MARK = "CALL "  # on a line of its own: the SDK prints too (deploy's progress dashes have no newline)
ENDPOINT = os.environ["ENDPOINT_NAME"]
ROLE = "arn:aws:iam::123456789012:role/bundle-endpoint"
REGION = "us-east-1"
runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=os.environ["FRONT_URL"])
session = Session(boto_session=boto3.Session(region_name=REGION), sagemaker_runtime_client=runtime)


def sklearn_predictor_defaults():
    return SKLearnPredictor(ENDPOINT, session).predict(np.array(ROWS)).tolist()


def predictor(serializer, deserializer, data):
    return Predictor(ENDPOINT, session, serializer=serializer, deserializer=deserializer).predict(data)


def multi_data_model_deploy_and_predict():
    """As the SDK's multi-model guide does it: a MultiDataModel on the S3 prefix, a model added, the endpoint deployed
    (the control plane is moto's; not waited for: the SDK's waiter polls every 30 s), then predict with target_model."""
    image = image_uris.retrieve("sklearn", REGION, version=os.environ["IMAGE_VERSION"])
    model = MultiDataModel(ENDPOINT, os.environ["MODEL_PREFIX"], image_uri=image, role=ROLE, predictor_cls=Predictor, sagemaker_session=session)
    model.add_model(os.environ["MODEL_ARCHIVE"], os.environ["TARGET_MODEL"])
    predictor = model.deploy(1, "ml.m5.large", serializer=JSONSerializer(), deserializer=JSONDeserializer(), endpoint_name=ENDPOINT, wait=False)
    return {"listed": list(model.list_models()), "predictions": predictor.predict({"instances": ROWS}, target_model=os.environ["TARGET_MODEL"])["predictions"]}


# The async calls' session names its default bucket: the name the SDK would make needs STS at AWS's regional URL, which
# the SDK sets itself, past AWS_ENDPOINT_URL.
async_session = Session(boto_session=boto3.Session(region_name=REGION), sagemaker_runtime_client=runtime, default_bucket="sagemaker-async-inputs")


def async_predictor(body, deserializer, initial_args=None):
    """AsyncPredictor's defaults: the input uploaded to the session's default bucket (created if absent), the answer
    polled from S3."""
    predictor = AsyncPredictor(Predictor(ENDPOINT, async_session, serializer=JSONSerializer(), deserializer=deserializer))
    try:
        return predictor.predict(body, initial_args=initial_args, waiter_config=WaiterConfig(max_attempts=120, delay=0.5))["predictions"]
    except AsyncInferenceModelError as e:
        return {"raised": type(e).__name__, "message": str(e)}


CALLS = {
    "SKLearnPredictor defaults (npy in, npy out)": sklearn_predictor_defaults,
    "Predictor JSONSerializer/JSONDeserializer": lambda: predictor(JSONSerializer(), JSONDeserializer(), {"instances": ROWS})["predictions"],
    "Predictor CSVSerializer/CSVDeserializer": lambda: [int(r[0]) for r in predictor(CSVSerializer(), CSVDeserializer(), ROWS)],
    "Predictor NumpySerializer/NumpyDeserializer": lambda: predictor(NumpySerializer(), NumpyDeserializer(), np.array(ROWS)).tolist(),
    "Predictor JSONLinesSerializer/JSONLinesDeserializer": lambda: [line["prediction"] if isinstance(line, dict) else line for line in predictor(JSONLinesSerializer(), JSONLinesDeserializer(), ROWS)],
    "boto3 invoke_endpoint, unknown endpoint": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT + "x", ContentType="application/json", Body=json.dumps(ROWS)),
    "boto3 invoke_endpoint, unknown TargetVariant": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, TargetVariant="green", ContentType="application/json", Body=json.dumps(ROWS)),
    "MultiDataModel add_model, deploy, predict(target_model=...)": multi_data_model_deploy_and_predict,
    "boto3 invoke_endpoint, unknown TargetModel": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, TargetModel="absent.tar.gz", ContentType="application/json", Body=json.dumps(ROWS)),
    # AsyncPredictor puts the serializer's content type on the S3 object, not on InvokeEndpointAsync: name it there.
    "AsyncPredictor.predict, default bucket": lambda: async_predictor({"instances": ROWS}, JSONDeserializer(), {"ContentType": "application/json"}),
    "AsyncPredictor.predict, no ContentType": lambda: async_predictor({"instances": ROWS}, BytesDeserializer()),
    # The failure file is the runtime's text ("Received client error (400) from primary with message ..."): read it
    # with the Predictor's default BytesDeserializer; a JSONDeserializer cannot parse it (JSONDecodeError).
    "AsyncPredictor.predict, a bad record": lambda: async_predictor({"instances": [[1, 2]]}, BytesDeserializer(), {"ContentType": "application/json"}),
    "boto3 invoke_endpoint_async, body over the inline limit": lambda: runtime.invoke_endpoint_async(EndpointName=ENDPOINT, ContentType="application/json", Body=b" " * 128001),
    "boto3 invoke_endpoint, body over the limit": lambda: runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="application/json", Body=b" " * 6291457),
}


def say(record: dict) -> None:
    print("\n" + MARK + json.dumps(record), flush=True)


def main(names):
    for name in names:
        try:
            say({"call": name, "returned": CALLS[name]()})
        except ClientError as e:
            say({"call": name, "code": e.response["Error"]["Code"], "status": e.response["ResponseMetadata"]["HTTPStatusCode"], "message": e.response["Error"]["Message"]})


if __name__ == "__main__":
    main(sys.argv[1:])
    # AsyncPredictor.predict returns when the answer or the failure lands, but leaves its other S3 waiter thread
    # polling until its attempts run out; every answer is printed by now.
    sys.stdout.flush()
    os._exit(0)
