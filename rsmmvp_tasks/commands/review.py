"""``rsmmvp review PAIRS --out DIR``: write the static annotation page for mined pairs.

See :mod:`rsmmvp_tasks.mining.review`. Exit status (:mod:`rsmmvp_tasks.errors`): 0 written (images that
cannot be shown get a message on their card), 2 a missing or malformed PAIRS table or a bad option.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rsmmvp_tasks.commands.argtypes import positive_int


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "review",
        help="write a static HTML page to annotate mined pairs (question, options, answers, pattern)",
        description=(
            "Write DIR/index.html, an offline annotation page for the pairs of a PAIRS table "
            "(from `rsmmvp mine`), and DIR/annotations_template.csv for spreadsheet users. Open the "
            "page in a browser, annotate, click 'Download annotations (JSON)', then give PAIRS "
            "and that file (or the filled CSV) to `rsmmvp build`."
        ),
    )
    p.add_argument("pairs", type=Path, metavar="PAIRS", help="PAIRS table (.parquet or .csv) written by `rsmmvp mine`")
    p.add_argument("--out", "-o", type=Path, required=True, metavar="DIR", help="folder for index.html and the CSV template")
    images = p.add_mutually_exclusive_group()
    images.add_argument("--embed-images", dest="embed_images", action="store_true", default=True,
                        help="embed downscaled JPEG thumbnails in the page: one self-contained file (default)")
    images.add_argument("--link-images", dest="embed_images", action="store_false",
                        help="link the image files by relative path: small page, full resolution; keep it beside the images")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N pairs by rank")
    p.add_argument("--thumb-size", type=positive_int, default=384, metavar="PX",
                   help="longest side of embedded thumbnails in pixels (default 384)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.mining.review import write_review_page

    page = write_review_page(args.pairs, args.out, embed_images=args.embed_images, limit=args.limit,
                             thumb_size=args.thumb_size)
    print(page.resolve().as_uri())
    return 0
