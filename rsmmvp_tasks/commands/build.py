"""``rsmmvp build``: raw layout or mined pairs + annotations -> validated dataset folder (+ hub push)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "build",
        help="convert a raw layout or annotated pairs into a validated RSMMVP dataset (parquet, card, optional push)",
        description="Write OUT/data/*.parquet (image bytes embedded), OUT/disk (save_to_disk) and OUT/README.md "
        "(dataset card) after validating; refuses to write anything when a contract violation is found.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--raw", help="raw MMVP-style layout: folder or hub dataset id")
    src.add_argument("--pairs", type=Path, help="PAIRS table from `rsmmvp mine` (with --annotations)")
    p.add_argument("--annotations", type=Path, help="annotation JSON/CSV from `rsmmvp review`")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--pair-size", type=int, default=2)
    p.add_argument("--name", default="RSMMVP-format dataset", help="pretty name on the dataset card")
    p.add_argument("--license", default="cc-by-4.0", help="license id on the dataset card")
    p.add_argument("--description", default=None, help="dataset card description")
    p.add_argument("--attribution", default=None, help="attribution / provenance text for the card")
    p.add_argument(
        "--push", metavar="ORG/NAME", help="upload the folder to this hub dataset repo (token: HF_TOKEN or login)"
    )
    p.add_argument("--private", action="store_true", help="with --push: create the repo private")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.dataset.build import ValidationFailed, build_dataset
    from rsmmvp_tasks.dataset.card import CardInfo

    if args.pairs is not None and args.annotations is None:
        raise SystemExit("rsmmvp build: --pairs needs --annotations (the file exported by `rsmmvp review`)")
    from rsmmvp_tasks.dataset.hub import HubSourceError, resolve_source
    from rsmmvp_tasks.dataset.raw import RawLayoutError, read_raw

    card = CardInfo(pretty_name=args.name, license=args.license, attribution=args.attribution)
    if args.description:
        card.description = args.description
    try:
        if args.raw:
            rows = read_raw(resolve_source(args.raw), pair_size=args.pair_size)
        else:
            from rsmmvp_tasks.mining.annotations import rows_from_annotations

            rows = rows_from_annotations(args.pairs, args.annotations)
    except (HubSourceError, RawLayoutError, FileNotFoundError, ValueError) as exc:
        print(f"rsmmvp build: cannot read the input: {exc}", file=sys.stderr)
        return 2
    try:
        ds = build_dataset(rows, args.out, card=card, pair_size=args.pair_size)
    except ValidationFailed as exc:
        print(f"rsmmvp build: nothing written; the data breaks the RSMMVP contract:\n{exc.report.format()}")
        return 1
    print(
        f"rsmmvp build: {len(ds)} questions written to {args.out}: data/test-00000-of-00001.parquet "
        "(images embedded), disk/ (save_to_disk), README.md (dataset card)"
    )
    if args.push:
        from rsmmvp_tasks.dataset.hub import push_folder

        try:
            url = push_folder(args.out, args.push, private=args.private)
        except HubSourceError as exc:
            print(f"rsmmvp build: not pushed: {exc}", file=sys.stderr)
            return 2
        print(f"rsmmvp build: pushed to {url}")
    return 0
