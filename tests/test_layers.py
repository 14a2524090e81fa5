"""The layer rules, read from the code's own imports: pipeline/ is pure computation (no
bot/, no storage/), storage/ never reaches up into bot/ (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"pipeline": {"bot", "storage"}, "storage": {"bot"}}


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every module a file imports, wherever the import sits
    (a lazy import inside a function counts as much as one at the top)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_lower_layer_never_imports_a_higher_one(package):
    """No module of pipeline/ imports bot/ or storage/; none of storage/ imports bot/."""
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    crossings = {str(f.relative_to(ROOT)): sorted(imported_packages(f) & FORBIDDEN[package]) for f in files}
    assert {f: bad for f, bad in crossings.items() if bad} == {}


def test_the_rule_reader_sees_lazy_and_dotted_imports(tmp_path):
    """The reader finds an import inside a function and a dotted one: a rule it cannot
    see would pass vacuously."""
    sample = tmp_path / "sample.py"
    sample.write_text("import numpy as np\n\ndef f():\n    from bot.settings import X\n    import storage.db\n")
    assert imported_packages(sample) == {"numpy", "bot", "storage"}


def module_imports(package: str) -> dict[str, set[str]]:
    """For each module of a package, the modules of the same package it imports."""
    files = {p.stem: p for p in (ROOT / package).glob("*.py")}
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == package:
                    found.update(alias.name for alias in node.names)
                elif node.module.startswith(package + "."):
                    found.add(node.module.split(".")[1])
        graph[name] = found & set(files)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


@pytest.mark.parametrize("package", ["benchmarks", "bot", "pipeline", "storage"])
def test_no_import_cycles_inside_a_package(package):
    """No module imports, even lazily, one that imports it back (issue 22: bench ↔
    first_answer, evaluate ↔ stability, bench ↔ versus were such pairs)."""
    graph = module_imports(package)
    assert len(graph) > 3
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    """A finder that cannot see a cycle would pass vacuously."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()})
    assert cycles({"a": {"b"}, "b": set()}) == []
