"""The task folder's README lists every task it defines (issue 18.4: it listed 4 of 6)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TASKS = Path(__file__).resolve().parent.parent / "task_yamls" / "rsmmvp"


def _loader() -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return Loader


def test_readme_lists_every_task() -> None:
    names = {yaml.load(p.read_text(), Loader=_loader())["task"] for p in TASKS.glob("*.yaml")}
    listed = set(re.findall(r"^\| `(\w+)` \|", (TASKS / "README.md").read_text(), flags=re.MULTILINE))
    assert len(names) >= 6 and listed == names
