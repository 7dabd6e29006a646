"""Shared fixtures: one artifact per session, its handlers loaded as the container would, a live endpoint."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundle.artifact.build import Artifact, build_artifact
from bundle.local.endpoint import LocalEndpoint, LoadedModel, invoke, load_artifact

REPO = Path(__file__).resolve().parents[1]


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
    """Invoke the shipped handlers; returns (status, parsed JSON or text, content type)."""

    def _call(body, content_type="application/json", accept="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        reply = invoke(loaded, body.encode() if isinstance(body, str) else body, content_type, accept)
        text = reply.body.decode()
        parsed = json.loads(text) if reply.content_type == "application/json" else text
        return reply.status, parsed, reply.content_type

    return _call
