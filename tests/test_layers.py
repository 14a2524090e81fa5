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
