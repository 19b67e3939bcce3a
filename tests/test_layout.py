"""The package's layout holds: no import cycle between booth's modules (counting imports
inside functions too), picamera2 imported only by its camera backend, and the errors
module imports nothing of the booth's."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from booth import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "booth"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def booth_imports() -> dict[str, set[str]]:
    """Module -> the booth modules it imports anywhere in its file."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                found = resolve(target) if target.startswith("booth") else None
                # A package's own __init__ is not an edge back from its modules' view.
                if found and found != name and not name.startswith(found + "."):
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_the_booths_modules():
    assert cycles(booth_imports()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_picamera2_is_imported_only_by_its_camera_backend():
    importers = {module_name(p) for p in PACKAGE.rglob("*.py") if "import picamera2" in p.read_text()
                 or "from picamera2" in p.read_text()}
    assert importers <= {"booth.devices.camera.picamera2"}


def test_picamera2_is_imported_only_when_its_backend_opens():
    """Importing the camera package on a machine without picamera2 must work: the
    import sits inside a function, never at the top of its module."""
    tree = ast.parse((PACKAGE / "devices" / "camera" / "picamera2.py").read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 and "picamera2" in ((node.module or "") if isinstance(node, ast.ImportFrom)
                                     else " ".join(alias.name for alias in node.names))]
    opened_in = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and any(isinstance(inner, ast.ImportFrom) and inner.module == "picamera2"
                         for inner in ast.walk(node))]
    assert top_level == [] and opened_in == ["open"]


def test_the_errors_module_depends_on_nothing_of_the_booth():
    assert booth_imports().get("booth.errors", set()) == set()
