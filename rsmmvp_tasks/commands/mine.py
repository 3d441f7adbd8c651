"""``rsmmvp mine --clip CACHE --ssl CACHE --out PAIRS``: find CLIP-blind pairs.

The rule, the search and the PAIRS columns are documented in :mod:`rsmmvp_tasks.mining.search`.
Writes ``PAIRS.parquet``, ``PAIRS.csv`` and ``PAIRS.json`` (parameters and counts).
Exit status: 0 done (even with no pair found: a warning says so), 1 bad input, 2 usage.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


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
    p.add_argument("--clip-min", type=float, default=0.95, help="minimum CLIP cosine (default: 0.95, as MMVP)")
    p.add_argument("--ssl-max", type=float, default=0.6, help="SSL cosine must be below this (default: 0.6, as MMVP)")
    p.add_argument("--dup-threshold", type=float, default=0.9,
                   help="pairs with SSL cosine >= this are near-duplicates and never kept (default: 0.9; matters "
                        "when --ssl-max is raised above it)")
    p.add_argument("--max-per-image", type=int, default=1, help="pairs one image may appear in (default: 1)")
    p.add_argument("--block", type=int, default=4096, help="tile size of the blocked search; memory ~ block^2 floats (default: 4096)")
    p.add_argument("--max-candidates", type=int, default=5_000_000,
                   help="candidate pairs kept in memory; beyond, the lowest gaps are dropped with a warning (default: 5e6)")
    p.add_argument("--backend", choices=("torch", "faiss"), default="torch",
                   help="torch: exact blocked matmul (default); faiss: range search (pip install faiss-cpu)")
    p.add_argument("--device", default="cpu", help="torch device for the search (default: cpu; e.g. cuda)")
    p.add_argument("--no-export-images", action="store_true",
                   help="images from a dataset source have no file; by default those of the mined pairs are saved "
                        "as PNG in PAIRS_images/ (for `rsmmvp review`); this skips that")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rsmmvp_tasks.mining.images import ImageSourceError
    from rsmmvp_tasks.mining.search import (
        MineParams,
        export_pair_images,
        mine_caches,
        write_pairs,
    )
    from rsmmvp_tasks.mining.store import CacheError, read_manifest

    params = MineParams(clip_min=args.clip_min, ssl_max=args.ssl_max, dup_threshold=args.dup_threshold,
                        max_per_image=args.max_per_image, block=args.block, max_candidates=args.max_candidates,
                        backend=args.backend, device=args.device)
    try:
        frame, summary = mine_caches(args.clip, args.ssl, params, progress=not args.no_progress)
    except (CacheError, ValueError, ImportError) as exc:
        log.error("%s", exc)
        return 1
    if summary["joined_images"] < 2:
        log.error("fewer than 2 images are in both caches (%s: %d, %s: %d); were they embedded from the same IMAGES?",
                  args.clip, summary["clip_images"], args.ssl, summary["ssl_images"])
        return 1
    if frame.empty:
        log.warning("no pair found: no two images have CLIP >= %.3f and SSL < %.3f; try a lower --clip-min or higher --ssl-max",
                    args.clip_min, args.ssl_max)
    out = Path(args.out)
    out = out.with_suffix("") if out.suffix.lower() in (".parquet", ".csv", ".json") else out
    if not args.no_export_images and not frame.empty and ((frame.path_a == "") | (frame.path_b == "")).any():
        try:
            export_pair_images(frame, read_manifest(args.clip), out.with_name(out.name + "_images"), out.parent)
        except (ImageSourceError, ValueError, OSError) as exc:
            log.error("could not export the pair images (%s); rerun with --no-export-images to skip", exc)
            return 1
    written = write_pairs(frame, summary, out)
    print(f"{len(frame)} pairs from {summary['joined_images']} images -> " + ", ".join(str(p) for p in written))
    return 0
