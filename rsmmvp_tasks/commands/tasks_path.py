"""``rsmmvp tasks-path``: print the installed task folder, for ``lmms-eval --include_path``."""

from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "tasks-path",
        help="print the installed task folder (for lmms-eval --include_path)",
        description='Print the folder holding the rsmmvp task YAMLs: lmms-eval --include_path "$(rsmmvp tasks-path)" ...',
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.paths import tasks_dir

    print(tasks_dir())
    return 0
