"""`make demo`: the whole local path — offline plan, artifact, local endpoint, smoke test, operator guide,
and a catalog run with a connections file that assumes a role.

No AWS account is involved: the plan runs under Pulumi's mock runtime, the control plane the smoke
test talks to is moto, and the data plane is the bundle's local endpoint serving the real artifact.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from bundle.paths import BUILD_DIR, REPO_ROOT
from bundle.ops import aws
from bundle.artifact.build import build_artifact
from bundle.local.emulator import EmulatedDeployment
from bundle.ops.examples import EXAMPLES, instances_request
from bundle.catalog.run import catalog_run, summary
from bundle.guide.render import render_from_outputs
from bundle.params.sources import resolve
from bundle.local.plan import evaluate, plan_document

BUILD = BUILD_DIR
GUIDE = REPO_ROOT / "operator_guide.md"


def run_demo() -> int:
    params = resolve()
    evaluation = evaluate(params)
    print(f"1. offline plan: {len(evaluation.resources)} resources for endpoint {params.endpoint_name!r} ({params.primary.instance_type})")
    for resource in evaluation.resources:
        print(f"     + {resource.type}  {resource.name}")

    artifact = build_artifact(image_version=params.serving_image_version)
    print(f"2. artifact: {artifact.path}")
    print(f"     sha256 {artifact.sha256}, {artifact.size_bytes} bytes, cv accuracy {artifact.manifest['metrics']['cv_accuracy_mean']}")

    BUILD.mkdir(exist_ok=True)
    outputs_file = BUILD / "outputs.json"
    outputs_file.write_text(json.dumps(evaluation.outputs, indent=2, default=str))
    with EmulatedDeployment(evaluation, artifact.path) as deployment:
        print(f"3. local endpoint {deployment.runtime_url} (data plane), moto {deployment.moto_url} (control plane)")
        runtime = aws.client("sagemaker-runtime", deployment.region, endpoint_url=deployment.runtime_url)
        response = runtime.invoke_endpoint(
            EndpointName=params.endpoint_name, ContentType="application/json", Accept="application/json", Body=json.dumps(instances_request())
        )
        result = json.loads(response["Body"].read())
        print("   invoke_endpoint through boto3:")
        for example, predicted, probabilities in zip(EXAMPLES, result["predictions"], result["probabilities"]):
            print(f"     {example.features} -> {predicted} ({example.species}) p={probabilities}")
        connections = REPO_ROOT / "examples" / "catalog" / "connections.json"
        print("4. smoke test (python -m bundle smoke --outputs build/outputs.json --connections examples/catalog/connections.json),")
        print("   acting as the connection's role, assumed through moto's STS:")
        smoke = subprocess.run(
            [sys.executable, "-m", "bundle", "smoke", "--outputs", str(outputs_file), "--connections", str(connections)],
            cwd=REPO_ROOT,
            env={**os.environ, **deployment.env()},
            capture_output=True,
            text=True,
        )
        print("\n".join(f"     {line}" for line in (smoke.stdout + smoke.stderr).rstrip().splitlines()))

    GUIDE.write_text(render_from_outputs(plan_document(evaluation)["outputs"], params))
    print(f"5. operator guide (from the plan's outputs): {GUIDE}")

    examples = REPO_ROOT / "examples" / "catalog"
    print("6. catalog run (python -m bundle catalog run --params examples/catalog/params.json --connections ... --metadata ...):")
    run = catalog_run(
        str(examples / "params.json"), str(examples / "connections.json"), str(examples / "metadata.json"), BUILD / "catalog", region=params_region(evaluation)
    )
    print("\n".join(f"     {line}" for line in summary(run).splitlines()))
    aws.use_role(None)
    return smoke.returncode


def params_region(evaluation) -> str:
    return evaluation.outputs["endpoint"]["region"]


if __name__ == "__main__":
    sys.exit(run_demo())
