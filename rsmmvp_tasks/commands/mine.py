"""``rsmmvp mine --clip CACHE --ssl CACHE --out PAIRS``: find CLIP-blind pairs.

The rule and the search are documented in :mod:`rsmmvp_tasks.mining.search`, the PAIRS files in
:mod:`rsmmvp_tasks.mining.pairs`. Writes ``PAIRS.parquet``, ``PAIRS.csv`` and ``PAIRS.json``
(parameters and counts). Exit status (:mod:`rsmmvp_tasks.errors`): 0 done (even with no pair found:
a warning says so), 2 a bad option or device, a missing, damaged, swapped or non-overlapping cache.
"""

from __future__ import annotations

import argparse
import logging

from rsmmvp_tasks.commands.argtypes import float_between, positive_int

log = logging.getLogger(__name__)
cosine = float_between(-1.0, 1.0)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mine",
        help="mine CLIP-blind pairs from a CLIP cache and an SSL cache",
        description=("Pairs whose CLIP cosine is >= --clip-min and whose SSL cosine is < --ssl-max, ranked by the "
                     "gap clip - ssl, each image in at most --max-per-image pairs. Exact blocked search."),
    )
    p.add_argument("--clip", required=True, metavar="CACHE", help="cache written by `rsmmvp embed` with a CLIP model")
    p.add_argument("--ssl", required=True, metavar="CACHE", help="cache written by `rsmmvp embed` with a self-supervised model")
    p.add_argument("--out", required=True, metavar="PAIRS", help="output path without suffix (PAIRS.parquet/.csv/.json)")
    p.add_argument("--clip-min", type=cosine, default=0.95, help="minimum CLIP cosine (default: 0.95, as MMVP)")
    p.add_argument("--ssl-max", type=cosine, default=0.6, help="SSL cosine must be below this (default: 0.6, as MMVP)")
    p.add_argument("--dup-threshold", type=cosine, default=0.9,
                   help="pairs with SSL cosine >= this are near-duplicates and never kept (default: 0.9; matters "
                        "when --ssl-max is raised above it; 1 keeps all but identical images)")
    p.add_argument("--max-per-image", type=positive_int, default=1, help="pairs one image may appear in (default: 1)")
    p.add_argument("--block", type=positive_int, default=4096, help="tile size of the blocked search; memory ~ block^2 floats (default: 4096)")
    p.add_argument("--max-candidates", type=positive_int, default=5_000_000,
                   help="candidate pairs kept in memory; beyond, the lowest gaps are dropped with a warning (default: 5e6)")
    p.add_argument("--backend", choices=("torch", "faiss"), default="torch",
                   help="torch: exact blocked matmul (default); faiss: range search (pip install faiss-cpu)")
    p.add_argument("--device", default="cpu", help="torch device for the search (default: cpu; e.g. cuda); checked up front")
    p.add_argument("--no-export-images", action="store_true",
                   help="images from a dataset source have no file; by default those of the mined pairs are saved "
                        "as PNG in PAIRS_images/ (for `rsmmvp review`); this skips that")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.errors import InputError
    from rsmmvp_tasks.mining.pairs import export_pair_images, pairs_stem, write_pairs
    from rsmmvp_tasks.mining.search import MineParams, mine_caches
    from rsmmvp_tasks.mining.store import read_manifest

    params = MineParams(clip_min=args.clip_min, ssl_max=args.ssl_max, dup_threshold=args.dup_threshold,
                        max_per_image=args.max_per_image, block=args.block, max_candidates=args.max_candidates,
                        backend=args.backend, device=args.device)
    params.check()  # a bad device is said before the caches are read
    frame, summary = mine_caches(args.clip, args.ssl, params, progress=not args.no_progress)
    if frame.empty:
        log.warning("no pair found: no two images have CLIP >= %.3f and SSL < %.3f; try a lower --clip-min or higher --ssl-max",
                    args.clip_min, args.ssl_max)
    out = pairs_stem(args.out)
    if not args.no_export_images and not frame.empty and ((frame.path_a == "") | (frame.path_b == "")).any():
        images_dir = out.with_name(out.name + "_images")
        try:
            export_pair_images(frame, read_manifest(args.clip), images_dir, out.parent)
        except OSError as exc:
            raise InputError(f"could not write the pair images to {images_dir} ({exc}); "
                             "free the space or fix the permissions, or rerun with --no-export-images") from None
    written = write_pairs(frame, summary, out)
    print(f"{len(frame)} pairs from {summary['joined_images']} images -> " + ", ".join(str(p) for p in written))
    return 0
