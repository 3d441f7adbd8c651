"""The package root's public API: every name resolves, the README lists them all, and importing is cheap."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO

import rsmmvp_tasks


def test_every_exported_name_resolves_to_its_module() -> None:
    for name, module in rsmmvp_tasks._EXPORTS.items():
        value = getattr(rsmmvp_tasks, name)
        assert getattr(value, "__module__", module) == module or not callable(value), (name, module)
    assert set(rsmmvp_tasks.__all__) == {"__version__", *rsmmvp_tasks._EXPORTS}


def test_readme_lists_exactly_the_exported_names() -> None:
    readme = (REPO / "docs" / "api.md").read_text()
    section = readme.split("# The Python API", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| area")]
    listed = set(re.findall(r"`(\w+)`", "\n".join(table)))
    assert listed == set(rsmmvp_tasks._EXPORTS)


def test_readme_example_runs() -> None:
    assert rsmmvp_tasks.extract_choice("I'd say (b), the river runs north-south.", ["East-west", "North-south"]) == "B"


def test_import_is_cheap() -> None:
    code = "import sys, rsmmvp_tasks; print(sorted(m for m in ('torch', 'datasets', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
