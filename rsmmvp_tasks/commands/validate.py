"""``rsmmvp validate PATH_OR_HUB_ID``: list every contract violation.

Exit status: 0 no violation, 1 violations (all printed), 2 the source cannot be read or a bad option,
3 a hub id that cannot be fetched (see :mod:`rsmmvp_tasks.errors`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rsmmvp_tasks.commands.argtypes import positive_int


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check a dataset against the RSMMVP contract (lists every violation)",
        description="Check a built folder (its data/*.parquet, what load_dataset reads), parquet file, "
        "save_to_disk folder, raw MMVP-style layout or hub dataset id against the RSMMVP contract. Prints "
        "every violation with its row; exits 1 if there is any, 2 if the source cannot be read. "
        "A built folder's dataset card (README.md) must state the licence of each image source. "
        "Never changes the data.",
    )
    p.add_argument("source", help="path or hub dataset id (ORG/NAME)")
    p.add_argument("--pair-size", type=positive_int, default=2, help="rows per pair (default 2)")
    p.add_argument("--table", metavar="FILE",
                   help="raw layout: the question table to read, when the folder holds more than one")
    p.add_argument("--no-images", action="store_true", help="skip decoding the images")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.dataset.hub import resolve_source
    from rsmmvp_tasks.dataset.loading import is_built, load_rsmmvp
    from rsmmvp_tasks.dataset.raw import read_raw
    from rsmmvp_tasks.dataset.validate import card_violations, validate_dataset
    from rsmmvp_tasks.errors import UsageError

    path = resolve_source(args.source)
    raw_layout = path.is_dir() and not is_built(path)
    if args.table and not raw_layout:
        raise UsageError(f"--table {args.table}: {args.source} is not a raw layout (question table + images)")
    # a raw layout is read as written (image paths, None where missing) so that every violation shows
    if raw_layout:
        data = read_raw(path, pair_size=args.pair_size, table=args.table)
    else:
        data = load_rsmmvp(path, pair_size=args.pair_size)
    report = validate_dataset(data, pair_size=args.pair_size, check_images=not args.no_images)
    card = _card_of(path) if not raw_layout else None
    if card is not None:
        text = card.read_text(encoding="utf-8") if card.is_file() else None
        report.violations += card_violations(text, data, where=str(card))
    print(f"{args.source}: {report.format()}")
    return 0 if report.ok else 1


def _card_of(path: Path) -> Path | None:
    """The dataset card that describes ``path``: ``README.md`` of a built folder (``None`` for a
    ``save_to_disk`` folder, which has none), or the ``README.md`` beside a parquet file (or above its
    ``data/`` folder), ``None`` when there is none."""
    if path.is_dir():
        return path / "README.md" if any(path.glob("data/*.parquet")) else None
    folder = path.parent.parent if path.parent.name == "data" else path.parent
    for candidate in (path.parent / "README.md", folder / "README.md"):
        if candidate.is_file():
            return candidate
    return None
