"""The embedding cache written by ``rsmmvp embed`` and read by ``rsmmvp mine``.

Layout of a cache folder ``CACHE``
----------------------------------
``manifest.json``
    ``{"format": 2, "encoder": <model id>, "kind": "clip"|"ssl"|..., "dim": int,
    "dtype": "float16"|"float32" (storage), "model_dtype": str, "source": <IMAGES spec>,
    "source_kind": "folder"|"filelist"|"dataset", "root": <folder or null>, "column": str|null,
    "num_images": int, "read": {"bands": [...]|null, "stretch": str, "nodata": float|null}}``
    (``read``: how pixels were decoded, :class:`rsmmvp_tasks.imagery.read.ReadSettings`; absent in
    caches written before it was recorded, which were read with the defaults).
    ``encoder``, ``kind``, ``dim`` and ``dtype`` are required to read a cache.
    Resuming into a cache whose ``encoder``, ``kind``, ``dim``, ``dtype``, ``model_dtype``,
    ``source`` or ``read`` differ raises :class:`ManifestMismatchError` (``num_images`` may change:
    images added to a folder are embedded by the next run).
``shards/emb-r<RR>-<SSSSSS>.npy``
    ``(n, dim)`` L2-normalised embeddings written by process ``RR`` (its ``SSSSSS``-th shard).
``shards/ids-r<RR>-<SSSSSS>.json``
    ``{"ids": [...], "paths": [... or null], "stamps": [... or null], "generation": int}``: the image
    ids of the rows of the matching ``.npy``, their files, their content stamps (below) and the run
    that wrote them. Every file is written to a temporary name and renamed (atomic); the ``ids``
    file is renamed last, so a shard exists exactly when its ``ids`` file does (an ``.npy`` without
    one — a run killed mid-write — is ignored and overwritten).
``errors.jsonl``
    One ``{"id", "path", "error", "stamp", "generation", "rank"}`` object per image that could not be
    read (appended as it goes). Not retried on resume while the image's stamp is unchanged; delete
    the file to retry them all.
``.lock``, ``writer.json``
    The writer lock of :mod:`~rsmmvp_tasks.mining.lock` and who holds it.

Content stamps and generations
------------------------------
Image ids are names, and a file can be replaced in place. Each stored vector therefore records the
*stamp* of what was embedded: ``"<size>:<mtime_ns>"`` of a file, ``"ds:<fingerprint>"`` of a dataset
row (:meth:`~rsmmvp_tasks.mining.images.ImageList.stamps`). A resumed run re-embeds every image whose
stamp changed. Each run writes with a *generation* one above every generation in the cache; when an
id is stored more than once, the newest generation wins, and an error of a newer generation than
the vector (the file became unreadable) drops the vector. One id stored twice by one generation
cannot come from :class:`CacheWriter` (two concurrent runs are locked out) and is refused.
Caches of format 1 (no stamps) are read as generation 0 and their vectors are trusted as current.

Checks on reading
-----------------
:func:`read_cache` refuses a damaged cache with a :class:`CacheError` naming the file: a manifest
without a required key, an ``ids`` file cut short, a shard of the wrong shape, and vectors that are
not unit length (|norm - 1| > :data:`NORM_TOLERANCE`: tampered, or written by another tool — mining
thresholds are cosines, and on unnormalised vectors they would be silently wrong). It never
normalises behind the user's back.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_KEYS",
    "NORM_TOLERANCE",
    "REQUIRED_MANIFEST_KEYS",
    "STORAGE_DTYPES",
    "CacheError",
    "CacheWriter",
    "Embeddings",
    "ManifestMismatchError",
    "iter_shards",
    "read_cache",
    "read_errors",
    "read_manifest",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
STORAGE_DTYPES: tuple[str, ...] = ("float16", "float32")
#: manifest entries that must agree for a run to resume into (or append to) a cache
MANIFEST_KEYS: tuple[str, ...] = ("encoder", "kind", "dim", "dtype", "model_dtype", "source", "read")
#: what a manifest entry missing from an older cache stood for
_ABSENT_MEANS: dict[str, Any] = {"read": {"bands": None, "stretch": "auto", "nodata": None}}
#: manifest entries without which a cache cannot be read
REQUIRED_MANIFEST_KEYS: tuple[str, ...] = ("encoder", "kind", "dim", "dtype")
#: largest accepted |L2 norm - 1| of a stored vector (float16 storage rounds norms by ~1e-3)
NORM_TOLERANCE = 1e-2
_SHARD_RE = re.compile(r"^ids-r(\d+)-(\d+)\.json$")


class CacheError(InputError):
    """A cache folder that is missing, unreadable or inconsistent (the message names the file)."""


class ManifestMismatchError(CacheError):
    """A cache made with another encoder, kind, dim, dtype or source than this run (or given in the wrong place)."""


def _damaged(path: Path, what: str) -> CacheError:
    """A damaged shard file: name it, and say how to redo just that shard."""
    pair = path.with_name(path.name.replace("ids-", "emb-").replace(".json", ".npy") if path.suffix == ".json"
                          else path.name.replace("emb-", "ids-").replace(".npy", ".json"))
    return CacheError(f"{path}: {what}. Delete it and {pair.name}, then rerun `rsmmvp embed` with the same "
                      "arguments: only that shard's images are embedded again")


def read_manifest(cache: str | Path) -> dict[str, Any]:
    """The checked manifest of ``cache``; :class:`CacheError` when missing, unreadable or incomplete."""
    path = Path(cache) / "manifest.json"
    if not path.is_file():
        raise CacheError(f"{cache} is not an embedding cache (no manifest.json); make one with `rsmmvp embed`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CacheError(f"{path}: unreadable manifest ({exc}); delete {cache} and rerun `rsmmvp embed`") from None
    if not isinstance(manifest, dict):
        raise CacheError(f"{path}: the manifest is not a JSON object; delete {cache} and rerun `rsmmvp embed`")
    missing = [k for k in REQUIRED_MANIFEST_KEYS if k not in manifest]
    if missing:
        raise CacheError(f"{path}: the manifest lacks {missing} (a cache written by `rsmmvp embed` has "
                         f"{list(REQUIRED_MANIFEST_KEYS)}); delete {cache} and rerun `rsmmvp embed`")
    dim = manifest["dim"]
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise CacheError(f"{path}: 'dim' must be a positive whole number, got {dim!r}")
    if manifest["dtype"] not in STORAGE_DTYPES:
        raise CacheError(f"{path}: 'dtype' must be one of {STORAGE_DTYPES}, got {manifest['dtype']!r}")
    return manifest


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


@dataclass
class ShardIndex:
    """The checked content of one ``ids-*.json`` file."""

    ids: list[str]
    paths: list[str | None]
    stamps: list[str | None]
    generation: int


def read_shard_index(ids_file: Path) -> ShardIndex:
    """Read and check one ``ids`` file; :class:`CacheError` naming it when cut short or malformed."""
    try:
        meta = json.loads(ids_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _damaged(ids_file, f"unreadable shard index, cut short or overwritten ({exc})") from None
    ids = meta.get("ids") if isinstance(meta, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _damaged(ids_file, "no 'ids' list of image ids")
    n = len(ids)
    paths = meta.get("paths") or [None] * n
    stamps = meta.get("stamps") or [None] * n
    generation = meta.get("generation", 0)
    if len(paths) != n or len(stamps) != n:
        raise _damaged(ids_file, f"{n} ids but {len(paths)} paths and {len(stamps)} stamps")
    if not isinstance(generation, int):
        raise _damaged(ids_file, f"'generation' must be a whole number, got {generation!r}")
    return ShardIndex(ids, paths, stamps, generation)


def read_errors(cache: str | Path) -> list[dict[str, Any]]:
    """The entries of ``errors.jsonl`` (images that could not be read), oldest first.

    A line that is not a JSON object (a run killed mid-append) is skipped with a warning: its
    image is simply retried.
    """
    path = Path(cache) / "errors.jsonl"
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            log.warning("%s:%d: not an error record (cut short?); ignored, the image will be retried", path, n)
            continue
        out.append(entry)
    return out


@dataclass
class Embeddings:
    """A whole cache in memory: ``vectors[i]`` is the embedding of image ``ids[i]`` (``paths[i]`` its file or ``None``)."""

    ids: list[str]
    paths: list[str | None]
    vectors: Any  # numpy (n, dim), the stored dtype
    manifest: dict[str, Any]
    cache: Path | None = None
    stamps: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.ids)


def _load_shard(npy: Path, ids_file: Path, n: int, dim: int) -> Any:
    import numpy as np

    try:
        arr = np.load(npy, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise _damaged(npy, f"unreadable shard ({exc}); its index is {ids_file.name}") from None
    if arr.shape != (n, dim):
        raise _damaged(npy, f"shape {arr.shape} does not match {n} ids in {ids_file.name} x dim {dim}")
    return arr


def check_norms(vectors: Any, ids: Sequence[str], where: str | Path) -> None:
    """Refuse vectors whose L2 norm is not 1 within :data:`NORM_TOLERANCE` (or not finite), naming ``where``."""
    import numpy as np

    if not len(vectors):
        return
    norms = np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1)
    bad = ~(np.abs(norms - 1.0) <= NORM_TOLERANCE)  # NaN counts as bad
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise CacheError(
            f"{where}: {int(bad.sum())} of {len(norms)} vectors are not unit length (e.g. {ids[k]!r} has norm "
            f"{norms[k]:.4g}); `rsmmvp embed` stores L2-normalised vectors, so this cache was altered or written by "
            "another tool and its cosines would be wrong. Re-embed it with `rsmmvp embed`, or L2-normalise its shards"
        )


def read_cache(cache: str | Path) -> Embeddings:
    """Load every shard of ``cache`` (all ranks merged, the newest generation of each id).

    Raises :class:`CacheError` when the cache is missing or damaged (see the module docstring).
    """
    import numpy as np

    cache = Path(cache)
    manifest = read_manifest(cache)
    dim = manifest["dim"]
    shards = []  # (ShardIndex, array)
    winner: dict[str, tuple[int, int, int]] = {}  # id -> (generation, shard number, row)
    for s, (_rank, _seq, npy, ids_file) in enumerate(iter_shards(cache)):
        index = read_shard_index(ids_file)
        arr = _load_shard(npy, ids_file, len(index.ids), dim)
        check_norms(arr, index.ids, npy)
        for row, image_id in enumerate(index.ids):
            old = winner.get(image_id)
            if old is not None and old[0] == index.generation:
                raise CacheError(f"{cache}: image id {image_id!r} is stored twice by one run (generation "
                                 f"{index.generation}); the cache was written by two runs at once. Delete it and "
                                 "rerun `rsmmvp embed`")
            if old is None or index.generation > old[0]:
                winner[image_id] = (index.generation, s, row)
        shards.append((index, arr))
    gone = _unreadable_since(cache, winner)
    ids: list[str] = []
    paths: list[str | None] = []
    stamps: list[str | None] = []
    arrays = []
    for s, (index, arr) in enumerate(shards):
        keep = [row for row, image_id in enumerate(index.ids)
                if winner[image_id][1:] == (s, row) and image_id not in gone]
        ids += [index.ids[r] for r in keep]
        paths += [index.paths[r] for r in keep]
        stamps += [index.stamps[r] for r in keep]
        arrays.append(arr if len(keep) == len(index.ids) else arr[keep])
    vectors = np.concatenate(arrays) if arrays else np.zeros((0, dim), np.dtype(manifest["dtype"]))
    return Embeddings(ids, paths, vectors, manifest, cache=cache, stamps=stamps)


def _unreadable_since(cache: Path, winner: dict[str, tuple[int, int, int]]) -> set[str]:
    """Ids whose image was found unreadable by a later run than the one that stored their vector."""
    gone = {e["id"] for e in read_errors(cache)
            if e["id"] in winner and int(e.get("generation", 0)) > winner[e["id"]][0]}
    if gone:
        log.warning("%s: %d image(s) became unreadable after they were embedded (e.g. %s); left out (see errors.jsonl)",
                    cache, len(gone), min(gone))
    return gone


class CacheWriter:
    """Appends shards of one process (``rank``) to a cache, after checking or writing its manifest.

    ``manifest`` holds at least :data:`MANIFEST_KEYS`. Opening a cache with a different manifest
    raises :class:`ManifestMismatchError`. :meth:`is_current` tells which images are already stored
    with their current content stamp (or already reported unreadable with it), which a resuming run
    skips. The writer takes no lock: :func:`~rsmmvp_tasks.mining.embed.embed_images` holds
    :func:`~rsmmvp_tasks.mining.lock.cache_lock` for a whole run (all its processes).
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
            atomic_write_text(path, json.dumps(self.manifest, indent=2))
        #: id -> (generation, stamp) of its newest stored vector
        self.stored: dict[str, tuple[int, str | None]] = {}
        self._next_seq = 0
        newest = 0
        for r, seq, _, ids_file in iter_shards(self.cache):
            index = read_shard_index(ids_file)
            newest = max(newest, index.generation)
            for image_id, stamp in zip(index.ids, index.stamps, strict=False):
                if image_id not in self.stored or index.generation >= self.stored[image_id][0]:
                    self.stored[image_id] = (index.generation, stamp)
            if r == rank:
                self._next_seq = max(self._next_seq, seq + 1)
        #: id -> stamp of its newest error record
        self.failed: dict[str, str | None] = {}
        for entry in read_errors(self.cache):
            newest = max(newest, int(entry.get("generation", 0)))
            self.failed[entry["id"]] = entry.get("stamp")
        #: the generation this writer's shards and errors get
        self.generation = newest + 1

    @property
    def done(self) -> set[str]:
        """The ids that have a stored vector (whatever its stamp)."""
        return set(self.stored)

    def is_current(self, image_id: str, stamp: str | None, *, failed_too: bool = True) -> bool:
        """Whether ``image_id`` with content ``stamp`` needs no embedding: stored with that stamp (a vector
        stored without a stamp, by a format-1 cache, counts as current), or — with ``failed_too`` —
        already reported unreadable with that stamp."""
        stored = self.stored.get(image_id)
        if stored is not None and stamp is not None and stored[1] in (None, stamp):
            return True
        return failed_too and image_id in self.failed and self.failed[image_id] == stamp

    def _check(self, old: dict[str, Any]) -> None:
        def value(manifest: dict[str, Any], k: str) -> Any:
            return manifest.get(k, _ABSENT_MEANS.get(k))

        diff = [f"{k}: cache has {value(old, k)!r}, this run {value(self.manifest, k)!r}"
                for k in MANIFEST_KEYS if value(old, k) != value(self.manifest, k)]
        if diff:
            raise ManifestMismatchError(
                f"{self.cache} was made by another embedding run ({'; '.join(diff)}). "
                f"Use a new --out folder, or delete {self.cache} to start over."
            )

    def write_shard(self, ids: Sequence[str], vectors: Any, paths: Sequence[str | None] | None = None,
                    stamps: Sequence[str | None] | None = None) -> Path:
        """Store one shard (``vectors`` ``(len(ids), dim)``, unit length) atomically; returns its ``ids`` file."""
        import numpy as np

        arr = np.ascontiguousarray(np.asarray(vectors, dtype=self.manifest["dtype"]))
        if arr.shape != (len(ids), self.manifest["dim"]):
            raise CacheError(f"shard of {len(ids)} ids has shape {arr.shape}, expected ({len(ids)}, {self.manifest['dim']})")
        check_norms(arr, list(ids), f"a shard for {self.cache}")
        seq = self._next_seq
        shard_dir = self.cache / "shards"
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        atomic_write_bytes(shard_dir / f"emb-r{self.rank:02d}-{seq:06d}.npy", buf.getvalue())
        ids_file = shard_dir / f"ids-r{self.rank:02d}-{seq:06d}.json"
        meta = {"ids": list(ids), "paths": list(paths) if paths is not None else None,
                "stamps": list(stamps) if stamps is not None else None, "generation": self.generation}
        atomic_write_text(ids_file, json.dumps(meta))  # the commit point
        self._next_seq += 1
        for k, image_id in enumerate(ids):
            self.stored[image_id] = (self.generation, stamps[k] if stamps is not None else None)
        return ids_file

    def write_error(self, image_id: str, path: str | None, error: str, stamp: str | None = None) -> None:
        """Append one unreadable image to ``errors.jsonl`` (one line, flushed at once)."""
        line = json.dumps({"id": image_id, "path": path, "error": error, "stamp": stamp,
                           "generation": self.generation, "rank": self.rank}) + "\n"
        target = self.cache / "errors.jsonl"
        with open(target, "ab+") as fh:
            fh.seek(0, 2)
            if fh.tell():  # a line cut short by a kill must not swallow this one
                fh.seek(-1, 2)
                if fh.read(1) != b"\n":
                    fh.write(b"\n")
            fh.write(line.encode("utf-8"))
            fh.flush()
        self.failed[image_id] = stamp
