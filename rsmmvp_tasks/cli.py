"""The ``rsmmvp`` command: one entry point, one subcommand per job.

Each subcommand lives in :mod:`rsmmvp_tasks.commands` as a module exposing
``register(subparsers) -> None`` (adds its parser and sets ``func``) and keeps heavy imports
(torch, transformers, datasets) inside its ``run`` function, so ``rsmmvp --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

#: subcommand modules, in the order ``rsmmvp --help`` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "tasks_path",
    "validate",
    "build",
    "embed",
    "mine",
    "review",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rsmmvp",
        description="RSMMVP: remote-sensing CLIP-blind pairs benchmark (lmms-eval task suite and data tools).",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"rsmmvp_tasks.commands.{name}")
        except ModuleNotFoundError as exc:  # a subcommand module not present in this build
            if exc.name == f"rsmmvp_tasks.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
