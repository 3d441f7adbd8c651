"""``rsmmvp build``: raw layout or mined pairs + annotations -> validated dataset folder (+ hub push).

Exit status: 0 built (and pushed), 1 the data breaks the contract (nothing written), 2 unreadable
input or a bad option (e.g. an --out folder holding files no build wrote or one edited since, or
--push without --license/--sources), 3 built but not pushed.

No licence is assumed: the card says ``unknown`` unless ``--license ID`` (every image source) or
``--sources FILE`` (a licence per source) states it, and ``--push`` is refused without one of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rsmmvp_tasks.commands.argtypes import positive_int


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "build",
        help="convert a raw layout or annotated pairs into a validated RSMMVP dataset (parquet, card, optional push)",
        description="Write OUT/data/*.parquet (image bytes embedded), OUT/disk (save_to_disk) and OUT/README.md "
        "(dataset card) after validating; refuses to write anything when a contract violation is found. OUT is "
        "written beside itself and swapped in at the end; an OUT holding files no earlier build wrote is refused "
        "unless --overwrite.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--raw", help="raw MMVP-style layout: folder or hub dataset id")
    src.add_argument("--pairs", type=Path, help="PAIRS table from `rsmmvp mine` (with --annotations)")
    p.add_argument("--annotations", type=Path, help="annotation JSON/CSV from `rsmmvp review`")
    p.add_argument("--table", metavar="FILE",
                   help="with --raw: the question table to read, when the folder holds more than one")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true",
                   help="replace OUT even if it holds files an earlier build did not write, or edited since it wrote "
                   "them (they are deleted)")
    p.add_argument("--pair-size", type=positive_int, default=2, help="rows per pair (default 2)")
    p.add_argument("--name", default="RSMMVP-format dataset", help="pretty name on the dataset card")
    p.add_argument("--license", default=None, metavar="ID",
                   help="licence id of every image source (e.g. cc-by-4.0, pddl); none is assumed: without it or "
                   "--sources the card says 'unknown' and --push is refused")
    p.add_argument("--sources", type=Path, default=None, metavar="FILE",
                   help="CSV (source,license,attribution) or JSON list: the licence of each image source "
                   "(the `source` column up to ':' or its first path component; '*' covers the rest)")
    p.add_argument("--description", default=None, help="dataset card description")
    p.add_argument("--attribution", default=None, help="attribution / provenance text for the card")
    p.add_argument(
        "--push", metavar="ORG/NAME", help="upload the folder to this hub dataset repo (token: HF_TOKEN or login)"
    )
    p.add_argument("--private", action="store_true", help="with --push: create the repo private")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.dataset.build import build_dataset
    from rsmmvp_tasks.dataset.card import CardInfo, read_sources_file
    from rsmmvp_tasks.dataset.hub import push_folder, resolve_source
    from rsmmvp_tasks.dataset.raw import read_raw
    from rsmmvp_tasks.errors import UsageError
    from rsmmvp_tasks.schema import PARQUET_NAME

    if args.pairs is not None and args.annotations is None:
        raise UsageError("--pairs needs --annotations (the file exported by `rsmmvp review`)")
    if args.raw is not None and args.annotations is not None:
        raise UsageError("--annotations goes with --pairs, not with --raw")
    if args.table is not None and args.raw is None:
        raise UsageError("--table goes with --raw (it names the question table of a raw layout)")

    if args.license is not None and args.sources is not None:
        raise UsageError("--license and --sources: give one (--sources states a licence per source)")
    if args.push and args.license is None and args.sources is None:
        raise UsageError(
            f"--push {args.push}: state the images' licence with --license ID (one for every source) or --sources "
            "FILE (one per source); none is assumed, since imagery (Planet, Maxar, ...) often cannot be "
            "relicensed. Nothing built or pushed"
        )
    sources = read_sources_file(args.sources) if args.sources is not None else None
    card = CardInfo(pretty_name=args.name, license=args.license, attribution=args.attribution, sources=sources)
    if args.description:
        card.description = args.description
    if args.raw:
        rows = read_raw(resolve_source(args.raw), pair_size=args.pair_size, table=args.table)
    else:
        from rsmmvp_tasks.mining.annotations import rows_from_annotations
        from rsmmvp_tasks.mining.pairs import mining_note

        rows = rows_from_annotations(args.pairs, args.annotations)
        card.mining = mining_note(args.pairs)
    from rsmmvp_tasks.dataset.task_yaml import eval_command, task_yaml_files

    task_yaml = task_yaml_files(args.out)  # a ready lmms-eval task for this build (rsmmvp_tasks.dataset.task_yaml)
    ds = build_dataset(rows, args.out, card=card, pair_size=args.pair_size, overwrite=args.overwrite,
                       extra_files=task_yaml)
    print(
        f"rsmmvp build: {len(ds)} questions written to {args.out}: {PARQUET_NAME} "
        f"(images embedded), disk/ (save_to_disk), README.md (dataset card), {next(iter(task_yaml))} (lmms-eval task)"
    )
    print(f"rsmmvp build: evaluate it with (replace --model dummy by your model and its --model_args):\n"
          f"  {eval_command(args.out)}")
    if args.push:
        print(f"rsmmvp build: pushed to {push_folder(args.out, args.push, private=args.private)}")
    return 0
