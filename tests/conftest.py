"""Shared fixtures: one artifact per session, its handlers loaded as the container would, a live endpoint."""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse
from pathlib import Path

import pytest

from bundle.artifact.build import Artifact, build_artifact
from bundle.local.endpoint import LocalEndpoint
from bundle.local.inprocess import LoadedModel, invoke, load_artifact

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ("process_table",)  # the run fails listing any server it left running


@pytest.fixture(scope="session")
def artifact() -> Artifact:
    return build_artifact()


@pytest.fixture(scope="session")
def loaded(artifact, tmp_path_factory) -> LoadedModel:
    return load_artifact(artifact.path, tmp_path_factory.mktemp("unpacked"))


@pytest.fixture(scope="session")
def endpoint(artifact):
    with LocalEndpoint(artifact.path, port=0, endpoint_name="iris-test") as served:
        yield served


@pytest.fixture
def call(loaded):
    """Invoke the shipped handlers; returns (status, parsed JSON, text, or npy bytes, content type)."""

    def _call(body, content_type="application/json", accept="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        reply = invoke(loaded, body.encode() if isinstance(body, str) else body, content_type, accept)
        if reply.content_type == "application/json":
            parsed = json.loads(reply.body)
        else:
            parsed = reply.body if reply.content_type == "application/x-npy" else reply.body.decode()
        return reply.status, parsed, reply.content_type

    return _call


@pytest.fixture(scope="module")
def plan():
    """The default stack's offline plan."""
    from bundle.local.plan import evaluate
    from bundle.params.rules import validate

    return evaluate(validate({}))


@pytest.fixture(scope="module")
def outputs(plan):
    return plan.outputs


@pytest.fixture(scope="module")
def deployment(plan, artifact):
    """The default stack emulated: its plan replayed in moto, the artifact served by the image's worker."""
    from bundle.local.emulator import EmulatedDeployment

    with EmulatedDeployment(plan, artifact.path) as emulated:
        yield emulated


def http_request(url: str, method: str, path: str, body: bytes = b"", headers: dict | None = None, timeout: float = 60) -> tuple[int, str, bytes]:
    """One raw HTTP request on its own connection: (status, Content-Type, body)."""
    address = urlparse(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()
