"""`make demo`: build the artifact, serve it locally, call it through boto3 as a client would, stop it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from bundle import aws
from bundle.artifact import build_artifact
from bundle.errors import BundleError
from bundle.examples import EXAMPLES, instances_request

DEMO_ENDPOINT = "iris-demo"
DEMO_REGION = "us-east-1"


def start_local_endpoint(artifact_path) -> tuple[subprocess.Popen, str]:
    """`python -m bundle serve --port 0` in a child process; returns it and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bundle", "serve", "--port", "0", "--artifact", str(artifact_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise BundleError(f"local endpoint exited with {process.returncode} before serving")
    return process, json.loads(line)["url"]


def stop_local_endpoint(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode


def run_demo() -> int:
    artifact = build_artifact()
    print(f"1. artifact  {artifact.path}")
    print(f"             sha256 {artifact.sha256}  {artifact.size_bytes} bytes  cv accuracy {artifact.manifest['metrics']['cv_accuracy_mean']}")
    process, url = start_local_endpoint(artifact.path)
    try:
        print(f"2. endpoint  {url}  (local, SageMaker runtime API)")
        runtime = aws.client("sagemaker-runtime", DEMO_REGION, endpoint_url=url)
        response = runtime.invoke_endpoint(
            EndpointName=DEMO_ENDPOINT,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(instances_request()),
        )
        result = json.loads(response["Body"].read())
        print("3. invoke_endpoint through boto3:")
        for example, predicted, probabilities in zip(EXAMPLES, result["predictions"], result["probabilities"]):
            mark = "ok" if predicted == example.expected_class else "WRONG"
            print(f"   {example.features} -> {predicted} ({example.species:<10}) p={probabilities}  {mark}")
        ok = result["predictions"] == [e.expected_class for e in EXAMPLES]
    finally:
        code = stop_local_endpoint(process)
        print(f"4. endpoint stopped (exit {code})")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_demo())
