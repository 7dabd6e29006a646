"""`python -m bundle bench`: what the bundle costs on this machine, as medians, p99s and ratios.

Every number comes from repeated runs in one process, so anyone can rerun it and compare:

  artifact build       cold (forced, into a temporary cache) and cached
  plan                 `python -m bundle plan --json` as a subprocess, when the plan command exists
  model_fn             loading the unpacked artifact, as each serving worker does once
  single-row request   over HTTP, one keep-alive connection, to the image's worker (p50 and p99)
  1000-row batch       over HTTP, and the bare `predict_proba` on the same rows as a ready array,
                       interleaved request by request so machine noise hits both alike; their ratio
                       is the serving overhead
  throughput           1000-row batches, rows/s, at 1 and at 2 concurrent clients
  SDK defaults         the same worker serving only a `model_fn` (the image's default input, predict
                       and output handlers, bundle/container/sdk_defaults.py) on a JSON array: what a
                       user of the SDK's defaults gets, side by side

Requests go to the serving image's own worker (gunicorn + gevent + sagemaker-containers in
.venv-image, started by `python -m bundle serve` with one worker per CPU, as the image does), not
through the runtime-API front, so the numbers are the data plane's.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import psutil

from bundle.artifact.build import build_artifact
from bundle.artifact.tarball import deterministic_tarball
from bundle.paths import CONTAINER_CODE, REPO_ROOT
from bundle.errors import BundleError
from bundle.local.endpoint import LocalEndpoint
from bundle.local.inprocess import load_artifact
from bundle.perf.timing import KeepAliveClient, Timing, instances_body, interleaved, iris_rows, repeat

BATCH_ROWS = 1000


@dataclass(frozen=True)
class BenchConfig:
    """How many repetitions: the full run stays under a minute on 2 cores, --quick under ~10 s."""

    build_cold_runs: int = 3
    build_cached_runs: int = 10
    plan_runs: int = 3
    model_fn_runs: int = 20
    single_row_requests: int = 2000
    batch_requests: int = 200
    throughput_rounds: int = 5
    throughput_requests_per_client: int = 25
    concurrent_clients: int = 2
    warmup_requests: int = 20

    @classmethod
    def quick(cls) -> "BenchConfig":
        return cls(1, 3, 1, 3, 150, 15, 1, 5, 2, 5)


@dataclass(frozen=True)
class Overhead:
    """The same rows through the endpoint and through the bare estimator, measured alternately."""

    rows: int
    served: Timing
    bare: Timing

    @property
    def ratio(self) -> float:
        return self.served.median_ms / self.bare.median_ms

    @property
    def added_ms(self) -> float:
        return self.served.median_ms - self.bare.median_ms


@dataclass(frozen=True)
class Throughput:
    clients: int
    rows_per_s: float  # median over rounds
    rounds: int


@dataclass(frozen=True)
class BenchResult:
    machine: dict
    build_cold: Timing
    build_cached: Timing
    plan: Timing | str  # a reason when the plan command cannot be timed
    model_fn: Timing
    ping: Timing  # the HTTP round trip alone: the floor under every request
    single_row: Timing
    batch: Overhead
    cpu: CpuOverhead  # the same comparison in CPU time: what the worker spends, however busy the machine
    throughput: list[Throughput]
    defaults_single_row: Timing  # the image's default handlers (SDK defaults), same worker
    defaults_batch: Timing

    def to_json(self) -> dict:
        document = asdict(self)
        document["batch"]["ratio"] = round(self.batch.ratio, 3)
        document["batch"]["added_ms"] = round(self.batch.added_ms, 3)
        document["cpu"]["ratio"] = round(self.cpu.ratio, 3)
        return document


def measure_overhead(url: str, estimator, rows: np.ndarray, requests: int, warmup: int = 3) -> Overhead:
    """Alternate one HTTP request and one bare predict_proba on the same rows; compare medians."""
    body = instances_body(rows)
    client = KeepAliveClient(url)
    try:
        actions = {"served": lambda: client.post(body), "bare": lambda: estimator.predict_proba(rows)}
        interleaved(actions, warmup)
        measured = interleaved(actions, requests)
    finally:
        client.close()
    return Overhead(len(rows), measured["served"], measured["bare"])


@dataclass(frozen=True)
class CpuOverhead:
    """CPU seconds per request in the serving worker processes against CPU seconds of the bare predict_proba.

    CPU time is what the work costs, not how long it waited for a core: a busy machine stretches wall
    times (and their ratio), not this. Read through psutil, over many requests (the clock ticks are 10 ms)."""

    rows: int
    requests: int
    served_cpu_ms: float
    bare_cpu_ms: float

    @property
    def ratio(self) -> float:
        return self.served_cpu_ms / self.bare_cpu_ms


def measure_cpu_overhead(url: str, worker_pids: list[int], estimator, rows: np.ndarray, requests: int, warmup: int = 5) -> CpuOverhead:
    body = instances_body(rows)
    workers = [psutil.Process(pid) for pid in worker_pids]

    def cpu_seconds() -> float:
        return sum(sum(w.cpu_times()[:2]) for w in workers)  # user + system

    client = KeepAliveClient(url)
    try:
        for _ in range(warmup):
            client.post(body)
        start = cpu_seconds()
        for _ in range(requests):
            client.post(body)
        served = (cpu_seconds() - start) / requests
    finally:
        client.close()
    start = time.process_time()
    for _ in range(requests):
        estimator.predict_proba(rows)
    bare = (time.process_time() - start) / requests
    return CpuOverhead(len(rows), requests, served * 1e3, bare * 1e3)


def measure_throughput(url: str, body: bytes, rows_per_request: int, clients: int, requests_per_client: int, rounds: int) -> Throughput:
    """`clients` threads, each with its own connection, send a fixed number of requests (bounded)."""
    rates = []
    for _ in range(rounds):
        connections = [KeepAliveClient(url) for _ in range(clients)]
        errors: list[Exception] = []
        start = threading.Barrier(clients + 1)

        def work(client: KeepAliveClient) -> None:
            start.wait()
            try:
                for _ in range(requests_per_client):
                    client.post(body)
            except Exception as e:  # reported in the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in connections]
        for thread in threads:
            thread.start()
        start.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        for client in connections:
            client.close()
        if errors:
            raise BundleError(f"throughput run failed: {errors[0]}")
        rates.append(clients * requests_per_client * rows_per_request / elapsed)
    return Throughput(clients, round(statistics.median(rates), 1), rounds)


@contextmanager
def endpoint_process(artifact_path: Path) -> Iterator[LocalEndpoint]:
    """The local endpoint with one gunicorn worker per CPU, as the image runs; requests go to the worker itself
    (its own processes), so the benchmark's client threads never share an interpreter with the server."""
    with LocalEndpoint(artifact_path, port=0, workers=os.cpu_count() or 1) as endpoint:
        yield endpoint


# --- the parts ------------------------------------------------------------------------------------


def bench_build(config: BenchConfig) -> tuple[Timing, Timing]:
    with tempfile.TemporaryDirectory(prefix="bundle-bench-cache-") as cache:
        cold = repeat(lambda: build_artifact(force=True, cache_dir=Path(cache)), config.build_cold_runs)
        cached = repeat(lambda: build_artifact(cache_dir=Path(cache)), config.build_cached_runs)
    return cold, cached


def bench_plan(runs: int) -> Timing | str:
    """`python -m bundle plan --json` as a subprocess; a failure is reported in the table, not raised."""
    command = [sys.executable, "-m", "bundle", "plan", "--json"]

    def plan() -> None:
        result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise BundleError(f"`python -m bundle plan --json` failed ({result.returncode}): {result.stderr.strip()[-300:]}")

    try:
        return repeat(plan, runs)
    except BundleError as e:
        return f"failed: {e}"


def bench_model_fn(artifact_path: Path, runs: int) -> tuple[Timing, object]:
    """Times the shipped model_fn on the unpacked artifact; returns the estimator for the bare calls."""
    with tempfile.TemporaryDirectory(prefix="bundle-bench-model-") as scratch:
        loaded = load_artifact(artifact_path, Path(scratch))
        load = repeat(lambda: loaded.handlers.model_fn(scratch), runs)
    return load, loaded.model.estimator


def sdk_defaults_artifact(artifact_path: Path, into: Path) -> Path:
    """The bundle's model with bundle/container/sdk_defaults.py as its code/inference.py."""
    import tarfile

    with tarfile.open(artifact_path, "r:gz") as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    files["code/inference.py"] = (CONTAINER_CODE / "sdk_defaults.py").read_bytes()
    path = into / "sdk-defaults-model.tar.gz"
    path.write_bytes(deterministic_tarball(files))
    return path


def bench_sdk_defaults(artifact_path: Path, rows: np.ndarray, config: "BenchConfig") -> tuple[Timing, Timing]:
    """1-row and 1000-row JSON-array requests to the same worker serving the image's default handlers."""
    with tempfile.TemporaryDirectory(prefix="bundle-bench-defaults-") as scratch:
        with endpoint_process(sdk_defaults_artifact(artifact_path, Path(scratch))) as endpoint:
            url = endpoint.worker_url
            client = KeepAliveClient(url)
            one, batch = json.dumps(rows[:1].tolist()).encode(), json.dumps(rows.tolist()).encode()
            actions = {"one": lambda: client.post(one), "batch": lambda: client.post(batch)}
            interleaved(actions, config.warmup_requests)
            measured = interleaved(actions, config.batch_requests)
            client.close()
    return measured["one"], measured["batch"]


def run_bench(config: BenchConfig = BenchConfig(), progress: Callable[[str], None] = lambda _: None) -> BenchResult:
    progress("artifact build (cold, cached)")
    cold, cached = bench_build(config)
    progress("plan")
    plan = bench_plan(config.plan_runs)
    artifact = build_artifact()
    progress("model_fn")
    load, estimator = bench_model_fn(artifact.path, config.model_fn_runs)
    rows = iris_rows(BATCH_ROWS)
    with endpoint_process(artifact.path) as endpoint:
        url = endpoint.worker_url
        progress("ping and single-row requests")
        client = KeepAliveClient(url)
        one = instances_body(rows[:1])
        interleaved({"ping": client.ping, "one": lambda: client.post(one)}, config.warmup_requests)
        measured = interleaved({"ping": client.ping, "one": lambda: client.post(one)}, config.single_row_requests)
        client.close()
        progress(f"{BATCH_ROWS}-row batches against the bare model")
        batch = measure_overhead(url, estimator, rows, config.batch_requests)
        cpu = measure_cpu_overhead(url, endpoint.worker.worker_pids(), estimator, rows, config.batch_requests)
        progress("throughput")
        body = instances_body(rows)
        throughput = [
            measure_throughput(url, body, len(rows), clients, config.throughput_requests_per_client, config.throughput_rounds)
            for clients in (1, config.concurrent_clients)
        ]
    progress("the image's default handlers (SDK defaults)")
    defaults_one, defaults_batch = bench_sdk_defaults(artifact.path, rows, config)
    return BenchResult(
        machine_info(), cold, cached, plan, load, measured["ping"], measured["one"], batch, cpu, throughput, defaults_one, defaults_batch
    )


def machine_info() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


# --- output ---------------------------------------------------------------------------------------


def table(result: BenchResult) -> str:
    def ms(t: Timing) -> tuple[str, str, str]:
        return f"{t.median_ms:.3f} ms", f"{t.p99_ms:.3f} ms", str(t.runs)

    plan = ms(result.plan) if isinstance(result.plan, Timing) else (result.plan, "", "")
    batch = result.batch
    rows = [
        ("artifact build, cold (forced)", *ms(result.build_cold)),
        ("artifact build, cached", *ms(result.build_cached)),
        ("plan (`python -m bundle plan --json`)", *plan),
        ("model_fn load", *ms(result.model_fn)),
        ("HTTP round trip (GET /ping)", *ms(result.ping)),
        ("1-row request over HTTP", *ms(result.single_row)),
        (f"{batch.rows}-row request over HTTP", *ms(batch.served)),
        (f"{batch.rows}-row bare predict_proba", *ms(batch.bare)),
        (f"serving overhead ({batch.rows} rows): HTTP / bare", f"{batch.ratio:.2f}x", "", str(batch.served.runs)),
        (f"serving overhead ({batch.rows} rows): HTTP - bare", f"{batch.added_ms:.3f} ms", "", str(batch.served.runs)),
        (f"CPU per {batch.rows}-row request: worker / bare", f"{result.cpu.ratio:.2f}x", f"{result.cpu.served_cpu_ms:.2f} / {result.cpu.bare_cpu_ms:.2f} ms", str(result.cpu.requests)),
    ]
    for t in result.throughput:
        rows.append((f"{batch.rows}-row batches, {t.clients} client(s)", f"{t.rows_per_s:,.0f} rows/s", "", f"{t.rounds} round(s)"))
    rows += [
        ("SDK defaults: 1-row JSON array (labels only)", *ms(result.defaults_single_row)),
        (f"SDK defaults: {batch.rows}-row JSON array (labels only)", *ms(result.defaults_batch)),
    ]
    header = ("measurement", "median", "p99", "runs")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]

    def line(cells) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def main(json_path: Path | None, quick: bool) -> int:
    config = BenchConfig.quick() if quick else BenchConfig()
    result = run_bench(config, progress=lambda step: print(f"bench: {step}", file=sys.stderr, flush=True))
    print(table(result))
    if json_path is not None:
        json_path.write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return 0
