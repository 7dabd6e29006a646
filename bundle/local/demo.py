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
    quality = model_quality_demo()
    return smoke.returncode or quality


def model_quality_demo() -> int:
    """Step 7: examples/monitoring/params.json emulated; labelled calls captured by the local endpoint (the image's
    worker), their ground truth written, accuracy and drift computed and published into moto, the metric read back."""
    from bundle.params.rules import validate
    from bundle.params.sources import read_params_file
    from bundle.names import MODEL_QUALITY_NAMESPACE, PREDICTION_ACCURACY_METRIC, model_quality_dimensions
    from bundle.artifact.baseline import training_data

    params = validate(read_params_file(REPO_ROOT / "examples" / "monitoring" / "params.json"))
    evaluation = evaluate(params)
    quality = evaluation.outputs["monitoring"]
    artifact = build_artifact(image_version=params.serving_image_version)
    print(f"7. model quality (examples/monitoring/params.json, alarm under {quality['accuracy_threshold']}):")
    with EmulatedDeployment(evaluation, artifact.path) as deployment:
        runtime = aws.client("sagemaker-runtime", deployment.region, endpoint_url=deployment.runtime_url)
        labels = BUILD / "monitoring-labels.jsonl"
        # Traffic like the training data: every fifth Iris row, labelled with its species.
        from sklearn.datasets import load_iris

        rows, species = training_data().rows[::5], load_iris().target[::5]
        with labels.open("w") as f:
            for i, (features, label) in enumerate(zip(rows.tolist(), species.tolist())):
                inference_id = f"demo-{i:03d}"
                runtime.invoke_endpoint(
                    EndpointName=params.endpoint_name, ContentType="application/json", Body=json.dumps({"instances": [features]}), InferenceId=inference_id
                )
                f.write(json.dumps({"inference_id": inference_id, "label": label}) + "\n")
        deployment.flush()  # what SageMaker writes within minutes, written into moto's S3 now
        print(f"     {len(rows)} calls with an InferenceId, captured under {quality['capture']}")
        region = ["--region", deployment.region]
        commands = [
            ["monitor", "ground-truth", "--labels", str(labels), "--out", quality["ground_truth"], *region],
            ["monitor", "accuracy", "--captured", quality["capture"], "--ground-truth", quality["ground_truth"], "--endpoint", params.endpoint_name, "--publish", *region],
            ["monitor", "drift", "--captured", quality["capture"], "--endpoint", params.endpoint_name, "--publish", *region],
        ]
        failed = 0
        for command in commands:
            print(f"   python -m bundle {' '.join(command[:2])} ...")
            run = subprocess.run([sys.executable, "-m", "bundle", *command], cwd=REPO_ROOT, env={**os.environ, **deployment.env()}, capture_output=True, text=True)
            print("\n".join(f"     {line}" for line in (run.stdout + run.stderr).rstrip().splitlines()))
            failed = failed or run.returncode
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        points = deployment.client("cloudwatch").get_metric_statistics(
            Namespace=MODEL_QUALITY_NAMESPACE, MetricName=PREDICTION_ACCURACY_METRIC,
            Dimensions=[{"Name": k, "Value": v} for k, v in model_quality_dimensions(params.endpoint_name, params.primary.name).items()],
            StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=1), Period=3600, Statistics=["Average"],
        )["Datapoints"]  # fmt: skip
        print(f"     in moto's CloudWatch: {MODEL_QUALITY_NAMESPACE}/{PREDICTION_ACCURACY_METRIC} = {[p['Average'] for p in points]}")
    return failed or (0 if points else 1)


def params_region(evaluation) -> str:
    return evaluation.outputs["endpoint"]["region"]


if __name__ == "__main__":
    sys.exit(run_demo())
