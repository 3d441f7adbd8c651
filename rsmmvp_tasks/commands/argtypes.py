"""Argument types and options shared by the subcommands: bad values become argparse usage errors (exit 2).

Use the types as ``type=`` of ``add_argument``; argparse then prints
``rsmmvp <command>: error: argument --x: <why>`` and exits 2, never a traceback later on::

    p.add_argument("--pair-size", type=positive_int, default=2)
    p.add_argument("--dup-threshold", type=float_between(-1.0, 1.0), default=0.9)

:func:`add_human_option` adds the ``--human PCT`` / ``--no-human`` pair of ``rsmmvp report`` and
``rsmmvp leaderboard render``.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable

__all__ = ["add_human_option", "plain_help", "float_between", "nonnegative_int", "positive_int"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """A whole number >= 1 (a size, a count of rows per pair)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def nonnegative_int(text: str) -> int:
    """A whole number >= 0 (0 often means "none" or "inline")."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def float_between(low: float, high: float) -> Callable[[str], float]:
    """A type accepting a finite float in ``[low, high]`` (e.g. a cosine similarity in [-1, 1])."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} must be between {low:g} and {high:g}")
        return value

    parse.__name__ = f"number in [{low:g}, {high:g}]"  # argparse shows the type's name on a ValueError
    return parse


def plain_help(docstring: str | None) -> str:
    """A module docstring as ``--help`` text: reST markup (double backquotes, ``:mod:`x``` roles, bold) made plain."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", docstring or "")
    return text.replace("``", "`").replace("**", "")


def add_human_option(parser: argparse.ArgumentParser, *, auto: bool = False) -> None:
    """``--human PCT`` or ``--no-human``, into ``args.human``.

    ``args.human`` is the percentage of the human reference line the charts draw, or ``None`` for no line.
    Its default is the RSMMVP paper's human pair accuracy; with ``auto``, it is
    :data:`~rsmmvp_tasks.sharing.plots.HUMAN_AUTO` (resolve it with
    :func:`~rsmmvp_tasks.sharing.plots.human_reference`: the paper's line on the full dataset's tasks only).
    """
    from rsmmvp_tasks.sharing.plots import HUMAN, HUMAN_AUTO  # matplotlib is imported only when a chart is drawn

    default_help = (f"default: the RSMMVP paper's {HUMAN:g} on the tasks of the full RSMMVP dataset, none elsewhere"
                    if auto else f"default {HUMAN:g}, the RSMMVP paper's")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--human", type=float_between(0.0, 100.0), default=HUMAN_AUTO if auto else HUMAN, metavar="PCT",
                       help=f"human pair accuracy drawn as a reference line ({default_help})")
    group.add_argument("--no-human", dest="human", action="store_const", const=None,
                       help="draw no human reference line (a dataset without a human baseline)")
