"""``rsmmvp mine --clip CACHE --ssl CACHE --out PAIRS``: find CLIP-blind pairs.

The rule and the search are documented in :mod:`rsmmvp_tasks.mining.search`, the PAIRS files in
:mod:`rsmmvp_tasks.mining.pairs`, the place rules (``--tiles``, ``--min-distance-m``,
``--different-scenes``) in :mod:`rsmmvp_tasks.mining.places`, ``--stats`` in :mod:`rsmmvp_tasks.mining.stats`. Writes ``PAIRS.parquet``, ``PAIRS.csv`` and ``PAIRS.json``
(parameters, counts, the search settings used and, with ``--check-recall``, the measured recall;
:mod:`rsmmvp_tasks.mining.ann`). A killed search resumes from ``PAIRS.checkpoint.npz``
(:mod:`rsmmvp_tasks.mining.resume`; ``--no-resume`` starts over). Exit status (:mod:`rsmmvp_tasks.errors`): 0 done (even with no pair found:
a warning says so), 2 a bad option or device, a missing, damaged, swapped or non-overlapping cache.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from rsmmvp_tasks.commands.argtypes import float_between, nonnegative_int, positive_int

log = logging.getLogger(__name__)
cosine = float_between(-1.0, 1.0)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "mine",
        help="mine CLIP-blind pairs from a CLIP cache and an SSL cache",
        description=("Pairs whose CLIP cosine is >= --clip-min and whose SSL cosine is < --ssl-max, ranked by the "
                     "gap clip - ssl, each image in at most --max-per-image pairs. Exact blocked search (or --index ivf|hnsw)."),
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
    p.add_argument("--block", type=positive_int, default=None,
                   help="tile size of the exact search; memory ~ 5 block^2 bytes (default: the largest power of two "
                        "whose tile fits a quarter of the device's free memory, at most 16384 on a GPU, 4096 on the CPU)")
    p.add_argument("--precision", choices=("auto", "fp32", "tf32", "bf16"), default="auto",
                   help="matmul precision of the exact search's candidate pass; every candidate is re-scored in float64, "
                        "so the pairs are the same in each (default auto: bf16 on a GPU, fp32 on the CPU)")
    p.add_argument("--max-candidates", type=positive_int, default=5_000_000,
                   help="candidate pairs kept in memory; beyond, the lowest gaps are dropped with a warning (default: 5e6)")
    p.add_argument("--backend", choices=("torch", "faiss"), default="torch",
                   help="torch: exact blocked matmul (default); faiss: range search (pip install faiss-cpu)")
    p.add_argument("--device", default="cpu", help="torch device for the search (default: cpu; e.g. cuda); checked up front")
    ann = p.add_argument_group("approximate search (faiss: pip install faiss-cpu)")
    ann.add_argument("--index", choices=("exact", "ivf", "hnsw"), default="exact",
                     help="candidate stage of the CLIP step: exact (default; every pair visited), or an approximate faiss "
                          "index, which can miss pairs (measure how many with --check-recall)")
    ann.add_argument("--nlist", type=positive_int, default=None, help="ivf: k-means lists (default: sqrt(N))")
    ann.add_argument("--nprobe", type=positive_int, default=None, help="ivf: lists searched per query (default: 6)")
    ann.add_argument("--hnsw-m", type=positive_int, default=None, help="hnsw: links per node (default: 32)")
    ann.add_argument("--ef-search", type=positive_int, default=None, help="hnsw: candidates per query (default: 256)")
    ann.add_argument("--check-recall", type=nonnegative_int, default=0, metavar="K",
                     help="search K random query images exactly (K x N) and report the share of their CLIP-close pairs "
                          "the candidate stage found, with a 95%% interval; recorded in PAIRS.json (default: 0, off)")
    p.add_argument("--no-resume", action="store_true",
                   help="start the search over; by default a run killed mid-search resumes from PAIRS.checkpoint.npz")
    places = p.add_argument_group("places (tiles from `rsmmvp tile`)")
    places.add_argument("--tiles", default=None, metavar="TABLE",
                        help="tile table of `rsmmvp tile` (DIR/tiles.parquet) giving each image's footprint; default: "
                             "tiles.parquet in the folder the CLIP cache was embedded from, if there. Adds geo_a, geo_b "
                             "and distance_m to PAIRS")
    places.add_argument("--min-distance-m", type=_metres, default=None, metavar="D",
                        help="drop candidate pairs whose footprints overlap or are less than D metres apart "
                             "(0: drop overlapping ones only)")
    places.add_argument("--different-scenes", action="store_true",
                        help="drop candidate pairs whose two tiles come from the same scene")
    stats = p.add_argument_group("thresholds you can see")
    stats.add_argument("--stats", action="store_true",
                       help="also write PAIRS_stats.png (2-D histogram of CLIP x SSL similarity over all pairs with "
                            "CLIP >= the floor, threshold lines, counts per threshold change) and PAIRS_stats.json, "
                            "and print candidate counts for a grid of --clip-min x --ssl-max")
    stats.add_argument("--stats-floor", type=cosine, default=None, metavar="CLIP",
                       help="lowest CLIP cosine in the histogram (default: --clip-min - 0.15)")
    p.add_argument("--no-export-images", action="store_true",
                   help="images from a dataset source have no file; by default those of the mined pairs are saved "
                        "as PNG in PAIRS_images/ (for `rsmmvp review`); this skips that")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _metres(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of metres") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a distance in metres >= 0")
    return value


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.mining.pairs import pairs_stem, write_pairs
    from rsmmvp_tasks.mining.places import (
        PlaceRule,
        TilePlaces,
        add_place_columns,
        find_tile_table,
    )
    from rsmmvp_tasks.mining.search import MineParams, mine_caches
    from rsmmvp_tasks.mining.stats import explain_exclusions
    from rsmmvp_tasks.mining.store import read_manifest

    params = MineParams(clip_min=args.clip_min, ssl_max=args.ssl_max, dup_threshold=args.dup_threshold,
                        max_per_image=args.max_per_image, block=args.block, max_candidates=args.max_candidates,
                        backend=args.backend, device=args.device, precision=args.precision, index=args.index,
                        nlist=args.nlist, nprobe=args.nprobe, hnsw_m=args.hnsw_m, ef_search=args.ef_search,
                        check_recall=args.check_recall)
    params.check()  # a bad device is said before the caches are read
    clip_manifest = read_manifest(args.clip)
    table = find_tile_table(args.tiles, clip_manifest)
    rule = PlaceRule(args.min_distance_m, args.different_scenes, TilePlaces.load(table) if table else None)
    rule.check()
    out = pairs_stem(args.out)
    if args.stats:
        _write_stats(args, params, out)
    checkpoint = out.with_name(out.name + ".checkpoint.npz")
    if args.no_resume:
        checkpoint.unlink(missing_ok=True)
    frame, summary = mine_caches(args.clip, args.ssl, params, progress=not args.no_progress,
                                 pair_filter=rule if rule.active else None, checkpoint=checkpoint)
    if rule.active:
        summary["place_rule"] = rule.summary()
    explanation = explain_exclusions(summary)
    if frame.empty:
        log.warning("no pair found: no two images have CLIP >= %.3f and SSL < %.3f%s; try a lower --clip-min or higher "
                    "--ssl-max (see them all with --stats)", args.clip_min, min(args.ssl_max, args.dup_threshold),
                    f" (and SSL < --dup-threshold {args.dup_threshold:g})" if args.dup_threshold < args.ssl_max else "")
    if explanation and (frame.empty or args.ssl_max > args.dup_threshold):
        log.warning("%s", explanation)
    elif explanation:
        log.info("%s", explanation)
    _record_read_settings(frame, clip_manifest, args.ssl)
    if rule.places is not None:
        add_place_columns(frame, rule.places)
    if not args.no_export_images:
        _export_images(frame, clip_manifest, out)
    written = write_pairs(frame, summary, out)
    print(f"{len(frame)} pairs from {summary['joined_images']} images -> " + ", ".join(str(p) for p in written))
    if "recall" in summary:
        r = summary["recall"]
        print(f"recall of the {args.index} candidate stage: "
              + (f"{r['recall']:.4f} (95% interval {r['interval95'][0]:.4f}-{r['interval95'][1]:.4f})"
                 if r["recall"] is not None else "n/a (no CLIP-close pair among the queries)")
              + f" over {r['exact_pairs']} exact CLIP-close pairs of {r['queries']} query images")
    return 0


def _record_read_settings(frame: Any, clip_manifest: dict[str, Any], ssl_cache: str) -> None:
    """Add the ``read`` column (how the images were decoded) when not the defaults: review and build decode alike."""
    import json

    from rsmmvp_tasks.mining.pairs import PAIRS_READ_COLUMN
    from rsmmvp_tasks.mining.store import read_manifest

    read = clip_manifest.get("read")
    if read and read != {"bands": None, "stretch": "auto", "nodata": None}:
        frame[PAIRS_READ_COLUMN] = json.dumps(read)
        ssl_read = read_manifest(ssl_cache).get("read")
        if ssl_read != read:
            log.warning("the caches were decoded with different settings (CLIP %s, SSL %s); PAIRS records CLIP's",
                        read, ssl_read)


def _export_images(frame: Any, clip_manifest: dict[str, Any], out: Path) -> None:
    """Save the pair images that have no file (dataset sources) into ``<out>_images/`` for review and build."""
    from rsmmvp_tasks.errors import InputError
    from rsmmvp_tasks.mining.pairs import export_pair_images

    if frame.empty or not ((frame.path_a == "") | (frame.path_b == "")).any():
        return
    images_dir = out.with_name(out.name + "_images")
    try:
        export_pair_images(frame, clip_manifest, images_dir, out.parent)
    except OSError as exc:
        raise InputError(f"could not write the pair images to {images_dir} ({exc}); "
                         "free the space or fix the permissions, or rerun with --no-export-images") from None


def _write_stats(args: argparse.Namespace, params: object, out: object) -> None:
    """``--stats``: the histogram PNG/JSON next to PAIRS, and the grid of counts on stdout."""
    from rsmmvp_tasks.mining.stats import format_grid, similarity_stats, write_stats

    hist = similarity_stats(args.clip, args.ssl, params, clip_floor=args.stats_floor, progress=not args.no_progress)
    files = write_stats(hist, out)
    print(format_grid(hist))
    print("similarity histogram -> " + ", ".join(str(p) for p in files))
