"""`python -m bundle monitor`: the model's quality in production, from its captured data.

  monitor ground-truth  write labels for captured requests, as Model Monitor's ground-truth merge expects them: JSON
                        lines {"groundTruthData": {"data", "encoding"}, "eventMetadata": {"eventId": <InferenceId>},
                        "eventVersion": "0"} under <ground-truth location>yyyy/mm/dd/hh/ (the captured data's layout)
  monitor accuracy      join captured predictions with those labels (on inferenceId when the record has one, else on
                        eventId, as Model Monitor does) and print, per variant, accuracy, per-class recall and the
                        confusion matrix (scikit-learn's metrics); --publish puts PredictionAccuracy into CloudWatch
                        (bundle/names.py's namespace and dimensions), which the stack's alarm watches
  monitor drift         compare each captured feature with the training data (bundle/artifact/baseline.py): the
                        population stability index over the training deciles and scipy's two-sample KS test; says
                        which features drifted (PSI at the threshold or more, and KS significant); --publish puts the worst PSI as FeatureDriftPSIMax; --agreement
                        compares the variants' predictions (a shadow's answers to the same requests, or A/B shares)

Where from: the stack's outputs (--outputs FILE or --stack NAME: the capture and ground-truth locations in S3), or
given locations: --captured s3://... (the capture folder <destination>/<endpoint>/) or DIR of capture .jsonl files
(laid out <variant>/yyyy/mm/dd/hh/, or flat), and --ground-truth s3://... (the ground-truth folder) or FILE. Captured bodies are read with the model's own request parser
(model/inference.py), so every content type the endpoint accepts is understood here the same way.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bundle.errors import BundleError
from bundle.names import (
    FEATURE_DRIFT_METRIC,
    MODEL_QUALITY_NAMESPACE,
    PREDICTION_ACCURACY_METRIC,
    model_quality_dimensions,
)
from bundle.ops import aws
from bundle.ops.captured import (
    CaptureSet,
    Captured,
    captured_from_directory,
    captured_from_s3,
    ground_truth_from_text,
    ground_truth_key,
    ground_truth_record,
    s3_objects,
)

DEFAULT_PSI_THRESHOLD = 0.2  # the usual reading: under 0.1 stable, 0.1 to 0.2 moderate, above 0.2 a significant shift
DEFAULT_KS_ALPHA = 0.01
PSI_BINS = 10  # deciles of the training data
PSI_SMOOTHING = 0.5  # added to every bin's count (Jeffreys): an empty bin of a small sample has a finite logarithm


# --- accuracy -----------------------------------------------------------------------------------------------------


@dataclass
class VariantAccuracy:
    variant: str
    labels: list[str]  # the classes, in the matrix's order
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]  # rows: the truth; columns: the prediction
    rows: int  # predictions judged
    unlabelled: int  # captured calls without ground truth


def variant_accuracy(variant: str, records: list[Captured], truth: dict[str, list[str]]) -> VariantAccuracy | None:
    from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

    names = {n: p for r in records for n, p in zip(r.names, r.predictions)}  # a label given by name compares as the prediction
    y_true, y_pred, unlabelled = [], [], 0
    for r in records:
        given = truth.get(r.record_id)
        if given is None or len(given) != len(r.predictions):
            unlabelled += 1
            continue
        y_true += [names.get(label, label) for label in given]
        y_pred += r.predictions
    if not y_true:
        return None
    labels = sorted(set(y_true) | set(y_pred), key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip("-").isdigit() else 0, v))
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return VariantAccuracy(
        variant,
        labels,
        float(accuracy_score(y_true, y_pred)),
        {label: float(value) for label, value in zip(labels, recall)},
        confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        len(y_true),
        unlabelled,
    )


def accuracy_table(results: list[VariantAccuracy], skipped: int) -> str:
    lines = []
    for r in results:
        lines.append(f"variant {r.variant}: accuracy {r.accuracy:.4f} over {r.rows} labelled predictions ({r.unlabelled} captured calls without labels)")
        lines.append("  recall:  " + "  ".join(f"{label}={value:.4f}" for label, value in r.recall.items()))
        width = max(len(label) for label in r.labels) + 2
        lines.append("  confusion (rows: truth, columns: prediction)")
        lines.append("  " + " " * width + "".join(label.rjust(width) for label in r.labels))
        for label, row in zip(r.labels, r.confusion):
            lines.append("  " + label.rjust(width) + "".join(str(n).rjust(width) for n in row))
    if skipped:
        lines.append(f"({skipped} captured lines had no request and answer to judge)")
    return "\n".join(lines)


def publish(cloudwatch, endpoint_name: str, metric: str, values: dict[str, float]) -> None:
    """One value per variant, with the stack's alarm's namespace and dimensions."""
    data = [
        {"MetricName": metric, "Dimensions": [{"Name": k, "Value": v} for k, v in model_quality_dimensions(endpoint_name, variant).items()], "Value": value, "Unit": "None"}
        for variant, value in values.items()
    ]
    if data:
        cloudwatch.put_metric_data(Namespace=MODEL_QUALITY_NAMESPACE, MetricData=data)


# --- drift --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    psi: float
    ks_statistic: float
    ks_pvalue: float
    drifted: bool


def population_stability_index(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI over the expected (training) data's quantile bins: sum of (a - e) * ln(a / e) over the bins' shares, each
    share smoothed by PSI_SMOOTHING counts. A small sample's PSI is noisy (a few hundred rows steady it): that is why a
    feature is called drifted only when the KS test also rejects (feature_drift)."""
    inner = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    edges = np.concatenate(([-np.inf], inner, [np.inf]))

    def shares(values: np.ndarray) -> np.ndarray:
        counts = np.histogram(values, edges)[0] + PSI_SMOOTHING
        return counts / counts.sum()

    e, a = shares(expected), shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def feature_drift(training, rows: np.ndarray, psi_threshold: float, ks_alpha: float) -> list[FeatureDrift]:
    from scipy.stats import ks_2samp

    found = []
    for index, name in enumerate(training.names):
        expected, actual = training.column(name), rows[:, index]
        psi = population_stability_index(expected, actual)
        ks = ks_2samp(actual, expected)
        # Both must agree: the shift is large (PSI) and not chance (KS), so a small sample's noisy PSI alone flags nothing.
        found.append(FeatureDrift(name, psi, float(ks.statistic), float(ks.pvalue), psi >= psi_threshold and ks.pvalue < ks_alpha))
    return found


def drift_table(variant: str, rows: int, drift: list[FeatureDrift], psi_threshold: float, ks_alpha: float) -> str:
    lines = [f"variant {variant}: {rows} captured rows against the training data (drifted: PSI >= {psi_threshold:g} and KS p < {ks_alpha:g})"]
    lines.append(f"  {'feature':<14}{'PSI':>9}{'KS D':>9}{'KS p':>11}  drifted")
    for d in drift:
        lines.append(f"  {d.name:<14}{d.psi:>9.4f}{d.ks_statistic:>9.4f}{d.ks_pvalue:>11.3g}  {'yes' if d.drifted else 'no'}")
    drifted = [d.name for d in drift if d.drifted]
    lines.append(f"  drifted: {', '.join(drifted) if drifted else 'none'}")
    return "\n".join(lines)


def agreement_table(captured: CaptureSet) -> str:
    """Variants' predictions on the same requests (a shadow's copies keep the production call's InferenceId): the share
    that agree and Cohen's kappa; without shared requests (A/B), each variant's class shares and a chi-square test."""
    from scipy.stats import chi2_contingency
    from sklearn.metrics import accuracy_score, cohen_kappa_score

    variants = captured.variants()
    if len(variants) < 2:
        return "agreement: one variant captured, nothing to compare"
    by_id = defaultdict(dict)
    for r in captured.records:
        by_id[r.record_id][r.variant] = r.predictions
    lines = []
    for i, a in enumerate(variants):
        for b in variants[i + 1 :]:
            pa, pb = [], []
            for answers in by_id.values():
                if a in answers and b in answers and len(answers[a]) == len(answers[b]):
                    pa += answers[a]
                    pb += answers[b]
            if pa:
                kappa = cohen_kappa_score(pa, pb) if len(set(pa) | set(pb)) > 1 else 1.0
                lines.append(f"agreement {a} vs {b}: {accuracy_score(pa, pb):.4f} of {len(pa)} predictions on the same requests (Cohen's kappa {kappa:.4f})")
                continue
            classes = sorted({p for r in captured.records for p in r.predictions})
            table = np.array([[sum(r.predictions.count(c) for r in captured.of(v)) for c in classes] for v in (a, b)])
            table = table[:, table.sum(axis=0) > 0]
            shares = {v: {c: n / max(1, row.sum()) for c, n in zip(classes, row)} for v, row in zip((a, b), table)}
            p = chi2_contingency(table).pvalue if table.shape[1] > 1 else 1.0
            shown = "; ".join(f"{v}: " + ", ".join(f"{c}={s:.3f}" for c, s in shares[v].items()) for v in (a, b))
            lines.append(f"agreement {a} vs {b}: no shared requests; class shares {shown} (chi-square p {p:.3g})")
    return "\n".join(lines)


# --- the command --------------------------------------------------------------------------------------------------


def _feature_names() -> tuple[str, ...]:
    from bundle.artifact.baseline import training_data

    return training_data().names


def _stack(args) -> dict | None:
    if getattr(args, "outputs", None):
        from bundle.guide.outputs import read_outputs_file

        return read_outputs_file(args.outputs)
    if getattr(args, "stack", None):
        from bundle.guide.outputs import read_stack_outputs

        return read_stack_outputs(args.stack)
    return None


@dataclass(frozen=True)
class Target:
    endpoint_name: str | None
    region: str
    capture: str | None  # s3:// location
    ground_truth: str | None  # s3:// location
    primary: str


def _target(args) -> Target:
    outputs = _stack(args)
    region = getattr(args, "region", None) or aws.default_region() or "us-east-1"
    if outputs is None:
        return Target(args.endpoint, region, None, None, args.variant)
    monitoring = outputs.get("monitoring")
    capture = (outputs.get("data_capture") or {}).get("destination")
    if not capture:
        raise BundleError("the stack captures no data (data_capture.enabled is false): there is nothing to judge")
    return Target(
        outputs["endpoint"]["endpoint_name"],
        getattr(args, "region", None) or outputs["endpoint"]["region"],
        capture,
        monitoring["ground_truth"] if monitoring else None,
        outputs.get("variant_name") or args.variant,
    )


def _captured(args, target: Target, names: tuple[str, ...]) -> CaptureSet:
    if args.captured and args.captured.startswith("s3://"):
        return captured_from_s3(aws.client("s3", target.region), args.captured.rstrip("/") + "/", names)
    if args.captured:
        return captured_from_directory(Path(args.captured), target.primary, names)
    if not target.capture:
        raise BundleError("give --outputs FILE (or --stack NAME) to read the stack's capture in S3, or --captured DIR")
    return captured_from_s3(aws.client("s3", target.region), target.capture, names)


def run_ground_truth(args) -> int:
    """Labels file (JSON lines {"inference_id": ..., "label": ...} or {"inference_id": ..., "labels": [...]}) -> Model
    Monitor's ground-truth lines, uploaded under the stack's ground-truth location (or written to --out FILE)."""
    records = []
    for number, raw in enumerate(Path(args.labels).read_text().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            labels = line["labels"] if "labels" in line else [line["label"]]
            records.append(ground_truth_record(str(line["inference_id"]), labels))
        except (ValueError, KeyError, TypeError):
            raise BundleError(f"--labels {args.labels} line {number}: expected {{\"inference_id\": ..., \"label\": ...}} (or \"labels\": [...])") from None
    body = "".join(json.dumps(r) + "\n" for r in records)
    if args.out and not args.out.startswith("s3://"):
        Path(args.out).write_text(body)
        print(f"{len(records)} ground-truth records written to {args.out}")
        return 0
    target = _target(args)
    location = args.out.rstrip("/") + "/" if args.out else target.ground_truth
    if not location:
        raise BundleError("give --out s3://... (the stack's ground-truth location) or FILE, or --outputs FILE of a stack with monitoring.enabled")
    bucket, key = ground_truth_key(location)
    aws.client("s3", target.region).put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/jsonlines")
    print(f"{len(records)} ground-truth records written to s3://{bucket}/{key}")
    return 0


def run_accuracy(args) -> int:
    target = _target(args)
    captured = _captured(args, target, _feature_names())
    location = args.ground_truth.rstrip("/") + "/" if args.ground_truth and args.ground_truth.startswith("s3://") else target.ground_truth
    if args.ground_truth and not args.ground_truth.startswith("s3://"):
        truth = ground_truth_from_text([Path(args.ground_truth).read_text()])
    elif location:
        truth = ground_truth_from_text([body for relative, body in s3_objects(aws.client("s3", target.region), location) if relative.endswith(".jsonl")])
    else:
        raise BundleError("give --ground-truth FILE, or --outputs FILE of a stack with monitoring.enabled (its ground-truth location)")
    results = [r for v in captured.variants() if (r := variant_accuracy(v, captured.of(v), truth))]
    if not results:
        raise BundleError(f"no captured prediction has a label ({len(captured.records)} captured calls, {len(truth)} labels): check that the labels' eventId is the request's InferenceId")
    if args.json:
        print(json.dumps([vars(r) for r in results], indent=2))
    else:
        print(accuracy_table(results, captured.skipped))
    if args.publish:
        if not target.endpoint_name:
            raise BundleError("--publish needs the endpoint's name: --outputs FILE, --stack NAME or --endpoint NAME")
        publish(aws.client("cloudwatch", target.region), target.endpoint_name, PREDICTION_ACCURACY_METRIC, {r.variant: r.accuracy for r in results})
        print(f"published {PREDICTION_ACCURACY_METRIC} to {MODEL_QUALITY_NAMESPACE} for " + ", ".join(f"{r.variant}={r.accuracy:.4f}" for r in results))
    return 0


def run_drift(args) -> int:
    from bundle.artifact.baseline import training_data

    training = training_data()
    target = _target(args)
    captured = _captured(args, target, training.names)
    if not captured.records:
        raise BundleError(f"no captured request to compare ({captured.skipped} lines without a request and an answer)")
    worst, any_drift, report = {}, False, []
    for variant in captured.variants():
        rows = np.vstack([r.rows for r in captured.of(variant)])
        drift = feature_drift(training, rows, args.psi_threshold, args.ks_alpha)
        worst[variant] = max(d.psi for d in drift)
        any_drift = any_drift or any(d.drifted for d in drift)
        report.append({"variant": variant, "rows": int(rows.shape[0]), "features": [vars(d) for d in drift]})
        if not args.json:
            print(drift_table(variant, rows.shape[0], drift, args.psi_threshold, args.ks_alpha))
    if args.json:
        print(json.dumps(report, indent=2, default=lambda v: bool(v) if isinstance(v, np.bool_) else float(v)))
    if args.agreement:
        print(agreement_table(captured))
    if args.publish:
        if not target.endpoint_name:
            raise BundleError("--publish needs the endpoint's name: --outputs FILE, --stack NAME or --endpoint NAME")
        publish(aws.client("cloudwatch", target.region), target.endpoint_name, FEATURE_DRIFT_METRIC, worst)
        print(f"published {FEATURE_DRIFT_METRIC} to {MODEL_QUALITY_NAMESPACE} for " + ", ".join(f"{v}={p:.4f}" for v, p in worst.items()))
    return 1 if (any_drift and args.fail_on_drift) else 0


def _sources(p, offline_help: str | None) -> None:
    p.add_argument("--outputs", help="a JSON file of the stack's outputs: read its capture (and ground truth) in S3")
    p.add_argument("--stack", help="read `pulumi stack output --json --stack NAME` instead")
    if offline_help:
        p.add_argument("--captured", help=offline_help)
    p.add_argument("--endpoint", help="the endpoint's name, for --publish without outputs")
    p.add_argument("--variant", default="primary", help="the variant of flat capture files (default primary)")
    p.add_argument("--region", help="AWS region (default: the outputs', else AWS_REGION / AWS_DEFAULT_REGION)")
    p.add_argument("--connections", help="act as the aws_authentication role of this connections file (default $BUNDLE_CONNECTIONS_FILE)")


def add_parsers(commands) -> None:
    p = commands.add_parser("monitor", help="model quality from captured data: ground truth, accuracy, drift")
    monitor = p.add_subparsers(dest="monitor_command", required=True)

    p = monitor.add_parser("ground-truth", help="write labels for captured requests in Model Monitor's ground-truth format")
    p.add_argument("--labels", required=True, help='JSON lines: {"inference_id": "...", "label": 2} (or "labels": [...] for a multi-row request)')
    p.add_argument("--out", help="where to write: the ground-truth location s3://... (default: the stack's), or a local FILE")
    _sources(p, None)
    p.set_defaults(run=run_ground_truth)

    p = monitor.add_parser(
        "accuracy", help="accuracy, per-class recall and the confusion matrix per variant, from captured predictions and ground truth"
    )
    _sources(p, "the capture folder s3://<destination>/<endpoint>/, or a DIR of capture .jsonl files (<variant>/yyyy/mm/dd/hh/ or flat)")
    p.add_argument("--ground-truth", help="the ground-truth location s3://... or a FILE of ground-truth lines (default: the stack's location)")
    p.add_argument("--publish", action="store_true", help=f"put {PREDICTION_ACCURACY_METRIC} per variant to CloudWatch ({MODEL_QUALITY_NAMESPACE})")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run_accuracy)

    p = monitor.add_parser("drift", help="PSI and a KS test per feature against the training data; which features drifted")
    _sources(p, "the capture folder s3://<destination>/<endpoint>/, or a DIR of capture .jsonl files (<variant>/yyyy/mm/dd/hh/ or flat)")
    p.add_argument("--psi-threshold", type=float, default=DEFAULT_PSI_THRESHOLD, help=f"a feature drifted at this PSI or more (default {DEFAULT_PSI_THRESHOLD})")
    p.add_argument("--ks-alpha", type=float, default=DEFAULT_KS_ALPHA, help=f"... and the KS test's p-value is under this (default {DEFAULT_KS_ALPHA})")
    p.add_argument("--agreement", action="store_true", help="also compare the variants' predictions (shadow: on the same requests; A/B: class shares)")
    p.add_argument("--publish", action="store_true", help=f"put the worst feature's PSI per variant to CloudWatch as {FEATURE_DRIFT_METRIC}")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 1 when a feature drifted (for a scheduled job)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(run=run_drift)
