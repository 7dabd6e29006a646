"""A variant's instances behind one address: the container protocol spread over the image workers in service, as
SageMaker spreads a variant's requests over its instances.

It stands in for SageMaker's own routing inside a variant, which no package provides, so that a fleet can change
while it serves (bundle/local/rolling.py): an instance is put in service, or taken out and drained (no new request
reaches it; the requests it is answering finish) before it is stopped. Every instance is a real image worker
(bundle/local/worker.py); this only chooses one per request (round robin) and counts what each answered.
"""
from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field

import urllib3

from bundle.local.relay import RelayServer
from bundle.local.worker import ImageWorker


@dataclass(eq=False)
class Instance:
    """One instance of the fleet: its name, the model version it serves, and its image worker."""

    name: str
    version: str
    worker: ImageWorker
    in_flight: int = 0
    answered: Counter = field(default_factory=Counter)  # HTTP status -> count

    @property
    def errors_5xx(self) -> int:
        return sum(n for status, n in self.answered.items() if status >= 500)


class Balancer(RelayServer):
    """The container protocol (GET /ping, POST /invocations) on a loopback port, spread over the instances in service."""

    def __init__(self, timeout: float = 65.0):
        super().__init__()
        self._timeout = timeout
        self._lock = threading.Condition()
        self._in_service: list[Instance] = []
        self._turn = itertools.count()
        self._pools: dict[int, urllib3.HTTPConnectionPool] = {}

    def stop(self) -> None:
        super().stop()
        for pool in self._pools.values():
            pool.close()

    @property
    def in_service(self) -> list[Instance]:
        with self._lock:
            return list(self._in_service)

    def put_in_service(self, instance: Instance) -> None:
        with self._lock:
            self._pools[id(instance)] = urllib3.HTTPConnectionPool(
                "127.0.0.1", instance.worker.port, maxsize=64, block=False, retries=False, timeout=urllib3.Timeout(connect=5.0, read=self._timeout)
            )
            self._in_service.append(instance)

    def take_out(self, instance: Instance, timeout: float = 120.0) -> None:
        """No new request reaches the instance; returns once the requests it was answering are answered."""
        with self._lock:
            self._in_service.remove(instance)
            self._lock.wait_for(lambda: instance.in_flight == 0, timeout)
            self._pools.pop(id(instance)).close()

    def forward(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        with self._lock:
            if not self._in_service:
                return 503, b'{"error": "NoInstance", "message": "no instance is in service"}', "application/json"
            instance = self._in_service[next(self._turn) % len(self._in_service)]
            instance.in_flight += 1
            pool = self._pools[id(instance)]
        try:
            response = pool.urlopen(method, path, body=body or None, headers=headers, preload_content=True)
            status, data, content_type = response.status, response.data, response.headers.get("Content-Type", "application/json")
        except urllib3.exceptions.HTTPError as e:
            status, data, content_type = 502, f'{{"error": "WorkerUnavailable", "message": "{type(e).__name__}"}}'.encode(), "application/json"
        with self._lock:
            instance.in_flight -= 1
            if path.startswith("/invocations"):
                instance.answered[status] += 1
            self._lock.notify_all()
        return status, data, content_type
