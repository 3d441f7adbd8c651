"""``rsmmvp validate PATH_OR_HUB_ID``: list every contract violation.

Exit status: 0 no violation, 1 violations (all printed), 2 the source cannot be read.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check a dataset against the RSMMVP contract (lists every violation)",
        description="Check a built folder, parquet file, save_to_disk folder, raw MMVP-style layout or hub "
        "dataset id against the RSMMVP contract. Prints every violation with its row; exits 1 if there is any. "
        "Never changes the data.",
    )
    p.add_argument("source", help="path or hub dataset id (ORG/NAME)")
    p.add_argument("--pair-size", type=int, default=2, help="rows per pair (default 2)")
    p.add_argument("--no-images", action="store_true", help="skip decoding the images")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.dataset.hub import HubSourceError, resolve_source
    from rsmmvp_tasks.dataset.loading import is_built, load_rsmmvp
    from rsmmvp_tasks.dataset.raw import RawLayoutError, read_raw
    from rsmmvp_tasks.dataset.validate import validate_dataset

    try:
        path = resolve_source(args.source)
        # a raw layout is read as written (image paths, None where missing) so that every violation shows
        data = load_rsmmvp(path) if is_built(path) else read_raw(path, pair_size=args.pair_size)
    except (HubSourceError, RawLayoutError, FileNotFoundError) as exc:
        print(f"rsmmvp validate: cannot read {args.source}: {exc}", file=sys.stderr)
        return 2
    report = validate_dataset(data, pair_size=args.pair_size, check_images=not args.no_images)
    print(f"{args.source}: {report.format()}")
    return 0 if report.ok else 1
