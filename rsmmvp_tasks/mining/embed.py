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

Resuming is by content, not only by name: an image whose file changed since it was embedded (its
size or modification time, see :meth:`~rsmmvp_tasks.mining.images.ImageList.stamps`) is embedded
again and its new vector replaces the old one.

One run at a time: the run holds the cache's writer lock (:mod:`~rsmmvp_tasks.mining.lock`) from
before the model is loaded until every process has written its last shard; a second run into the
same cache is refused at once with a message naming the holder (pid, host).

Unreadable images (truncated files, non-images with an image suffix, missing files, decompression
bombs) are appended to ``CACHE/errors.jsonl`` and skipped, also by later runs while the file is
unchanged (delete ``errors.jsonl`` to retry them); with ``strict=True`` those are retried and the
first unreadable image raises :class:`ImageReadError` (after the shard in progress is saved).

Errors (all :class:`~rsmmvp_tasks.errors.RsmmvpError`, exit 2 from the CLI):
:class:`~rsmmvp_tasks.errors.UsageError` for sizes below 1 or a device that is not there;
:class:`~rsmmvp_tasks.mining.images.ImageSourceError`, :class:`~rsmmvp_tasks.mining.encoders.EncoderError`,
:class:`~rsmmvp_tasks.mining.store.CacheError` (:class:`~rsmmvp_tasks.mining.store.ManifestMismatchError`,
:class:`~rsmmvp_tasks.mining.lock.CacheLockedError`) and :class:`ImageReadError`.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.imagery.read import ReadSettings
from rsmmvp_tasks.mining.encoders import Encoder, load_encoder
from rsmmvp_tasks.mining.images import (
    ImageDataset,
    ImageList,
    collate,
    list_images,
    open_image,
)
from rsmmvp_tasks.mining.lock import cache_lock
from rsmmvp_tasks.mining.store import CacheWriter

__all__ = ["EmbedStats", "ImageReadError", "embed_images"]

log = logging.getLogger(__name__)


class ImageReadError(InputError):
    """An unreadable image in strict mode."""


@dataclass
class EmbedStats:
    """What one call of :func:`embed_images` did (in this process)."""

    total: int  # images in the source
    skipped: int  # already in the cache with unchanged content (or already reported unreadable) at start
    embedded: int  # embedded and stored by this call
    failed: int  # found unreadable by this call
    shards: int  # shards written by this call
    cache: Path
    changed: int = 0  # stored before, but their file changed since: embedded again (included in `embedded`)


def _preprocess(processor: Any, image: Any) -> Any:
    return processor(images=image, return_tensors="pt")["pixel_values"][0]


def _distributed(device: str | None) -> tuple[int, int, Any, Callable[[], None]]:
    """``(rank, world, device, barrier)`` from the launcher's environment (``RANK``/``WORLD_SIZE``/``LOCAL_RANK``,
    set by ``accelerate launch`` and ``torchrun``); a single process without them.

    Processes only need barriers, so a gloo process group is used (CPU or GPU alike); each process
    takes GPU ``LOCAL_RANK`` when CUDA is available. A ``device`` given is checked first.
    """
    import torch

    from rsmmvp_tasks.mining.devices import check_device

    if device is not None:
        check_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device or ("cuda" if torch.cuda.is_available() else "cpu"), lambda: None
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo", rank=rank, world_size=world)
    dev = device or (f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    return rank, world, dev, dist.barrier


def _open_writer(out: str | Path, manifest: dict[str, Any], rank: int, barrier: Callable[[], None]) -> CacheWriter:
    """Process 0 writes or checks the manifest first; then every process reads what is done before anyone writes."""
    writer = CacheWriter(out, manifest, rank=0) if rank == 0 else None
    barrier()
    if writer is None:
        writer = CacheWriter(out, manifest, rank=rank)
    barrier()
    return writer


def _pending(imgs: ImageList, stamps: list[str | None], writer: CacheWriter, strict: bool) -> list[int]:
    """Indices of the images to embed: not stored with their current stamp (nor, unless ``strict``, reported unreadable)."""
    return [i for i, image_id in enumerate(imgs.ids) if not writer.is_current(image_id, stamps[i], failed_too=not strict)]


@dataclass
class _ShardBuffer:
    """Vectors waiting to be written as one shard, with their ids, paths and stamps."""

    writer: CacheWriter
    with_paths: bool
    ids: list[str] = field(default_factory=list)
    paths: list[str | None] = field(default_factory=list)
    stamps: list[str | None] = field(default_factory=list)
    vectors: list[Any] = field(default_factory=list)
    shards: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, ids: list[str], vectors: Any, paths: list[str | None], stamps: list[str | None]) -> None:
        self.ids += ids
        self.paths += paths
        self.stamps += stamps
        self.vectors.append(vectors)

    def flush(self) -> None:
        import torch

        if self.ids:
            self.writer.write_shard(self.ids, torch.cat(self.vectors).numpy(),
                                    self.paths if self.with_paths else None, self.stamps)
            self.shards += 1
            self.ids, self.paths, self.stamps, self.vectors = [], [], [], []


def _embed_pending(imgs: ImageList, stamps: list[str | None], todo: list[int], enc: Encoder, writer: CacheWriter,
                   stats: EmbedStats, *, batch_size: int, workers: int, shard_size: int, strict: bool,
                   desc: str, position: int, progress: bool, read: ReadSettings | None = None) -> None:
    """Embed images ``todo`` in batches (DataLoader workers decode), writing a shard every ``shard_size``."""
    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    if todo and workers > 0:  # decode one image here: the default-stretch line is logged once, not once per worker
        try:
            open_image(imgs.raw(todo[0]), read)
        except Exception as exc:  # noqa: BLE001 - a bad image is reported by the loader below
            log.debug("first image unreadable (%s); the loader reports it", exc)
    loader = DataLoader(
        ImageDataset(imgs, todo, functools.partial(_preprocess, enc.processor), read),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=torch.device(enc.device).type == "cuda",
        prefetch_factor=4 if workers > 0 else None,
    )

    def path_of(i: int) -> str | None:
        p = imgs.path(i)
        return str(p) if p is not None else None

    buffer = _ShardBuffer(writer, with_paths=bool(imgs.files))
    with tqdm(total=len(todo), desc=desc, unit="img", disable=not progress, position=position) as bar:
        for batch in loader:
            for i, err in batch.errors:
                writer.write_error(imgs.ids[i], path_of(i), err, stamps[i])
                stats.failed += 1
                log.warning("unreadable image %s: %s", path_of(i) or imgs.ids[i], err)
                if strict:
                    buffer.flush()
                    raise ImageReadError(f"unreadable image {path_of(i) or imgs.ids[i]}: {err} "
                                         f"(recorded in {writer.cache / 'errors.jsonl'}; drop --strict to skip such images)")
            if batch.pixels is not None:
                buffer.add([imgs.ids[i] for i in batch.indices], enc.encode(batch.pixels),
                           [path_of(i) for i in batch.indices], [stamps[i] for i in batch.indices])
                stats.embedded += len(batch.indices)
            if len(buffer) >= shard_size:
                buffer.flush()
            bar.update(len(batch.indices) + len(batch.errors))
        buffer.flush()
    stats.shards = buffer.shards


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
    read: ReadSettings | None = None,
) -> EmbedStats:
    """Embed ``images`` (a source spec or an :class:`ImageList`) with ``encoder`` into the cache ``out``.

    ``encoder`` is a model id / folder (loaded with ``kind``, ``dtype`` on ``device``) or an
    :class:`Encoder`. ``storage_dtype`` (``float32``/``float16``) is how vectors are stored. ``read``
    (bands, stretch, nodata; :class:`~rsmmvp_tasks.imagery.read.ReadSettings`, default: the defaults)
    is how pixels are decoded, recorded in the manifest as ``"read"``. Images
    already stored with unchanged content are skipped. Raises the errors of the module docstring,
    e.g. :class:`~rsmmvp_tasks.mining.store.ManifestMismatchError` when ``out`` was made with another
    encoder, kind, dim, storage dtype or source, and :class:`ImageReadError` on a bad image when ``strict``.
    """
    if batch_size < 1 or shard_size < 1 or workers < 0:
        raise UsageError(f"--batch-size and --shard-size must be >= 1 and --workers >= 0 "
                         f"(got {batch_size}, {shard_size}, {workers})")
    rank, world, dev, barrier = _distributed(device)
    imgs = images if isinstance(images, ImageList) else list_images(images, column=column)
    with cache_lock(out) if rank == 0 else nullcontext():
        enc = encoder if isinstance(encoder, Encoder) else load_encoder(encoder, kind=kind, device=dev, dtype=dtype)
        read = read or ReadSettings()
        writer = _open_writer(out, {**enc.describe(), "dtype": storage_dtype, **imgs.describe(),
                                    "read": read.describe()}, rank, barrier)
        stamps = imgs.stamps()
        pending = _pending(imgs, stamps, writer, strict)
        changed = sum(1 for i in pending if imgs.ids[i] in writer.stored)
        todo = pending[rank::world]
        stats = EmbedStats(total=len(imgs), skipped=len(imgs) - len(pending), embedded=0, failed=0, shards=0,
                           cache=Path(out), changed=sum(1 for i in todo if imgs.ids[i] in writer.stored))
        log.info("%s: %d images, %d already done, %d to embed (%d changed since embedded; process %d of %d)",
                 imgs.source, len(imgs), stats.skipped, len(pending), changed, rank, world)
        if todo:
            _embed_pending(imgs, stamps, todo, enc, writer, stats, batch_size=batch_size, workers=workers,
                           shard_size=shard_size, strict=strict, position=rank, progress=progress, read=read,
                           desc=f"embed {Path(out).name}" + (f" [{rank}]" if world > 1 else ""))
            log.info("%s: embedded %d images in %d shards, %d unreadable", out, stats.embedded, stats.shards, stats.failed)
        barrier()  # every process has written its last shard before the lock is released
    return stats
