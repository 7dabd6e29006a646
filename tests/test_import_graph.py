"""No import circle in the bundle: every `import` of a bundle or model module, at the top of a file or inside a
function (a late import is still an edge of the design), read from the source with ast, forms a graph without
cycles. graphlib's TopologicalSorter names the first cycle it meets."""
from __future__ import annotations

import ast
import graphlib
from pathlib import Path

from conftest import REPO

ROOTS = ("bundle", "model")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree: ast.AST, here: str, modules: set[str]) -> set[str]:
    """The bundle modules a file imports: `from a.b import c` is a.b.c when that is a module, else a.b."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module for alias in node.names]
        else:
            continue
        found.update(n for n in names if n in modules and n != here)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [p for root in ROOTS for p in (REPO / root).rglob("*.py")]
    modules = {module_name(p) for p in files}
    # A package's __init__ holds nothing here; an edge to it is an edge to the package's name, not to its modules.
    return {module_name(p): imported(ast.parse(p.read_text(), str(p)), module_name(p), modules) for p in files}


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "bundle.artifact.recipes" in graph["bundle.artifact.build"]
    assert "bundle.local.front" in graph["bundle.local.endpoint"]


def test_no_import_circle():
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as e:
        raise AssertionError(f"import circle: {' -> '.join(e.args[1])}") from None


def test_a_circle_is_caught():
    graph = import_graph()
    graph["bundle.artifact.recipes"] = {*graph["bundle.artifact.recipes"], "bundle.artifact.build"}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError:
        return
    raise AssertionError("a circle added on purpose was not found")
