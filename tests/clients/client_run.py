"""Runs the pinned clients (tests/clients/sdk_calls.py in .venv-clients) against a local front and reads their answers."""
from __future__ import annotations

import json
import os
import subprocess

from bundle.ops.examples import EXAMPLES
from conftest import REPO

CLIENT_PYTHON = REPO / ".venv-clients" / "bin" / "python"
SCRIPT = REPO / "tests" / "clients" / "sdk_calls.py"


def client_answers(front_url: str, endpoint_name: str, calls: list[str], **env) -> dict[str, dict]:
    """Runs the named calls of sdk_calls.py in .venv-clients against the front; {call: what it returned or raised}.
    `env` adds to the client's environment (AWS_ENDPOINT_URL for moto, the multi-model calls' archive)."""
    assert CLIENT_PYTHON.exists(), ".venv-clients is missing: `make setup` builds it from requirements-clients.txt"
    env = {**os.environ, "FRONT_URL": front_url, "ENDPOINT_NAME": endpoint_name, "ROWS": json.dumps([e.features for e in EXAMPLES]), "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "SAGEMAKER_SUPPRESS_V2_WARNING": "1", **env}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([str(CLIENT_PYTHON), str(SCRIPT), *calls], env=env, capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-12000:]}"
    lines = [line[len("CALL "):] for line in done.stdout.splitlines() if line.startswith("CALL ")]
    table = {line["call"]: line for line in map(json.loads, lines)}
    rows = ["| client call | answer |", "|---|---|"] + [f"| {k} | {v.get('returned', (v.get('code'), v.get('status')))} |" for k, v in table.items()]
    print("\n" + "\n".join(rows))
    return table
