"""``rsmmvp mine``: CLIP-blind pairs — images CLIP finds alike and a self-supervised encoder does not.

Rule (MMVP, Tong et al. 2024)
-----------------------------
A pair ``(a, b)`` of distinct images is a candidate when

* ``clip(a, b) >= clip_min`` (default 0.95) — CLIP cosine similarity, and
* ``ssl(a, b) < ssl_max`` (default 0.6) — self-supervised (DINOv2) cosine similarity, and
* ``ssl(a, b) < dup_threshold`` (default 0.9) — otherwise both encoders find the images alike: a
  near-duplicate, never a pair (this matters only when ``ssl_max`` is raised above it).

Candidates are ranked by ``gap = clip - ssl`` (ties: by image order) and taken greedily, each image
in at most ``max_per_image`` pairs (default 1).

Search
------
:func:`candidate_pairs` is exact: it walks the upper triangle of the ``N x N`` CLIP similarity in
``block x block`` tiles (torch matmul into one reused buffer, CPU or GPU), thresholds each tile and
computes SSL similarities only for the survivors. Memory is ``O(N*d + block^2)`` plus the
candidates; when these exceed ``max_candidates`` the lowest gaps are dropped (logged: the greedy
choice is then no longer guaranteed exact — raise ``clip_min`` or ``max_candidates``).
``backend="faiss"`` uses ``faiss.IndexFlatIP.range_search`` for the CLIP step instead (optional
dependency, imported lazily: ``pip install faiss-cpu``).

Inputs and output
-----------------
:func:`mine_caches` reads a CLIP cache and an SSL cache (:mod:`~rsmmvp_tasks.mining.store`), refuses
caches whose manifests say they were swapped (a ``--clip`` cache of kind ``ssl`` or the reverse),
joins them on image id — images missing from either are counted, logged and left out — and returns
the PAIRS table (:mod:`~rsmmvp_tasks.mining.pairs` defines it and writes it).

Errors: :class:`~rsmmvp_tasks.errors.UsageError` for settings that cannot work (thresholds are
cosines in [-1, 1], sizes >= 1, a device that is not there); the cache errors of
:mod:`~rsmmvp_tasks.mining.store`; :class:`~rsmmvp_tasks.errors.InputError` when fewer than two
images are in both caches.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.mining.devices import check_device
from rsmmvp_tasks.mining.pairs import PAIRS_COLUMNS
from rsmmvp_tasks.mining.store import Embeddings, ManifestMismatchError, read_cache

__all__ = [
    "Candidates",
    "JoinReport",
    "MineParams",
    "candidate_pairs",
    "check_kinds",
    "join_caches",
    "mine_caches",
    "mine_pairs",
    "select_pairs",
]

log = logging.getLogger(__name__)


@dataclass
class MineParams:
    """The mining rule and search settings (see the module docstring)."""

    clip_min: float = 0.95
    ssl_max: float = 0.6
    dup_threshold: float = 0.9
    max_per_image: int = 1
    block: int = 4096
    max_candidates: int = 5_000_000
    backend: str = "torch"  # "torch" | "faiss"
    device: str = "cpu"

    def check(self) -> None:
        """Raise :class:`~rsmmvp_tasks.errors.UsageError` on settings that cannot work, naming the option.

        Thresholds are cosines: finite numbers in [-1, 1] (``dup_threshold`` 1 keeps every pair but
        identical images); sizes are >= 1; the backend is known; the device exists on this machine.
        """
        for name in ("clip_min", "ssl_max", "dup_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not -1.0 <= value <= 1.0:
                raise UsageError(f"{name} (--{name.replace('_', '-')}) is a cosine similarity in [-1, 1], got {value!r}")
        for name in ("max_per_image", "block", "max_candidates"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} (--{name.replace('_', '-')}) must be a whole number >= 1, got {value!r}")
        if self.backend not in ("torch", "faiss"):
            raise UsageError(f"unknown backend {self.backend!r}; choose torch or faiss")
        if self.backend == "torch":
            check_device(self.device)


@dataclass
class Candidates:
    """Pairs passing both thresholds: row indices ``i < j`` and their similarities (numpy arrays)."""

    i: Any
    j: Any
    clip: Any
    ssl: Any
    near_duplicates: int = 0  # pairs dropped because ssl >= dup_threshold
    truncated: bool = False  # some candidates were dropped for max_candidates

    @property
    def gap(self) -> Any:
        return self.clip - self.ssl

    def __len__(self) -> int:
        return len(self.i)


def _empty_candidates() -> Candidates:
    import numpy as np

    return Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32))


class _Collector:
    """Accumulates candidate chunks, pruning to the best ``limit`` gaps when they grow past it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[tuple[Any, Any, Any, Any]] = []
        self.size = 0
        self.truncated = False
        self.near_duplicates = 0

    def add(self, i: Any, j: Any, c: Any, s: Any) -> None:
        if len(i):
            self.parts.append((i, j, c, s))
            self.size += len(i)
            if self.size > 2 * self.limit:
                self._prune()

    def _prune(self) -> None:
        import numpy as np

        i, j, c, s = (np.concatenate(x) for x in zip(*self.parts))
        if len(i) > self.limit:
            keep = np.argpartition(-(c - s), self.limit - 1)[: self.limit]
            i, j, c, s = i[keep], j[keep], c[keep], s[keep]
            if not self.truncated:
                log.warning("more than %d candidate pairs; keeping the best %d by gap (raise --clip-min or "
                            "--max-candidates for an exact result)", self.limit, self.limit)
            self.truncated = True
        self.parts = [(i, j, c, s)]
        self.size = len(i)

    def result(self) -> Candidates:
        if not self.parts:
            out = _empty_candidates()
        else:
            self._prune()
            out = Candidates(*self.parts[0])
        out.near_duplicates, out.truncated = self.near_duplicates, self.truncated
        return out


def _as_tensor(x: Any, device: str) -> Any:
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)


def _ssl_filter(ssl: Any, ii: Any, jj: Any, cs: Any, p: MineParams, out: _Collector, bufs: Any = None) -> None:
    """SSL cosine of candidate pairs ``(ii, jj)`` (torch, on ssl's device); keep those under both SSL limits.

    SSL rows are gathered in chunks into two reused ``(chunk, e)`` buffers (``bufs``, made here when
    not given) totalling a quarter of a CLIP tile, so candidates never raise memory past ``O(block^2)``
    and the allocator sees no large short-lived blocks.
    """
    import torch

    if bufs is None:
        bufs = _gather_buffers(ssl, p.block)
    chunk = bufs[0].shape[0]
    for k in range(0, len(ii), chunk):
        a, b, c = ii[k:k + chunk], jj[k:k + chunk], cs[k:k + chunk]
        ga, gb = bufs[0][: len(a)], bufs[1][: len(a)]
        torch.index_select(ssl, 0, a, out=ga)
        torch.index_select(ssl, 0, b, out=gb)
        s = ga.mul_(gb).sum(1)
        dup = s >= p.dup_threshold
        out.near_duplicates += int(dup.sum())
        keep = (s < p.ssl_max) & ~dup
        if bool(keep.any()):
            out.add(a[keep].cpu().numpy(), b[keep].cpu().numpy(), c[keep].cpu().numpy(), s[keep].cpu().numpy())


def _gather_buffers(ssl: Any, block: int) -> tuple[Any, Any]:
    import torch

    chunk = max(256, (block * block) // (8 * ssl.shape[1]))
    return (torch.empty(chunk, ssl.shape[1], device=ssl.device, dtype=ssl.dtype),
            torch.empty(chunk, ssl.shape[1], device=ssl.device, dtype=ssl.dtype))


def candidate_pairs(clip: Any, ssl: Any, params: MineParams | None = None, *, progress: bool = False) -> Candidates:
    """All pairs ``i < j`` with ``clip >= clip_min``, ``ssl < ssl_max`` and ``ssl < dup_threshold``.

    ``clip`` ``(N, d)`` and ``ssl`` ``(N, e)`` are L2-normalised rows of the same N images
    (numpy or torch; computed in float32 on ``params.device``).
    """
    p = params or MineParams()
    p.check()
    if p.backend == "faiss":
        return _candidate_pairs_faiss(clip, ssl, p, progress=progress)
    import torch
    from tqdm.auto import tqdm

    C, D = _as_tensor(clip, p.device), _as_tensor(ssl, p.device)
    n = C.shape[0]
    if D.shape[0] != n:
        raise ValueError(f"clip has {n} rows but ssl has {D.shape[0]}; join the caches first")
    out = _Collector(p.max_candidates)
    if n < 2:
        return out.result()
    block = min(p.block, n)
    sim_buf = torch.empty(block * block, device=C.device)
    mask_buf = torch.empty(block * block, dtype=torch.bool, device=C.device)
    gather = _gather_buffers(D, block)
    starts = list(range(0, n, block))
    tiles = len(starts) * (len(starts) + 1) // 2
    with torch.inference_mode(), tqdm(total=tiles, desc="mine", unit="tile", disable=not progress) as bar:
        for r0 in starts:
            rows = C[r0:r0 + block]
            for c0 in starts[r0 // block:]:
                cols = C[c0:c0 + block]
                nr, nc = rows.shape[0], cols.shape[0]
                sim = sim_buf[: nr * nc].view(nr, nc)
                torch.matmul(rows, cols.T, out=sim)
                mask = mask_buf[: nr * nc].view(nr, nc)
                torch.ge(sim, p.clip_min, out=mask)
                if c0 == r0:
                    mask.triu_(1)
                idx = mask.nonzero()
                if len(idx):
                    a, b = idx[:, 0], idx[:, 1]
                    _ssl_filter(D, a + r0, b + c0, sim[a, b], p, out, gather)
                bar.update(1)
    return out.result()


def _candidate_pairs_faiss(clip: Any, ssl: Any, p: MineParams, *, progress: bool) -> Candidates:
    try:
        import faiss
    except ImportError:
        raise UsageError("backend 'faiss' needs the faiss package: pip install faiss-cpu "
                         "(or use the default exact torch backend)") from None
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    C = np.ascontiguousarray(clip.cpu().numpy() if isinstance(clip, torch.Tensor) else clip, dtype=np.float32)
    D = _as_tensor(ssl, "cpu")
    index = faiss.IndexFlatIP(C.shape[1])
    index.add(C)
    out = _Collector(p.max_candidates)
    gather = _gather_buffers(D, p.block)
    # faiss keeps scores > radius for inner product; step just below clip_min and re-check >=
    radius = float(np.nextafter(np.float32(p.clip_min), np.float32(-2)))
    for r0 in tqdm(range(0, len(C), p.block), desc="mine (faiss)", unit="block", disable=not progress):
        lims, sims, cols = index.range_search(C[r0:r0 + p.block], radius)
        lims = lims.astype(np.int64)
        rows = np.repeat(np.arange(r0, r0 + len(lims) - 1), np.diff(lims))
        keep = (cols > rows) & (sims >= p.clip_min)
        if keep.any():
            _ssl_filter(D, torch.from_numpy(rows[keep]), torch.from_numpy(cols[keep].astype(np.int64)),
                        torch.from_numpy(sims[keep].astype(np.float32)), p, out, gather)
    return out.result()


def select_pairs(cands: Candidates, max_per_image: int) -> Any:
    """Indices into ``cands`` of the greedy choice: by gap (desc), then ``(i, j)``, each image <= ``max_per_image`` times."""
    import numpy as np

    if not len(cands):
        return np.zeros(0, np.int64)
    order = np.lexsort((cands.j, cands.i, -cands.gap.astype(np.float64)))
    n = int(max(cands.i.max(), cands.j.max())) + 1
    used = np.zeros(n, np.int64)
    chosen = []
    ii, jj = cands.i, cands.j
    for k in order.tolist():
        a, b = ii[k], jj[k]
        if used[a] < max_per_image and used[b] < max_per_image:
            used[a] += 1
            used[b] += 1
            chosen.append(k)
    return np.asarray(chosen, dtype=np.int64)


def mine_pairs(clip: Any, ssl: Any, params: MineParams | None = None, *, progress: bool = False) -> tuple[Candidates, Any]:
    """:func:`candidate_pairs` then :func:`select_pairs`: ``(candidates, chosen indices in rank order)``."""
    p = params or MineParams()
    cands = candidate_pairs(clip, ssl, p, progress=progress)
    return cands, select_pairs(cands, p.max_per_image)


@dataclass
class JoinReport:
    """How the two caches lined up."""

    clip_images: int
    ssl_images: int
    joined: int
    only_in_clip: list[str] = field(default_factory=list)
    only_in_ssl: list[str] = field(default_factory=list)


def check_kinds(clip: Embeddings, ssl: Embeddings, clip_name: str = "--clip", ssl_name: str = "--ssl") -> None:
    """Refuse caches given in each other's place: a CLIP cache of kind ``ssl``, an SSL cache of kind ``clip``.

    Other (registered) kinds are accepted with a warning; so are two caches of the same encoder,
    which can give no pair (every gap is 0).
    """
    ck, sk = clip.manifest.get("kind"), ssl.manifest.get("kind")
    if ck == "ssl" or sk == "clip":
        swapped = ck == "ssl" and sk == "clip"
        raise ManifestMismatchError(
            f"{clip_name} {clip.cache} holds kind {ck!r} vectors ({clip.manifest.get('encoder')}) and {ssl_name} "
            f"{ssl.cache} kind {sk!r} ({ssl.manifest.get('encoder')}): "
            + (f"the caches are swapped; pass {clip_name} {ssl.cache} {ssl_name} {clip.cache}" if swapped else
               f"{clip_name} needs a cache embedded with a CLIP model and {ssl_name} one with a self-supervised model")
        )
    for cache, want, name in ((clip, "clip", clip_name), (ssl, "ssl", ssl_name)):
        if cache.manifest.get("kind") != want:
            log.warning("the %s cache %s was made with kind %r (encoder %s), not %r", name, cache.source,
                        cache.manifest.get("kind"), cache.manifest.get("encoder"), want)
    if clip.manifest.get("encoder") == ssl.manifest.get("encoder"):
        log.warning("both caches were made with %s: every CLIP-SSL gap is 0, so no pair can be found",
                    clip.manifest.get("encoder"))


def join_caches(clip: Embeddings, ssl: Embeddings) -> tuple[list[str], list[str | None], Any, Any, JoinReport]:
    """``(ids, paths, clip_vectors, ssl_vectors, report)`` for the images present in both caches (CLIP order)."""
    import numpy as np

    if clip.manifest.get("source") != ssl.manifest.get("source"):
        log.warning("the caches were made from different sources (%s vs %s); joining on image id",
                    clip.manifest.get("source"), ssl.manifest.get("source"))
    pos = {image_id: k for k, image_id in enumerate(ssl.ids)}
    a_idx = [k for k, image_id in enumerate(clip.ids) if image_id in pos]
    b_idx = [pos[clip.ids[k]] for k in a_idx]
    clip_set = set(clip.ids)
    report = JoinReport(len(clip), len(ssl), len(a_idx),
                        only_in_clip=[x for x in clip.ids if x not in pos],
                        only_in_ssl=[x for x in ssl.ids if x not in clip_set])
    ids = [clip.ids[k] for k in a_idx]
    paths = [clip.paths[k] or ssl.paths[b] for k, b in zip(a_idx, b_idx)]
    cv = clip.vectors if a_idx == list(range(len(clip))) else clip.vectors[np.asarray(a_idx, np.int64)]
    sv = ssl.vectors if b_idx == list(range(len(ssl))) else ssl.vectors[np.asarray(b_idx, np.int64)]
    return ids, paths, cv, sv, report


def mine_caches(clip_cache: str | Path, ssl_cache: str | Path, params: MineParams | None = None, *,
                progress: bool = True, pair_filter: Callable[[Candidates, list[str], list[str | None]], Candidates]
                | None = None) -> tuple[Any, dict[str, Any]]:
    """Mine the PAIRS table from two caches: ``(DataFrame with PAIRS_COLUMNS, summary dict)``.

    ``pair_filter(candidates, ids, paths)`` may drop candidates before the greedy choice (e.g. the place
    rule of :mod:`~rsmmvp_tasks.mining.places`). Raises the errors listed in the module docstring.
    """
    import pandas as pd

    p = params or MineParams()
    p.check()
    clip, ssl = read_cache(clip_cache), read_cache(ssl_cache)
    check_kinds(clip, ssl)
    ids, paths, cv, sv, report = join_caches(clip, ssl)
    if report.joined < 2:
        raise InputError(
            f"fewer than 2 images are in both caches ({clip_cache}: {report.clip_images}, {ssl_cache}: "
            f"{report.ssl_images}, in both: {report.joined}); embed the same IMAGES into both with `rsmmvp embed`"
        )
    if report.only_in_clip or report.only_in_ssl:
        log.warning("%d images only in the CLIP cache (e.g. %s), %d only in the SSL cache (e.g. %s); mining the %d in both",
                    len(report.only_in_clip), report.only_in_clip[:3], len(report.only_in_ssl), report.only_in_ssl[:3],
                    report.joined)
    del clip.vectors, ssl.vectors
    cands = candidate_pairs(cv, sv, p, progress=progress)
    if pair_filter is not None:
        cands = pair_filter(cands, ids, paths)
    chosen = select_pairs(cands, p.max_per_image)
    log.info("%d candidate pairs (clip >= %.3f, ssl < %.3f), %d near-duplicates excluded, %d pairs kept (<= %d per image)",
             len(cands), p.clip_min, p.ssl_max, cands.near_duplicates, len(chosen), p.max_per_image)
    rows = []
    for rank, k in enumerate(chosen.tolist(), 1):
        a, b = int(cands.i[k]), int(cands.j[k])
        c, s = float(cands.clip[k]), float(cands.ssl[k])
        rows.append({"rank": rank, "image_a": ids[a], "image_b": ids[b], "path_a": paths[a] or "",
                     "path_b": paths[b] or "", "clip_similarity": c, "ssl_similarity": s, "gap": c - s,
                     "clip_encoder": clip.manifest.get("encoder"), "ssl_encoder": ssl.manifest.get("encoder")})
    frame = pd.DataFrame(rows, columns=list(PAIRS_COLUMNS))
    summary = {
        "params": asdict(p),
        "clip_cache": str(clip_cache), "ssl_cache": str(ssl_cache),
        "clip_encoder": clip.manifest.get("encoder"), "ssl_encoder": ssl.manifest.get("encoder"),
        "clip_images": report.clip_images, "ssl_images": report.ssl_images, "joined_images": report.joined,
        "only_in_clip": len(report.only_in_clip), "only_in_ssl": len(report.only_in_ssl),
        "candidates": len(cands), "near_duplicates_excluded": cands.near_duplicates,
        "candidates_truncated": cands.truncated, "pairs": len(frame),
    }
    return frame, summary
