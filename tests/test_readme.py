"""The README cannot drift from the code: its parameter table is the schema's, its commands exist."""
from __future__ import annotations

import re

from bundle.params.table import markdown_table
from conftest import REPO


def readme() -> str:
    return (REPO / "README.md").read_text()


def test_parameter_table_matches_the_schema():
    found = re.search(r"<!-- params-table:start -->\n(.*?)\n<!-- params-table:end -->", readme(), re.S)
    assert found, "README lost its params-table markers"
    assert found.group(1) == markdown_table(), "README's parameter table is stale: paste `python -m bundle params-table`"


def test_readme_opens_with_the_two_commands():
    head = readme()[:600]
    assert "make demo" in head and "make test" in head


def test_the_local_endpoints_cli_command_runs_as_written_with_the_installed_aws_cli(endpoint, tmp_path):
    """The README's block for the local endpoint, with the AWS CLI in .venv (v1); only the port (and the name the fixture answers to) are the test's."""
    import json
    import os
    import subprocess

    block = re.search(r"## The local endpoint.*?```bash\n(.*?)```", readme(), re.S).group(1)
    assert "--region" in block and "source .venv/bin/activate" in block and "--cli-binary-format" not in block
    port = endpoint.url.rsplit(":", 1)[1]
    script = f"cd {REPO}\n" + block.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("/dev/stdout", str(tmp_path / "out.json")).replace("--endpoint-name iris-endpoint", f"--endpoint-name {endpoint.endpoint_name}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / "out.json").read_text())["predictions"] == [0]
