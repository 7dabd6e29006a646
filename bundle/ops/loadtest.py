"""`python -m bundle loadtest`: the invocations one instance sustains at a latency goal, and the autoscaling target.

SageMaker's target-tracking metric SageMakerVariantInvocationsPerInstance counts invocations per
instance per minute. AWS's guide "Load testing your auto scaling configuration"
(docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-loadtest.html) says: load-test one instance
with growing concurrency, take the peak rate before latency rises or requests fail, and set the
target to MAX_RPS x SAFETY_FACTOR x 60, starting with a safety factor of 0.5, so scaling starts well
before an instance saturates.

How: closed-loop clients (each sends its next request when the previous answer arrives) call
InvokeEndpoint through boto3 `sagemaker-runtime`, at each concurrency of a ramp, for a bounded time
and a bounded number of requests. A step is sustainable when it has no errors and its p99 latency
(client-side, including the network) is within the goal. The highest sustainable rate, divided by
`--instance-count` (load balancing is assumed even), is the per-instance maximum; the ramp stops at
the first step that is not sustainable. Retries are off, so throttling and model errors show as errors.

One load generator measures one endpoint: run it against an endpoint with the instance type you
deploy, from a machine close to it (same region), with enough client capacity to saturate it.
"""
from __future__ import annotations

import functools
import ipaddress
import json
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import botocore.exceptions
import botocore.regions
import botocore.session
import numpy as np

from bundle.ops import aws
from bundle.ops.client import EndpointClient
from bundle.errors import BundleError
from bundle.ops.examples import instances_request

PERCENTILE = 99
MIN_SAMPLES = 20  # fewer answers than this make a p99 meaningless
MAX_CONCURRENCY = 256
MAX_STEP_SECONDS = 600.0
MAX_STEPS = 12
MAX_TOTAL_SECONDS = 3600.0  # every step's duration together: the load test ends within the hour
# The target must be this machine (an IP literal: a DNS name could point anywhere) or SageMaker's own runtime host.
LOOPBACK_NETWORKS = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
RUNTIME_ENDPOINT_PREFIX = "runtime.sagemaker"  # the service's endpoint prefix in botocore's endpoint data


@dataclass(frozen=True)
class LoadTestConfig:
    endpoint_name: str
    region: str
    endpoint_url: str | None = None
    latency_goal_ms: float = 50.0
    ramp: tuple[int, ...] = (1, 2, 4, 8, 16)
    duration_per_step_s: float = 20.0
    safety_factor: float = 0.5
    instance_count: int = 1
    max_requests_per_step: int = 100_000
    request_timeout_s: float = 10.0
    body: str = field(default_factory=lambda: json.dumps(instances_request()))  # the guide's 3-row request
    content_type: str = "application/json"
    target_model: str | None = None  # a multi-model endpoint's model (TargetModel); the cold load is in the warm-up


@dataclass(frozen=True)
class StepResult:
    concurrency: int
    requests: int
    errors: int
    first_error: str | None
    elapsed_s: float
    invocations_per_minute_per_instance: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    sustainable: bool


@dataclass(frozen=True)
class LoadTestResult:
    config: LoadTestConfig
    steps: list[StepResult]
    percentile: int
    max_sustainable_per_minute_per_instance: float | None
    target_invocations_per_instance: int | None

    def to_json(self) -> dict:
        document = asdict(self)
        del document["config"]["body"]
        return document


def validate(config: LoadTestConfig) -> None:
    if not config.endpoint_name:
        raise BundleError("--endpoint needs an endpoint name")
    if not config.ramp or any(c < 1 or c > MAX_CONCURRENCY for c in config.ramp):
        raise BundleError(f"--ramp needs concurrencies between 1 and {MAX_CONCURRENCY}, e.g. 1,2,4,8,16; got {list(config.ramp)}")
    if config.max_requests_per_step < MIN_SAMPLES:
        raise BundleError(f"--max-requests-per-step must be at least {MIN_SAMPLES} (fewer make a p99 meaningless); got {config.max_requests_per_step}")
    if not 0 < config.duration_per_step_s <= MAX_STEP_SECONDS:
        raise BundleError(f"--duration-per-step must be above 0 and at most {MAX_STEP_SECONDS:.0f} s; got {config.duration_per_step_s}")
    if not 0 < config.safety_factor <= 1:
        raise BundleError(f"--safety-factor must be above 0 and at most 1 (CDK uses 0.5); got {config.safety_factor}")
    if config.latency_goal_ms <= 0:
        raise BundleError(f"--latency-goal-ms must be positive; got {config.latency_goal_ms}")
    if config.instance_count < 1:
        raise BundleError(f"--instance-count must be at least 1; got {config.instance_count}")
    if len(config.ramp) > MAX_STEPS:
        raise BundleError(f"--ramp has {len(config.ramp)} steps; at most {MAX_STEPS}")
    total = len(config.ramp) * config.duration_per_step_s
    if total > MAX_TOTAL_SECONDS:
        raise BundleError(
            f"the ramp would run {total:g} s ({len(config.ramp)} steps x {config.duration_per_step_s:g} s); "
            f"at most {MAX_TOTAL_SECONDS:g} s: fewer steps or a shorter --duration-per-step"
        )
    if config.endpoint_url:
        check_target(config.endpoint_url)


@functools.lru_cache(maxsize=1)
def sagemaker_runtime_hosts() -> frozenset[str]:
    """SageMaker's runtime host names (standard and FIPS) in every region of every partition botocore knows."""
    session = botocore.session.get_session()
    resolver = botocore.regions.EndpointResolver(session.get_component("data_loader").load_data("endpoints"))
    hosts = set()
    for partition in session.get_available_partitions():
        for region in session.get_available_regions("sagemaker-runtime", partition):
            for fips in (False, True):
                endpoint = resolver.construct_endpoint(RUNTIME_ENDPOINT_PREFIX, region, use_fips_endpoint=fips)
                if endpoint and endpoint.get("hostname"):
                    hosts.add(endpoint["hostname"].lower())
    return frozenset(hosts)


def is_loopback_literal(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name, even "127.x.example.com" or "localhost": it resolves wherever DNS says
    return any(address in network for network in LOOPBACK_NETWORKS)


def check_target(url: str) -> None:
    """Loopback IP literals (the local endpoint) or SageMaker's runtime host for a region; nothing else."""
    host = (urlparse(url).hostname or "").lower()
    if is_loopback_literal(host) or host in sagemaker_runtime_hosts():
        return
    raise BundleError(
        f"endpoint URL {url!r} is not allowed: the load test targets only a loopback IP address (127.0.0.0/8 or ::1) "
        "or SageMaker's runtime host of a region (runtime.sagemaker.<region>.<AWS domain>)"
    )


def run_loadtest(config: LoadTestConfig, progress=lambda step: None) -> LoadTestResult:
    validate(config)
    # The bundle's client with every retry off (botocore's and ModelNotReady's): throttling and errors show as errors.
    clients = [
        EndpointClient(
            config.endpoint_name,
            runtime=aws.client("sagemaker-runtime", config.region, endpoint_url=config.endpoint_url, max_attempts=1, timeout=config.request_timeout_s),
            not_ready_attempts=1,
        )
        for _ in range(max(config.ramp))
    ]  # created here, not in the workers: boto3's default session is not thread-safe
    # What the client really calls: environment variables or the shared config's endpoint_url may have set it.
    for url in {c.runtime.meta.endpoint_url for c in clients}:
        check_target(url)
    warm_up(clients[0], config)
    steps = []
    for concurrency in config.ramp:
        step = run_step(clients[:concurrency], config)
        steps.append(step)
        progress(step)
        if not step.sustainable:
            break  # past saturation more load only adds queueing
    sustainable = [s.invocations_per_minute_per_instance for s in steps if s.sustainable]
    best = max(sustainable) if sustainable else None
    target = math.floor(config.safety_factor * best) if best else None
    return LoadTestResult(config, steps, PERCENTILE, best, target or None)


def warm_up(client, config: LoadTestConfig) -> None:
    """One call before timing: connection set-up, and a clear error when the endpoint is not there."""
    try:
        invoke(client, config)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise BundleError(f"cannot invoke endpoint {config.endpoint_name!r}: {e}") from None


def invoke(client: EndpointClient, config: LoadTestConfig) -> None:
    client.invoke(config.body, content_type=config.content_type, accept="application/json", target_model=config.target_model)


def run_step(clients: list, config: LoadTestConfig) -> StepResult:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = 0
    start = threading.Barrier(len(clients) + 1)
    deadline = 0.0

    def work(client) -> None:
        nonlocal issued
        start.wait()
        while time.perf_counter() < deadline:
            with lock:
                if issued >= config.max_requests_per_step:
                    return
                issued += 1
            began = time.perf_counter()
            try:
                invoke(client, config)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
                with lock:
                    errors.append(_error_name(e))
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    deadline = time.perf_counter() + config.duration_per_step_s
    began = time.perf_counter()
    start.wait()
    for thread in threads:  # each stops at the deadline, after at most one request's timeout
        thread.join(config.duration_per_step_s + config.request_timeout_s + 5)
    elapsed = time.perf_counter() - began
    return summarize(len(clients), latencies, errors, elapsed, config)


def summarize(concurrency: int, latencies: list[float], errors: list[str], elapsed: float, config: LoadTestConfig) -> StepResult:
    ms = np.asarray(latencies) * 1e3
    p50, p90, p99 = (round(float(np.percentile(ms, q)), 3) for q in (50, 90, PERCENTILE)) if len(ms) else (None, None, None)
    per_minute = len(latencies) / elapsed * 60 / config.instance_count
    sustainable = not errors and len(ms) >= MIN_SAMPLES and p99 <= config.latency_goal_ms
    return StepResult(
        concurrency=concurrency,
        requests=len(latencies) + len(errors),
        errors=len(errors),
        first_error=errors[0] if errors else None,
        elapsed_s=round(elapsed, 3),
        invocations_per_minute_per_instance=round(per_minute, 1),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        sustainable=sustainable,
    )


def _error_name(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        return error.response.get("Error", {}).get("Code", type(error).__name__)
    return type(error).__name__


def table(result: LoadTestResult) -> str:
    config = result.config
    lines = [
        f"endpoint {config.endpoint_name} ({config.endpoint_url or 'AWS, ' + config.region}), latency goal p{result.percentile} <= "
        f"{config.latency_goal_ms:g} ms, {config.duration_per_step_s:g} s per step, rates per instance (instances: {config.instance_count})",
        "",
        "| clients | requests | errors | invocations/min/instance | p50 | p90 | p99 | sustainable |",
        "|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for s in result.steps:
        cells = [f"{v:.2f} ms" if v is not None else "-" for v in (s.p50_ms, s.p90_ms, s.p99_ms)]
        errors = f"{s.errors} ({s.first_error})" if s.errors else "0"
        lines.append(
            f"| {s.concurrency} | {s.requests} | {errors} | {s.invocations_per_minute_per_instance:,.0f} | {' | '.join(cells)} "
            f"| {'yes' if s.sustainable else 'no'} |"
        )
    lines.append("")
    if result.target_invocations_per_instance is None:
        lines.append(f"no step met p{result.percentile} <= {config.latency_goal_ms:g} ms without errors: no recommendation")
    else:
        lines.append(
            f"max sustainable: {result.max_sustainable_per_minute_per_instance:,.1f} invocations/min/instance; "
            f"recommended target_invocations_per_instance = {config.safety_factor:g} x that = {result.target_invocations_per_instance}"
        )
    return "\n".join(lines)


def parse_ramp(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BundleError(f"--ramp takes comma-separated integers such as 1,2,4,8,16; got {text!r}") from None


def read_body(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(f"cannot read --body {path}: {e}") from None


def main(args) -> int:
    config = LoadTestConfig(
        endpoint_name=args.endpoint,
        region=args.region or aws.default_region() or "us-east-1",
        endpoint_url=args.endpoint_url,
        latency_goal_ms=args.latency_goal_ms,
        ramp=parse_ramp(args.ramp),
        duration_per_step_s=args.duration_per_step,
        max_requests_per_step=args.max_requests_per_step,
        safety_factor=args.safety_factor,
        instance_count=args.instance_count,
        content_type=args.content_type,
        target_model=getattr(args, "target_model", None),
        **({"body": read_body(args.body)} if args.body else {}),
    )

    def report(step: StepResult) -> None:
        print(f"loadtest: {step.concurrency} client(s): {step.invocations_per_minute_per_instance:,.0f}/min, p99 {step.p99_ms} ms", file=sys.stderr)

    result = run_loadtest(config, progress=report)
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    if result.target_invocations_per_instance is None:
        raise BundleError("no recommendation: lower the first ramp step, raise --latency-goal-ms, or check the errors above")
    return 0
