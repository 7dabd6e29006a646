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
