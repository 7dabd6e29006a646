"""An inference pipeline on this machine: its containers' image workers in series behind one address, as SageMaker
runs a Model's `containers` in Serial mode on an instance (each container's answer is the next one's request).

It stands in for SageMaker's orchestration of the containers, which no package provides; every stage is a real image
worker (bundle/local/worker.py), started with the stack's own environment for its container (bundle/names.py). How a
request travels, here as AWS documents the serial pipeline ("the intermediate response is sent as a request to the
next container"):
  - the first stage gets the client's body and Content-Type; each later stage the previous answer, with the previous
    answer's Content-Type;
  - only the last stage gets the client's Accept (the others answer in their default, the preprocessing stage's
    SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT text/csv);
  - a stage that answers an error ends the request: its status, and its JSON body with the stage named (`"stage"`,
    the container's hostname); the front turns it into InvokeEndpoint's ModelError as for any container.
Which headers SageMaker itself passes between the containers could not be checked here (no AWS account): the
preprocessing stage answers CSV whatever Accept it gets, so either way the model reads what it is sent.
"""
from __future__ import annotations

import json

import urllib3

from bundle.local.relay import RelayServer
from bundle.local.worker import MODEL_SERVER_TIMEOUT, ImageWorker


class PipelineServer(RelayServer):
    """The container protocol in front of `stages` ((hostname, worker), in the order they run)."""

    def __init__(self, stages: list[tuple[str, ImageWorker]], timeout: float = MODEL_SERVER_TIMEOUT + 5):
        super().__init__()
        self.stages = stages
        self._timeout = timeout
        self._http = urllib3.PoolManager(maxsize=64, retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout))

    def stop(self) -> None:
        super().stop()
        self._http.clear()

    def forward(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        if method == "GET":  # healthy when every container is: SageMaker pings each
            for name, worker in self.stages:
                status, data, content_type = self._call(worker, "GET", path, b"", {})
                if status != 200:
                    return status, data, content_type
            return status, data, content_type
        accept = next((v for k, v in headers.items() if k.lower() == "accept"), None)
        content_type = next((v for k, v in headers.items() if k.lower() in ("content-type", "contenttype")), None)
        data = body
        for index, (name, worker) in enumerate(self.stages):
            last = index == len(self.stages) - 1
            sent = {**({"Content-Type": content_type} if content_type else {}), **({"Accept": accept} if last and accept else {})}
            status, data, content_type = self._call(worker, "POST", path, data, sent)
            if status >= 400:
                return status, named(name, data), "application/json"
        return status, data, content_type

    def _call(self, worker: ImageWorker, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
        try:
            response = self._http.urlopen(method, worker.url + path, body=body or None, headers=headers, preload_content=True)
        except urllib3.exceptions.HTTPError as e:
            return 502, json.dumps({"error": "WorkerUnavailable", "message": f"the model server did not answer: {e}"}).encode(), "application/json"
        return response.status, response.data, response.headers.get("Content-Type", "application/json")


def named(stage: str, body: bytes) -> bytes:
    """A stage's error body with the stage named: its JSON object gets `"stage"`, any other body is wrapped."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        document = {"error": "ContainerError", "message": body.decode("utf-8", "replace")[:2000]}
    document.setdefault("stage", stage)
    return json.dumps(document).encode()
