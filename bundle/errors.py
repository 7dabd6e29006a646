"""The errors the CLI turns into clear messages (never a traceback), and the problem they list. Standard library only."""
from __future__ import annotations

from dataclasses import dataclass


class BundleError(Exception):
    """A problem the user can fix: bad params, a version mismatch, an unreachable endpoint."""


@dataclass(frozen=True)
class Problem:
    path: str  # dotted, e.g. "autoscaling.min_capacity"; "(root)" for the document itself, "(file)" for its file
    message: str
    source: str = ""  # the document, e.g. "connections in c.json"; "" when the error's heading names it

    def __str__(self) -> str:
        return f"{self.source}: {self.path}: {self.message}" if self.source else f"{self.path}: {self.message}"


class InvalidInputs(BundleError):
    """Every problem of one or more input documents at once, each naming its field (and document)."""

    def __init__(self, problems: list[Problem], what: str = "inputs"):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{what} are invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n{lines}")
