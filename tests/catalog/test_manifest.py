"""bundle.yaml cannot drift: it is a fresh generation from the sources, its params are params.schema.json,
and the README's outline of it is the generated one."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from bundle.catalog import manifest
from bundle.params.schema import load_schema
from conftest import REPO


def checked_in() -> str:
    return (REPO / "bundle.yaml").read_text()


def test_checked_in_manifest_is_a_fresh_generation():
    assert checked_in() == manifest.render(), "bundle.yaml is stale: run `python -m bundle manifest --write`"


def test_generation_is_byte_stable():
    assert manifest.render() == manifest.render()


def test_manifest_embeds_the_sources_as_they_are():
    document = yaml.safe_load(checked_in())
    assert document["params"] == load_schema() == json.loads((REPO / "params.schema.json").read_text())
    assert document["connections"] == json.loads((REPO / "schemas/connections.schema.json").read_text())
    assert document["artifacts"]["properties"]["endpoint"] == json.loads((REPO / "schemas/artifacts/endpoint.schema.json").read_text())
    assert document["metadata"] == json.loads((REPO / "schemas/metadata.schema.json").read_text())
    pyproject = manifest.project()
    assert (document["name"], document["version"], document["description"]) == (pyproject["name"], pyproject["version"], pyproject["description"])
    assert document["connections"]["required"] == ["aws_authentication"] and document["artifacts"]["required"] == ["endpoint"]


def test_ui_order_names_real_parameters_common_first():
    order = yaml.safe_load(checked_in())["ui"]["ui:order"]
    assert order[-1] == "*" and order[0] == "endpoint_name"
    assert set(order[:-1]) <= set(load_schema()["properties"]) and len(set(order)) == len(order)


def test_readme_outline_is_the_manifests():
    readme = (REPO / "README.md").read_text()
    found = re.search(r"<!-- manifest-outline:start -->\n(.*?)\n<!-- manifest-outline:end -->", readme, re.S)
    assert found, "README lost its manifest-outline markers"
    assert found.group(1) == manifest.outline(), "README's manifest outline is stale: paste `python -m bundle manifest --outline`"


def test_cli_check_and_write(tmp_path, monkeypatch):
    ok = subprocess.run([sys.executable, "-m", "bundle", "manifest", "--check"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    stale = tmp_path / "bundle.yaml"
    stale.write_text(checked_in().replace("version: ", "version: 9", 1))
    monkeypatch.setattr(manifest, "MANIFEST_PATH", stale)
    assert manifest.write(stale) is True and stale.read_text() == manifest.render()
    assert manifest.write(stale) is False, "a second write changes nothing"
