"""Dependencies point one way: the evaluation core imports nothing of the optional mining tool chain, and no module
imports another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rsmmvp_tasks"


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


@pytest.mark.parametrize("layer", ["evaluation", "models"])
def test_the_evaluation_core_imports_nothing_of_mining(layer: str) -> None:
    bad = [f"{f.relative_to(PACKAGE)}: {module}" for f in sorted((PACKAGE / layer).rglob("*.py"))
           for module, _ in _imports(f) if module.startswith("rsmmvp_tasks.mining")]
    assert not bad, bad


def test_no_module_imports_another_modules_private_names() -> None:
    bad = [f"{f.relative_to(PACKAGE)}: from {module} import {name}" for f in sorted(PACKAGE.rglob("*.py"))
           for module, names in _imports(f) if module.startswith("rsmmvp_tasks")
           for name in names if name.startswith("_") and not name.startswith("__")]
    assert not bad, bad


def test_dataset_hub_does_not_import_build() -> None:
    """build pushes through hub; hub must not reach back into build (no import cycle)."""
    assert not [m for m, _ in _imports(PACKAGE / "dataset" / "hub.py") if m == "rsmmvp_tasks.dataset.build"]
