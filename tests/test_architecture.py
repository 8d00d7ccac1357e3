"""The shape of the package, kept by a test: no import loop between its parts, and the
layers that must stay light (text below everything; the documents Lambda without numpy)
stay so. A part is a subpackage (rag_assistant.store) or a top-level module (service)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rag_assistant"


def _part(module: str) -> str:
    """rag_assistant.store.sqlite_store -> store; rag_assistant.service -> service."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    names = list(relative.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def import_graph() -> dict[str, set[str]]:
    """part -> the parts it imports (at module level or inside functions: a lazy import is
    still a dependency)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = module.split(".")
                    base = base[: len(base) - node.level + (1 if is_package else 0)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # "from .. import x": x is a module of ours or a name in the package's __init__
                targets = [prefix] if node.module else [
                    f"{prefix}.{a.name}" if _is_module(f"{prefix}.{a.name}") else prefix for a in node.names]
            for target in targets:
                if target.startswith("rag_assistant.") and _part(target) != _part(module):
                    graph[_part(module)].add(_part(target))
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph.get(node, ())):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(set(graph) | {c for children in graph.values() for c in children}):
        if node not in index:
            visit(node)
    return found


def test_no_import_loop_between_parts_of_the_package() -> None:
    assert _cycles(import_graph()) == []


def test_the_loop_finder_finds_a_loop() -> None:
    assert _cycles({"store": {"text"}, "text": {"retrieval"}, "retrieval": {"store"}}) == [
        ["retrieval", "store", "text"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_text_sits_below_everything() -> None:
    """The text helpers (keyword terms, BM25, sentences, language) import nothing else of ours."""
    assert import_graph().get("text", set()) == set()


def test_stores_do_not_reach_up_into_retrieval_or_answering() -> None:
    graph = import_graph()
    assert not graph["store"] & {"retrieval", "answering", "service", "api", "aws", "cli"}
