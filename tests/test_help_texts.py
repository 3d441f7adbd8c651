"""Every `rsmmvp ... --help` reads as plain text: no `%%`, no reST markup, every argument explained."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from rsmmvp_tasks.cli import build_parser


def _parsers(parser: argparse.ArgumentParser, name: str = "rsmmvp") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {verb}")


PARSERS = dict(_parsers(build_parser()))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_is_plain_text(name: str) -> None:
    text = PARSERS[name].format_help()
    for markup in ("%%", "``", ":mod:", ":func:", ":class:", ":data:"):
        assert markup not in text, f"`{name} --help` shows {markup!r}"


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_argument_has_help(name: str) -> None:
    parser = PARSERS[name]
    if parser.description is None and parser.usage == argparse.SUPPRESS:  # pragma: no cover
        return
    undocumented = [a.dest for a in parser._actions
                    if not a.help and not isinstance(a, argparse._SubParsersAction) and a.dest != "help"
                    and a.help is not argparse.SUPPRESS]
    assert not undocumented, f"`{name} --help`: no help for {undocumented}"
