"""The embedding cache written by ``rsmmvp embed`` and read by ``rsmmvp mine``.

Layout of a cache folder ``CACHE``
----------------------------------
``manifest.json``
    ``{"format": 1, "encoder": <model id>, "kind": "clip"|"ssl"|..., "dim": int,
    "dtype": "float16"|"float32" (storage), "model_dtype": str, "source": <IMAGES spec>,
    "source_kind": "folder"|"filelist"|"dataset", "root": <folder or null>, "column": str|null,
    "num_images": int}``. Resuming into a cache whose ``encoder``, ``kind``, ``dim``, ``dtype``,
    ``model_dtype`` or ``source`` differ raises :class:`ManifestMismatchError` (``num_images`` may
    change: images added to a folder are embedded by the next run).
``shards/emb-r<RR>-<SSSSSS>.npy``
    ``(n, dim)`` L2-normalised embeddings of process ``RR`` (its ``SSSSSS``-th shard).
``shards/ids-r<RR>-<SSSSSS>.json``
    ``{"ids": [...], "paths": [... or null]}``: the image ids of the rows of the matching ``.npy``.
    Every file is written to a temporary name and renamed (atomic); the ``ids`` file is renamed
    last, so a shard exists exactly when its ``ids`` file does (an ``.npy`` without one — a run
    killed mid-write — is ignored and overwritten).
``errors.jsonl``
    One ``{"id", "path", "error"}`` object per image that could not be read (appended as it goes).
    These are not retried on resume; delete the file to retry them.

Reading (:func:`read_cache`) merges the shards of all processes in (rank, shard) order and
refuses a cache in which one id was stored twice (it cannot happen through :class:`CacheWriter`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_KEYS",
    "STORAGE_DTYPES",
    "CacheError",
    "CacheWriter",
    "Embeddings",
    "ManifestMismatchError",
    "atomic_write_bytes",
    "iter_shards",
    "read_cache",
    "read_errors",
    "read_manifest",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
STORAGE_DTYPES: tuple[str, ...] = ("float16", "float32")
#: manifest entries that must agree for a run to resume into (or append to) a cache
MANIFEST_KEYS: tuple[str, ...] = ("encoder", "kind", "dim", "dtype", "model_dtype", "source")
_SHARD_RE = re.compile(r"^ids-r(\d+)-(\d+)\.json$")


class CacheError(ValueError):
    """A cache folder that is missing, unreadable or inconsistent."""


class ManifestMismatchError(CacheError):
    """Resuming into a cache made with another encoder, kind, dim, dtype or source."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _atomic_save_npy(path: Path, array: Any) -> None:
    import numpy as np

    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_manifest(cache: str | Path) -> dict[str, Any]:
    """The manifest of ``cache``; :class:`CacheError` when there is none."""
    path = Path(cache) / "manifest.json"
    if not path.is_file():
        raise CacheError(f"{cache} is not an embedding cache (no manifest.json); make one with `rsmmvp embed`")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CacheError(f"{path}: unreadable manifest ({exc})") from None


def iter_shards(cache: str | Path) -> Iterator[tuple[int, int, Path, Path]]:
    """``(rank, seq, npy, ids_json)`` of every committed shard, in (rank, seq) order."""
    shard_dir = Path(cache) / "shards"
    if not shard_dir.is_dir():
        return
    found = []
    for p in shard_dir.iterdir():
        m = _SHARD_RE.match(p.name)
        if m:
            rank, seq = int(m.group(1)), int(m.group(2))
            found.append((rank, seq, shard_dir / f"emb-r{rank:02d}-{seq:06d}.npy", p))
    yield from sorted(found)


def read_errors(cache: str | Path) -> list[dict[str, Any]]:
    """The entries of ``errors.jsonl`` (images that could not be read), oldest first."""
    path = Path(cache) / "errors.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass
class Embeddings:
    """A whole cache in memory: ``vectors[i]`` is the embedding of image ``ids[i]`` (``paths[i]`` its file or ``None``)."""

    ids: list[str]
    paths: list[str | None]
    vectors: Any  # numpy (n, dim), the stored dtype
    manifest: dict[str, Any]

    def __len__(self) -> int:
        return len(self.ids)


def read_cache(cache: str | Path) -> Embeddings:
    """Load every shard of ``cache`` (all ranks merged). Raises :class:`CacheError` when broken."""
    import numpy as np

    manifest = read_manifest(cache)
    ids: list[str] = []
    paths: list[str | None] = []
    arrays = []
    for rank, seq, npy, ids_file in iter_shards(cache):
        meta = json.loads(ids_file.read_text(encoding="utf-8"))
        try:
            arr = np.load(npy, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CacheError(f"{npy}: unreadable shard ({exc}); delete it and {ids_file.name} and resume `rsmmvp embed`") from None
        if arr.shape != (len(meta["ids"]), manifest["dim"]):
            raise CacheError(f"{npy}: shape {arr.shape} does not match {len(meta['ids'])} ids x dim {manifest['dim']}")
        ids.extend(meta["ids"])
        paths.extend(meta.get("paths") or [None] * len(meta["ids"]))
        arrays.append(arr)
    if len(set(ids)) != len(ids):
        raise CacheError(f"{cache}: some image ids are stored twice; the cache was written by two unrelated runs")
    dtype = np.dtype(manifest.get("dtype", "float32"))
    vectors = np.concatenate(arrays) if arrays else np.zeros((0, manifest["dim"]), dtype)
    return Embeddings(ids, paths, vectors, manifest)


class CacheWriter:
    """Appends shards of one process (``rank``) to a cache, after checking or writing its manifest.

    ``manifest`` holds at least :data:`MANIFEST_KEYS`. Opening a cache with a different manifest
    raises :class:`ManifestMismatchError`; :attr:`done` is then the set of ids already stored by any
    process (or reported unreadable), which a resuming run skips.
    """

    def __init__(self, cache: str | Path, manifest: dict[str, Any], rank: int = 0) -> None:
        if manifest.get("dtype") not in STORAGE_DTYPES:
            raise CacheError(f"storage dtype must be one of {STORAGE_DTYPES}, got {manifest.get('dtype')!r}")
        self.cache = Path(cache)
        self.rank = rank
        self.manifest = {"format": FORMAT_VERSION, **manifest}
        (self.cache / "shards").mkdir(parents=True, exist_ok=True)
        path = self.cache / "manifest.json"
        if path.exists():
            self._check(read_manifest(self.cache))
        else:
            atomic_write_bytes(path, json.dumps(self.manifest, indent=2).encode())
        self.done: set[str] = set()
        self._next_seq = 0
        for r, seq, _, ids_file in iter_shards(self.cache):
            self.done.update(json.loads(ids_file.read_text(encoding="utf-8"))["ids"])
            if r == rank:
                self._next_seq = max(self._next_seq, seq + 1)
        self.failed = {e["id"] for e in read_errors(self.cache)}

    def _check(self, old: dict[str, Any]) -> None:
        diff = [f"{k}: cache has {old.get(k)!r}, this run {self.manifest.get(k)!r}"
                for k in MANIFEST_KEYS if old.get(k) != self.manifest.get(k)]
        if diff:
            raise ManifestMismatchError(
                f"{self.cache} was made by another embedding run ({'; '.join(diff)}). "
                f"Use a new --out folder, or delete {self.cache} to start over."
            )

    def write_shard(self, ids: Sequence[str], vectors: Any, paths: Sequence[str | None] | None = None) -> Path:
        """Store one shard (``vectors`` ``(len(ids), dim)``) atomically; returns its ``ids`` file."""
        import numpy as np

        arr = np.ascontiguousarray(np.asarray(vectors, dtype=self.manifest["dtype"]))
        if arr.shape != (len(ids), self.manifest["dim"]):
            raise CacheError(f"shard of {len(ids)} ids has shape {arr.shape}, expected ({len(ids)}, {self.manifest['dim']})")
        seq = self._next_seq
        shard_dir = self.cache / "shards"
        _atomic_save_npy(shard_dir / f"emb-r{self.rank:02d}-{seq:06d}.npy", arr)
        ids_file = shard_dir / f"ids-r{self.rank:02d}-{seq:06d}.json"
        meta = {"ids": list(ids), "paths": list(paths) if paths is not None else None}
        atomic_write_bytes(ids_file, json.dumps(meta).encode())  # the commit point
        self._next_seq += 1
        self.done.update(ids)
        return ids_file

    def write_error(self, image_id: str, path: str | None, error: str) -> None:
        """Append one unreadable image to ``errors.jsonl`` (one short line; flushed at once)."""
        line = json.dumps({"id": image_id, "path": path, "error": error, "rank": self.rank}) + "\n"
        with open(self.cache / "errors.jsonl", "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
        self.failed.add(image_id)
