"""``rsmmvp embed``: encode a set of images into a resumable embedding cache.

:func:`embed_images` lists the images (:mod:`~rsmmvp_tasks.mining.images`), loads the encoder
(:mod:`~rsmmvp_tasks.mining.encoders`), skips every image the cache already holds (or already
reported unreadable), and embeds the rest in batches: DataLoader workers decode and preprocess while
the model runs. Every ``shard_size`` images are written as one shard (:mod:`~rsmmvp_tasks.mining.store`),
atomically, so a killed run loses at most the unflushed shard and a rerun with the same arguments
picks up where it stopped, computing nothing twice.

Several processes (``accelerate launch --multi_gpu --num_processes N -m rsmmvp_tasks.cli embed ...``
or ``torchrun --nproc_per_node N -m rsmmvp_tasks.cli embed ...``): each process (GPU ``LOCAL_RANK``)
takes every ``N``-th pending image and writes rank-suffixed shards; readers merge them.

Unreadable images (truncated files, non-images with an image suffix, missing files) are appended
to ``CACHE/errors.jsonl`` and skipped, also by later runs (delete the file to retry them); with
``strict=True`` those are retried and the first unreadable image raises :class:`ImageReadError`
(after the shard in progress is saved).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.mining.encoders import Encoder, load_encoder
from rsmmvp_tasks.mining.images import ImageDataset, ImageList, collate, list_images
from rsmmvp_tasks.mining.store import CacheWriter

__all__ = ["EmbedStats", "ImageReadError", "embed_images"]

log = logging.getLogger(__name__)


class ImageReadError(RuntimeError):
    """An unreadable image in strict mode."""


@dataclass
class EmbedStats:
    """What one call of :func:`embed_images` did (in this process)."""

    total: int  # images in the source
    skipped: int  # already in the cache (or already reported unreadable) at start
    embedded: int  # embedded and stored by this call
    failed: int  # found unreadable by this call
    shards: int  # shards written by this call
    cache: Path


def _preprocess(processor: Any, image: Any) -> Any:
    return processor(images=image, return_tensors="pt")["pixel_values"][0]


def _distributed(device: str | None) -> tuple[int, int, Any, Callable[[], None]]:
    """``(rank, world, device, barrier)`` from the launcher's environment (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``,
    set by ``accelerate launch`` and ``torchrun``); a single process without them.

    Processes only need barriers, so a gloo process group is used (CPU or GPU alike); each process
    takes GPU ``LOCAL_RANK`` when CUDA is available.
    """
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device or ("cuda" if torch.cuda.is_available() else "cpu"), lambda: None
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", rank=rank, world_size=world)
    dev = device or (f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    return rank, world, dev, dist.barrier


def embed_images(
    images: str | Path | ImageList,
    encoder: str | Encoder,
    out: str | Path,
    *,
    kind: str = "auto",
    column: str | None = None,
    batch_size: int = 32,
    workers: int = 2,
    dtype: str = "auto",
    storage_dtype: str = "float32",
    shard_size: int = 1024,
    strict: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> EmbedStats:
    """Embed ``images`` (a source spec or an :class:`ImageList`) with ``encoder`` into the cache ``out``.

    ``encoder`` is a model id / folder (loaded with ``kind``, ``dtype`` on ``device``) or an
    :class:`Encoder`. ``storage_dtype`` (``float32``/``float16``) is how vectors are stored.
    Raises :class:`~rsmmvp_tasks.mining.store.ManifestMismatchError` when ``out`` was made with another
    encoder, kind, dim, storage dtype or source; :class:`ImageReadError` on a bad image when ``strict``.
    """
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    if batch_size < 1 or shard_size < 1 or workers < 0:
        raise ValueError(f"batch_size and shard_size must be >= 1 and workers >= 0 (got {batch_size}, {shard_size}, {workers})")
    rank, world, dev, barrier = _distributed(device)
    imgs = images if isinstance(images, ImageList) else list_images(images, column=column)
    enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder, kind=kind, device=dev, dtype=dtype)
    manifest = {**enc.describe(), "dtype": storage_dtype, **imgs.describe()}

    writer = None
    if rank == 0:
        writer = CacheWriter(out, manifest, rank=0)
    barrier()
    if writer is None:
        writer = CacheWriter(out, manifest, rank=rank)
    barrier()  # every process has read what is done before anyone writes
    skip = writer.done if strict else writer.done | writer.failed  # strict retries the images reported before
    pending = [i for i, image_id in enumerate(imgs.ids) if image_id not in skip]
    mine = pending[rank::world]
    stats = EmbedStats(total=len(imgs), skipped=len(imgs) - len(pending), embedded=0, failed=0, shards=0, cache=Path(out))
    log.info("%s: %d images, %d already done, %d to embed (process %d of %d)",
             imgs.source, len(imgs), stats.skipped, len(pending), rank, world)
    if not mine:
        return stats

    loader = DataLoader(
        ImageDataset(imgs, mine, functools.partial(_preprocess, enc.processor)),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=torch.device(dev).type == "cuda",
        prefetch_factor=4 if workers > 0 else None,
    )
    buf_ids: list[str] = []
    buf_paths: list[str | None] = []
    buf_vecs: list[Any] = []

    def flush() -> None:
        if buf_ids:
            writer.write_shard(buf_ids, torch.cat(buf_vecs).numpy(), buf_paths if imgs.files else None)
            stats.shards += 1
            buf_ids.clear(), buf_paths.clear(), buf_vecs.clear()

    def path_of(i: int) -> str | None:
        p = imgs.path(i)
        return str(p) if p is not None else None

    bar = tqdm(total=len(mine), desc=f"embed {Path(out).name}" + (f" [{rank}]" if world > 1 else ""),
               unit="img", disable=not progress, position=rank)
    try:
        for batch in loader:
            for i, err in batch.errors:
                writer.write_error(imgs.ids[i], path_of(i), err)
                stats.failed += 1
                log.warning("unreadable image %s: %s", path_of(i) or imgs.ids[i], err)
                if strict:
                    flush()
                    raise ImageReadError(f"unreadable image {path_of(i) or imgs.ids[i]}: {err} "
                                         f"(recorded in {Path(out) / 'errors.jsonl'}; drop --strict to skip such images)")
            if batch.pixels is not None:
                buf_vecs.append(enc.encode(batch.pixels))
                buf_ids.extend(imgs.ids[i] for i in batch.indices)
                buf_paths.extend(path_of(i) for i in batch.indices)
                stats.embedded += len(batch.indices)
            if len(buf_ids) >= shard_size:
                flush()
            bar.update(len(batch.indices) + len(batch.errors))
        flush()
    finally:
        bar.close()
    log.info("%s: embedded %d images in %d shards, %d unreadable", out, stats.embedded, stats.shards, stats.failed)
    return stats
