"""Comments explain the code, not its history: no source file cites an issue number of this project's tracker
(another project's issue, named with its repository, is a reference and stays)."""
from __future__ import annotations

import re

from conftest import REPO

CITATION = re.compile(r"(?<![\w/-])issues? ?#?\d+\b", re.IGNORECASE)
OTHER_PROJECT = re.compile(r"[\w.-]+/[\w.-]+ ?#\d+|terraform-provider-aws #\d+")


def citations(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if CITATION.search(OTHER_PROJECT.sub("", line))]


def test_no_source_file_cites_an_issue():
    sources = [p for root in ("bundle", "model", "tests") for p in (REPO / root).rglob("*.py")]
    sources += [REPO / "Makefile", REPO / "operator_guide.md.mustache"]
    found = {str(p.relative_to(REPO)): hits for p in sources if (hits := citations(p.read_text()))}
    assert not found, found


def test_a_citation_is_found_and_another_projects_issue_is_not():
    cited = "x = 1  # the shadow (" + "is" + "sue 12)"  # split: this file cites none itself
    assert citations(cited + "\nok = 2  # terraform-provider-aws #48990 is open") == [cited]
