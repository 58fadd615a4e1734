"""No import cycle among the modules of dashboard/ or of analytics/: every import counts, at the top of a
module, inside a function or under TYPE_CHECKING (a cycle kept alive by a late import is still a cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(folder: str) -> dict[str, set[str]]:
    """For each module of the folder, the modules of the same folder it imports."""
    package = f"webleads.{folder}"
    found: dict[str, set[str]] = {}
    modules = {p.stem for p in (ROOT / folder).glob("*.py")}
    for path in (ROOT / folder).glob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level == 1 or base == package or base.startswith(package + "."):
                    inner = base.removeprefix(package).lstrip(".") if node.level == 0 else base
                    names |= {inner.split(".")[0]} if inner else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name.removeprefix(package + ".").split(".")[0] for a in node.names
                          if a.name.startswith(package + ".")}
        found[path.stem] = (names & modules) - {path.stem, "__init__"}
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, if any (depth-first search)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize("folder", ["dashboard", "analytics"])
def test_no_import_cycle_inside_a_layer(folder: str) -> None:
    graph = imports(folder)
    assert graph["pages"] if folder == "dashboard" else graph["reports"]  # the reader found the imports
    assert cycle(graph) is None, " -> ".join(cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert cycle({"pages": {"closedloop"}, "closedloop": {"pages"}}) == ["closedloop", "pages", "closedloop"]
