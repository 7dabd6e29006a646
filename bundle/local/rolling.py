"""A rolling update replayed on this machine: the stack's fleet of image workers replaced batch by batch while a load
runs through the runtime-API front, counting what each model version answered.

What it reads is the stack's own description: the `deployment` output (strategy ROLLING, the batch and the rollback
batch, the fleet's instance count) and the 5XX alarm's threshold from the `params` output. What it does is what AWS's
RollingUpdatePolicy says SageMaker does, one batch at a time:
  1. start a batch of new instances (image workers serving the new artifact) and put them in service;
  2. take as many old instances out of service (no new request reaches them; those in flight finish);
  3. bake: wait the baking period while the load runs, counting the new instances' 5XX answers (the bundle's
     `<endpoint>-invocation-5xx` alarm: at least its threshold of them rolls the update back);
  4. stop the old batch, and go on with the next.
A rollback puts old instances back in service (restarting those already stopped), the rollback batch at a time, and
takes the new ones out. The baking period is the stack's `wait_interval_seconds` unless told otherwise (a replay of
600 s batches is slow: `--bake-seconds`). The model latency alarm is not replayed (this machine's latencies say nothing
of an ML instance's), nor is the provisioning of an instance (a worker here starts in seconds).

Each request's answer names the version that computed it: the replay asks each version once for the request it sends
in the load, and matches every answer against those (the two POC models answer the same classes with other
probabilities). A request fails when the client gets an error or an answer of neither version.
"""
from __future__ import annotations

import json
import math
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from bundle.artifact.tarball import unpack_artifact
from bundle.errors import BundleError
from bundle.local.balancer import Balancer, Instance
from bundle.local.front import _FrontServer
from bundle.local.worker import MODEL_SERVER_TIMEOUT, ImageWorker
from bundle.ops.examples import instances_request
from bundle.params.model import Batch

REQUEST = json.dumps(instances_request()).encode()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
SETTLED_ANSWERS = 10  # answers of the fleet in service before the first batch, and after the last


@dataclass(frozen=True)
class RollingPlan:
    """The stack's rolling update, as its outputs describe it."""

    instances: int
    batch: int  # instances per batch
    rollback_batch: int  # instances brought back per rollback step
    bake_seconds: float
    alarm_threshold: int  # 5XX answers of the new instances in one baking period that roll the update back
    endpoint_name: str
    variant_name: str

    @classmethod
    def from_outputs(cls, outputs: dict, bake_seconds: float | None = None) -> "RollingPlan":
        deployment = outputs.get("deployment") or {}
        rolling = deployment.get("rolling")
        if deployment.get("strategy") != "ROLLING" or not rolling:
            raise BundleError(
                f"the stack's deployment.strategy is {deployment.get('strategy')}, not ROLLING: a rolling update can be replayed only "
                "for params with deployment.strategy ROLLING (examples/rolling/params.json has one)"
            )
        fleet = rolling["instances"]

        def instances(kind, value) -> int:
            return max(1, math.floor(Batch(kind, value).instances(fleet))) if value else fleet

        return cls(
            instances=fleet,
            batch=instances(rolling["batch_type"], rolling["batch_size"]),
            rollback_batch=instances(rolling["rollback_batch_type"], rolling["rollback_batch_size"]),
            bake_seconds=float(deployment["wait_interval_seconds"] if bake_seconds is None else bake_seconds),
            alarm_threshold=int(outputs["params"]["alarms"]["invocation_5xx_threshold"]),
            endpoint_name=outputs["endpoint"]["endpoint_name"],
            variant_name=outputs["variant_name"],
        )


@dataclass
class Load:
    """Closed-loop clients calling InvokeEndpoint's path on the front; each answer attributed to a version."""

    url: str
    endpoint_name: str
    references: dict[str, bytes | None]  # version -> its answer to REQUEST (None: it has none)
    clients: int = 2
    answered: Counter = field(default_factory=Counter)  # version -> answers
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Load":
        for _ in range(self.clients):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self) -> None:
        host, port = self.url.rsplit("/", 1)[-1].rsplit(":", 1)
        pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False, timeout=urllib3.Timeout(connect=5.0, read=MODEL_SERVER_TIMEOUT + 10))
        path = f"/endpoints/{self.endpoint_name}/invocations"
        while not self._stop.is_set():
            try:
                response = pool.urlopen("POST", path, body=REQUEST, headers=HEADERS, preload_content=True)
                version = self._version(response.data) if response.status == 200 else None
                problem = None if version else f"HTTP {response.status}: {response.data[:200]!r}"
            except urllib3.exceptions.HTTPError as e:
                version, problem = None, f"{type(e).__name__}: {e}"
            with self._lock:
                if version:
                    self.answered[version] += 1
                else:
                    self.failures.append(problem)
        pool.close()

    def _version(self, body: bytes) -> str | None:
        answer = json.loads(body)
        return next((v for v, reference in self.references.items() if reference is not None and json.loads(reference) == answer), None)

    def count(self, version: str) -> int:
        with self._lock:
            return self.answered[version]

    def wait_for(self, version: str, answers: int, timeout: float = 120.0) -> None:
        """Until `version` has answered `answers` more requests (a condition, not a time)."""
        target, deadline = self.count(version) + answers, time.monotonic() + timeout
        while self.count(version) < target:
            if time.monotonic() > deadline:
                raise BundleError(f"the load got no {answers} answers of {version} in {timeout:g} s (failures: {self.failures[:3]})")
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


@dataclass
class Replay:
    """The fleet, its balancer and front; `run()` replays one rolling update and returns the report."""

    plan: RollingPlan
    old: Path  # the artifact the fleet serves first
    new: Path  # the artifact the update brings
    versions: tuple[str, str] = ("old", "new")  # names of the two versions in the report
    clients: int = 2
    log: object = print  # a callable for each step
    events: list[str] = field(default_factory=list)

    def run(self) -> dict:
        scratch = tempfile.TemporaryDirectory(prefix="bundle-rolling-")
        balancer = Balancer().start()
        front, started = None, []
        try:
            dirs = {}
            for version, artifact in zip(self.versions, (self.old, self.new)):
                dirs[version] = Path(scratch.name) / version / "model"
                unpack_artifact(artifact, dirs[version])
            old_version, new_version = self.versions
            numbers = {old_version: iter(range(1, 1000)), new_version: iter(range(1, 1000))}

            def instance(version: str, name: str | None = None) -> Instance:
                worker = ImageWorker(dirs[version], workers=1).start()
                made = Instance(name or f"{'old' if version == old_version else 'new'}-{next(numbers[version])}", version, worker)
                started.append(made)
                return made

            fleet = [instance(old_version) for _ in range(self.plan.instances)]
            for made in fleet:
                balancer.put_in_service(made)
            references = {v: self._reference(instance(v, name=f"probe-{i}")) for i, v in enumerate(self.versions)}
            front = _FrontServer(("127.0.0.1", 0), balancer.url, self.plan.endpoint_name, self.plan.variant_name, MODEL_SERVER_TIMEOUT, False)
            threading.Thread(target=front.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
            load = Load(f"http://127.0.0.1:{front.server_address[1]}", self.plan.endpoint_name, references, self.clients).start()
            try:
                load.wait_for(old_version, SETTLED_ANSWERS)
                self._say(f"fleet: {self.plan.instances} instance(s) of {old_version} in service, load running")
                outcome = self._roll(balancer, fleet, instance, new_version, old_version)
                serving = {i.version for i in balancer.in_service}
                load.wait_for(serving.pop() if len(serving) == 1 else new_version, SETTLED_ANSWERS)
            finally:
                load.stop()
            answered = dict(load.answered)
            return {
                "status": outcome,
                "instances": self.plan.instances,
                "batch": self.plan.batch,
                "rollback_batch": self.plan.rollback_batch,
                "bake_seconds": self.plan.bake_seconds,
                "requests": sum(answered.values()) + len(load.failures),
                "failed": len(load.failures),
                "failures": load.failures[:5],
                "answered_by": {v: answered.get(v, 0) for v in self.versions},
                "new_instances_5xx": sum(i.errors_5xx for i in started if i.version == new_version),
                "serving_after": sorted(i.name for i in balancer.in_service),
                "steps": self.events,
            }
        finally:
            if front is not None:
                front.shutdown()
                front.server_close()
                for pool in front.pools.values():
                    pool.close()
            balancer.stop()
            for made in started:
                made.worker.stop()
            scratch.cleanup()

    def _reference(self, probe: Instance) -> bytes | None:
        """The version's answer to the load's request, from an instance of its own that then stops (None when it
        answers no 200: every answer of it is then a failed request)."""
        pool = urllib3.HTTPConnectionPool("127.0.0.1", probe.worker.port, retries=False, timeout=30.0)
        try:
            response = pool.urlopen("POST", "/invocations", body=REQUEST, headers=HEADERS, preload_content=True)
        finally:
            pool.close()
            probe.worker.stop()
        if response.status != 200:
            self._say(f"{probe.version} answers the load's request with HTTP {response.status}: its answers count as failures")
            return None
        return response.data

    def _say(self, line: str) -> None:
        self.events.append(line)
        self.log(line)

    def _roll(self, balancer: Balancer, fleet: list[Instance], instance, new_version: str, old_version: str) -> str:
        old = list(fleet)
        step = 0
        while old:
            step += 1
            size = min(self.plan.batch, len(old))
            added = [instance(new_version) for _ in range(size)]
            for made in added:
                balancer.put_in_service(made)
            leaving, old = old[:size], old[size:]
            for gone in leaving:
                balancer.take_out(gone)
            self._say(f"batch {step}: {', '.join(i.name for i in added)} in service, {', '.join(i.name for i in leaving)} out; baking {self.plan.bake_seconds:g} s")
            errors = [i.errors_5xx for i in added]
            time.sleep(self.plan.bake_seconds)  # the baking period: the load runs meanwhile
            fired = sum(i.errors_5xx for i in added) - sum(errors)
            if fired >= self.plan.alarm_threshold:
                self._say(f"batch {step}: the new instances answered {fired} 5XX while baking (alarm threshold {self.plan.alarm_threshold}): rolling back")
                for gone in leaving:  # not yet terminated: back in service first
                    balancer.put_in_service(gone)
                self._rollback(balancer, instance, new_version, old_version, len(fleet) - len(old) - len(leaving))
                return "rolled back"
            for gone in leaving:
                gone.worker.stop()
            self._say(f"batch {step}: baked, {', '.join(i.name for i in leaving)} terminated")
        return "completed"

    def _rollback(self, balancer: Balancer, instance, new_version: str, old_version: str, missing: int) -> None:
        """Old instances back in service, the rollback batch at a time, and as many new ones out and stopped."""
        new = [i for i in balancer.in_service if i.version == new_version]
        while new:
            size = min(self.plan.rollback_batch, len(new))
            back = [instance(old_version) for _ in range(min(size, missing))]
            missing -= len(back)
            for made in back:
                balancer.put_in_service(made)
            leaving, new = new[:size], new[size:]
            for gone in leaving:
                balancer.take_out(gone)
                gone.worker.stop()
            self._say(f"rollback: {', '.join(i.name for i in back) or 'no old instance'} back, {', '.join(i.name for i in leaving)} removed")
