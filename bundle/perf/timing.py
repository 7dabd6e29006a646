"""What every measurement here shares: timings (median, p99), interleaved runs, Iris rows, and a keep-alive HTTP client."""
from __future__ import annotations

import http.client
import json
import statistics
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlparse

import numpy as np
from sklearn.datasets import load_iris

from bundle.errors import BundleError

ROWS_SEED = 7
JSON = "application/json"


@dataclass(frozen=True)
class Timing:
    """Milliseconds over `runs` repetitions."""

    median_ms: float
    p99_ms: float
    runs: int


def timing(seconds: list[float]) -> Timing:
    if not seconds:
        raise BundleError("no samples to summarise")
    ms = np.asarray(seconds) * 1e3
    return Timing(round(float(statistics.median(ms)), 3), round(float(np.percentile(ms, 99)), 3), len(ms))


def repeat(action: Callable[[], object], runs: int) -> Timing:
    return interleaved({"action": action}, runs)["action"]


def interleaved(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, Timing]:
    """Run the actions in turn, `runs` rounds: a noisy neighbour slows all of them alike, so ratios hold."""
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            samples[name].append(time.perf_counter() - started)
    return {name: timing(seconds) for name, seconds in samples.items()}


# --- inputs ---------------------------------------------------------------------------------------


def iris_rows(count: int, seed: int = ROWS_SEED) -> np.ndarray:
    """Real Iris rows, resampled with a fixed seed: the forest walks realistic paths, every run the same."""
    features = load_iris().data.astype(np.float64)
    return np.ascontiguousarray(features[np.random.default_rng(seed).integers(0, len(features), count)])


def instances_body(rows: np.ndarray) -> bytes:
    return json.dumps({"instances": rows.tolist()}).encode()


# --- HTTP -----------------------------------------------------------------------------------------


class KeepAliveClient:
    """One persistent HTTP/1.1 connection, as boto3 and load balancers keep them."""

    def __init__(self, url: str, timeout: float = 30.0):
        parsed = urlparse(url)
        self._connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)

    def post(self, body: bytes, path: str = "/invocations", content_type: str = JSON) -> bytes:
        return self.call("POST", path, body, {"Content-Type": content_type, "Accept": JSON})

    def ping(self) -> bytes:
        return self.call("GET", "/ping")

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> bytes:
        self._connection.request(method, path, body=body, headers=headers or {})
        response = self._connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise BundleError(f"the endpoint answered {response.status}: {payload[:200]!r}")
        return payload

    def close(self) -> None:
        self._connection.close()
