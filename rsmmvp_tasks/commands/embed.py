"""``rsmmvp embed IMAGES --encoder MODEL --out CACHE``: embed images into a resumable cache.

See :mod:`rsmmvp_tasks.mining.embed` (what is done), :mod:`rsmmvp_tasks.mining.images` (accepted
IMAGES), :mod:`rsmmvp_tasks.mining.store` (the cache layout). Exit status (:mod:`rsmmvp_tasks.errors`):
0 done (unreadable images skipped and listed), 2 a bad option, device, source, encoder or cache, another
run writing the same cache, or an unreadable image with ``--strict``.
"""

from __future__ import annotations

import argparse
import logging
import os

from rsmmvp_tasks.commands.argtypes import nonnegative_int, positive_int
from rsmmvp_tasks.commands.tile import add_read_options, read_settings
from rsmmvp_tasks.hubaccess import check_hub

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "embed",
        help="embed images (folder, file list or dataset) with a CLIP or self-supervised encoder",
        description=(
            "Embed IMAGES with MODEL into the cache folder CACHE (L2-normalised .npy shards + image ids + "
            "manifest). Rerunning the same command resumes: images already in CACHE are skipped. "
            "Several GPUs: accelerate launch --multi_gpu --num_processes N -m rsmmvp_tasks.cli embed ... "
            "(or torchrun --nproc_per_node N -m rsmmvp_tasks.cli embed ...)."
        ),
    )
    p.add_argument("images", metavar="IMAGES",
                   help="a folder (jpg/png/tif, recursive), a .txt list (one path per line), a .parquet file or "
                        "save_to_disk folder (optionally PATH#column), or hf:NAME[:split][#column]")
    p.add_argument("--encoder", required=True, metavar="MODEL", help="transformers model id or local folder")
    p.add_argument("--out", required=True, metavar="CACHE", help="cache folder (created; resumed when it exists)")
    p.add_argument("--kind", default="auto",
                   help="auto (get_image_features -> clip, else ssl), clip, ssl, or a kind registered in "
                        "rsmmvp_tasks.mining.encoders.KINDS (default: auto)")
    p.add_argument("--column", default=None, help="image column of a dataset source (default: first Image column)")
    p.add_argument("--batch-size", type=positive_int, default=32, help="images per forward pass (default: 32)")
    p.add_argument("--workers", type=nonnegative_int, default=2, help="DataLoader processes decoding images (default: 2; 0 = inline)")
    p.add_argument("--dtype", default="auto", choices=("auto", "float32", "float16", "bfloat16"),
                   help="model compute dtype (auto: bf16/fp16 on GPU, fp32 on CPU)")
    p.add_argument("--storage-dtype", default="float32", choices=("float32", "float16"),
                   help="dtype of the stored vectors (default: float32)")
    p.add_argument("--shard-size", type=positive_int, default=1024, help="images per saved shard; the resume granularity (default: 1024)")
    p.add_argument("--device", default=None,
                   help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu); checked up front")
    add_read_options(p)  # --bands, --stretch, --nodata (rsmmvp_tasks.imagery.read), recorded in the manifest
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.mining.embed import embed_images

    if not (os.path.exists(str(args.encoder)) and os.path.exists(str(args.images))):
        check_hub("rsmmvp embed", required=False)  # may need the hub: probe once; unreachable -> offline at once
    try:
        stats = embed_images(
            args.images, args.encoder, args.out, kind=args.kind, column=args.column, batch_size=args.batch_size,
            workers=args.workers, dtype=args.dtype, storage_dtype=args.storage_dtype, shard_size=args.shard_size,
            strict=args.strict, device=args.device, progress=not args.no_progress, read=read_settings(args),
        )
    finally:
        _leave_process_group()
    print(f"{stats.cache}: {stats.embedded} embedded" + (f" ({stats.changed} changed since last embedded)" if stats.changed else "")
          + f", {stats.skipped} already there, {stats.failed} unreadable (of {stats.total})"
          + (f"; see {stats.cache / 'errors.jsonl'}" if stats.failed else ""))
    return 0


def _leave_process_group() -> None:
    """Close the process group a multi-process launch opened (no-op otherwise)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
