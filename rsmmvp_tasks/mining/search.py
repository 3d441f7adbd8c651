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
:func:`candidate_pairs` is exact by default: it walks the upper triangle of the ``N x N`` CLIP
similarity in ``block x block`` tiles (torch matmul into one reused buffer, CPU or GPU; ``block``
chosen from free memory unless given), thresholds each tile at ``clip_min - margin`` in the pass's
precision (fp32, tf32 or bf16), decides the proposals by the float64 rule of
:mod:`~rsmmvp_tasks.mining.precision` — so the pairs never depend on precision, tile or device —
and computes SSL similarities only for the CLIP-close pairs. Memory is ``O(N*d + block^2)`` plus
the candidates; when these exceed ``max_candidates`` the lowest gaps are dropped (logged: the
greedy choice is then no longer guaranteed exact — raise ``clip_min`` or ``max_candidates``).
``backend="faiss"`` uses ``faiss.IndexFlatIP.range_search`` for the CLIP step instead, and
``index="ivf"|"hnsw"`` an approximate faiss index (:mod:`~rsmmvp_tasks.mining.ann`; faiss is an
optional dependency, imported lazily: ``pip install faiss-cpu``), whose recall ``check_recall``
measures. Given a ``checkpoint`` file the search resumes after a kill
(:mod:`~rsmmvp_tasks.mining.resume`).

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
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.mining.ann import (
    INDEXES,
    build_index,
    exact_close_pairs,
    index_settings,
    range_pairs,
    recall_report,
    require_faiss,
)
from rsmmvp_tasks.mining.devices import check_device
from rsmmvp_tasks.mining.pairs import PAIRS_COLUMNS
from rsmmvp_tasks.mining.precision import (
    PRECISIONS,
    auto_block,
    low_precision,
    matmul_margin,
    rescore,
    resolve_precision,
)
from rsmmvp_tasks.mining.resume import Checkpoint, data_fingerprint
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
    """The mining rule and search settings (see the module docstring).

    ``block=None`` chooses the tile size from free memory (:func:`~rsmmvp_tasks.mining.precision.auto_block`);
    ``precision`` is the candidate pass's matmul precision (``auto``, ``fp32``, ``tf32``, ``bf16``), which
    never changes the result; ``index`` is ``exact`` or an approximate faiss index (``ivf``, ``hnsw``,
    see :mod:`~rsmmvp_tasks.mining.ann`) with its settings (``None``: the measured defaults);
    ``check_recall`` > 0 measures the recall of the candidate stage on that many random query images.
    """

    clip_min: float = 0.95
    ssl_max: float = 0.6
    dup_threshold: float = 0.9
    max_per_image: int = 1
    block: int | None = None
    max_candidates: int = 5_000_000
    backend: str = "torch"  # "torch" | "faiss" (the exact index's engine)
    device: str = "cpu"
    precision: str = "auto"
    index: str = "exact"  # "exact" | "ivf" | "hnsw"
    nlist: int | None = None
    nprobe: int | None = None
    hnsw_m: int | None = None
    ef_search: int | None = None
    check_recall: int = 0
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`~rsmmvp_tasks.errors.UsageError` on settings that cannot work, naming the option.

        Thresholds are cosines: finite numbers in [-1, 1] (``dup_threshold`` 1 keeps every pair but
        identical images); sizes are >= 1; the backend, precision and index are known; the device
        exists on this machine.
        """
        for name in ("clip_min", "ssl_max", "dup_threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not -1.0 <= value <= 1.0:
                raise UsageError(f"{name} (--{name.replace('_', '-')}) is a cosine similarity in [-1, 1], got {value!r}")
        optional = ("block", "nlist", "nprobe", "hnsw_m", "ef_search")
        for name in ("max_per_image", "block", "max_candidates", "nlist", "nprobe", "hnsw_m", "ef_search"):
            value = getattr(self, name)
            if value is None and name in optional:
                continue
            if not isinstance(value, int) or value < 1:
                raise UsageError(f"{name} (--{name.replace('_', '-')}) must be a whole number >= 1, got {value!r}")
        if not isinstance(self.check_recall, int) or self.check_recall < 0:
            raise UsageError(f"check_recall (--check-recall) must be a whole number >= 0, got {self.check_recall!r}")
        if self.backend not in ("torch", "faiss"):
            raise UsageError(f"unknown backend {self.backend!r}; choose torch or faiss")
        if self.precision != "auto" and self.precision not in PRECISIONS:
            raise UsageError(f"unknown precision {self.precision!r} (--precision); choose auto, {', '.join(PRECISIONS)}")
        if self.index not in INDEXES:
            raise UsageError(f"unknown index {self.index!r} (--index); choose {', '.join(INDEXES)}")
        check_device(self.device)


@dataclass
class Candidates:
    """Pairs passing both thresholds: row indices ``i < j`` and their similarities (numpy arrays).

    ``clip`` is the exact (float64-rescored, stored as float32) CLIP cosine. ``watched`` holds the
    CLIP-close pairs ``(i, j)`` (``(2, k)`` int64) touching the recall-check queries, before the SSL
    filter; ``recall`` the report of :func:`~rsmmvp_tasks.mining.ann.recall_report` when measured.
    """

    i: Any
    j: Any
    clip: Any
    ssl: Any
    near_duplicates: int = 0  # pairs dropped because ssl >= dup_threshold
    truncated: bool = False  # some candidates were dropped for max_candidates
    watched: Any = None
    recall: dict[str, Any] | None = None
    search: dict[str, Any] = field(default_factory=dict)  # block, precision, index settings used

    @property
    def gap(self) -> Any:
        return self.clip - self.ssl

    def __len__(self) -> int:
        return len(self.i)


def _empty_candidates() -> Candidates:
    import numpy as np

    return Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32))


class _Collector:
    """Accumulates candidate chunks, pruning to the best ``limit`` gaps when they grow past it.

    ``watch`` (a bool torch vector over rows, or ``None``) marks the recall-check queries whose
    CLIP-close pairs are kept aside (:meth:`add_watched`). :meth:`state` / :meth:`restore` are the
    arrays of a :class:`~rsmmvp_tasks.mining.resume.Checkpoint`.
    """

    def __init__(self, limit: int, watch: Any = None) -> None:
        self.limit = limit
        self.parts: list[tuple[Any, Any, Any, Any]] = []
        self.size = 0
        self.truncated = False
        self.near_duplicates = 0
        self.watch = watch
        self.watched: list[Any] = []

    def add(self, i: Any, j: Any, c: Any, s: Any) -> None:
        if len(i):
            self.parts.append((i, j, c, s))
            self.size += len(i)
            if self.size > 2 * self.limit:
                self._prune()

    def add_watched(self, i: Any, j: Any) -> None:
        """Keep the pairs among torch ``(i, j)`` that touch a watched row."""
        import numpy as np

        if self.watch is None or not len(i):
            return
        hit = self.watch[i] | self.watch[j]
        if bool(hit.any()):
            self.watched.append(np.stack([i[hit].cpu().numpy(), j[hit].cpu().numpy()]))

    def _concat(self) -> tuple[Any, Any, Any, Any]:
        import numpy as np

        if not self.parts:
            return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32))
        return tuple(np.concatenate(x) for x in zip(*self.parts, strict=False))  # type: ignore[return-value]

    def _prune(self) -> None:
        import numpy as np

        i, j, c, s = self._concat()
        if len(i) > self.limit:
            keep = np.argpartition(-(c - s), self.limit - 1)[: self.limit]
            i, j, c, s = i[keep], j[keep], c[keep], s[keep]
            if not self.truncated:
                log.warning("more than %d candidate pairs; keeping the best %d by gap (raise --clip-min or "
                            "--max-candidates for an exact result)", self.limit, self.limit)
            self.truncated = True
        self.parts = [(i, j, c, s)]
        self.size = len(i)

    def _watched_array(self) -> Any:
        import numpy as np

        return np.concatenate(self.watched, axis=1) if self.watched else np.zeros((2, 0), np.int64)

    def state(self) -> dict[str, Any]:
        """The arrays that let :meth:`restore` continue this collection."""
        import numpy as np

        i, j, c, s = self._concat()
        return {"i": i, "j": j, "clip": c, "ssl": s, "watched": self._watched_array(),
                "counts": np.asarray([self.near_duplicates, int(self.truncated)], np.int64)}

    def restore(self, state: dict[str, Any]) -> None:
        self.parts = [(state["i"], state["j"], state["clip"], state["ssl"])]
        self.size = len(state["i"])
        self.near_duplicates, self.truncated = int(state["counts"][0]), bool(state["counts"][1])
        self.watched = [state["watched"]]

    def result(self) -> Candidates:
        if not self.parts:
            out = _empty_candidates()
        else:
            self._prune()
            out = Candidates(*self.parts[0])
        out.near_duplicates, out.truncated = self.near_duplicates, self.truncated
        out.watched = self._watched_array()
        return out


def _as_tensor(x: Any, device: str) -> Any:
    import numpy as np
    import torch

    if isinstance(x, torch.Tensor):
        return x.to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)


def _ssl_filter(C: Any, D: Any, ii: Any, jj: Any, p: MineParams, out: _Collector, bufs: Any) -> None:
    """SSL cosine of CLIP-close pairs ``(ii, jj)`` (torch, on ``D``'s device); those under both SSL limits go to
    ``out`` with their exact CLIP cosine (float64 rescore of ``C``'s rows, :func:`~rsmmvp_tasks.mining.precision.rescore`).

    SSL rows are gathered in chunks into two reused ``(chunk, e)`` buffers (``bufs``, from
    :func:`_gather_buffers`) totalling a quarter of a CLIP tile, so candidates never raise memory past
    ``O(block^2)`` and the allocator sees no large short-lived blocks.
    """
    import torch

    chunk = bufs[0].shape[0]
    for k in range(0, len(ii), chunk):
        a, b = ii[k:k + chunk], jj[k:k + chunk]
        ga, gb = bufs[0][: len(a)], bufs[1][: len(a)]
        torch.index_select(D, 0, a, out=ga)
        torch.index_select(D, 0, b, out=gb)
        s = ga.mul_(gb).sum(1)
        dup = s >= p.dup_threshold
        out.near_duplicates += int(dup.sum())
        keep = (s < p.ssl_max) & ~dup
        if bool(keep.any()):
            ak, bk = a[keep], b[keep]
            c = rescore(C, ak.to(C.device), bk.to(C.device)).float()
            out.add(ak.cpu().numpy(), bk.cpu().numpy(), c.cpu().numpy(), s[keep].cpu().numpy())


def _gather_buffers(ssl: Any, block: int) -> tuple[Any, Any]:
    import torch

    chunk = max(256, (block * block) // (8 * ssl.shape[1]))
    return (torch.empty(chunk, ssl.shape[1], device=ssl.device, dtype=ssl.dtype),
            torch.empty(chunk, ssl.shape[1], device=ssl.device, dtype=ssl.dtype))


def _keep_close(C: Any, D: Any, a: Any, b: Any, approx: Any, margin: float, p: MineParams, out: _Collector,
                bufs: Any) -> None:
    """Decide proposed pairs ``(a, b)`` (approximate CLIP cosines ``approx`` >= ``clip_min - margin``) by the exact rule.

    ``approx >= clip_min + margin`` is close for certain (the error is below ``margin``); the rest are
    re-scored in float64 and kept when ``>= clip_min``. The close pairs go through the SSL filter,
    whose survivors get their float64 CLIP cosine there — so only the band around the threshold and
    the final candidates are ever re-scored (not the near-duplicate groups).
    """
    if not len(a):
        return
    unsure = approx.double() < p.clip_min + margin
    if bool(unsure.any()):
        keep = ~unsure
        keep[unsure] = rescore(C, a[unsure], b[unsure]) >= p.clip_min
        a, b = a[keep], b[keep]
    if not len(a):
        return
    out.add_watched(a, b)
    dev = D.device
    _ssl_filter(C, D, a.to(dev), b.to(dev), p, out, bufs)


def _threshold_below(value: float, dtype: Any) -> Any:
    """A 0-d tensor of ``dtype`` holding the largest value of that dtype that is <= ``value``."""
    import torch

    t = torch.tensor(value, dtype=torch.float64).to(dtype)
    step = max(abs(value), 1e-3) * 2.0 ** -7
    while float(t) > value:
        value -= step
        t = torch.tensor(value, dtype=torch.float64).to(dtype)
    return t


def candidate_pairs(clip: Any, ssl: Any, params: MineParams | None = None, *, progress: bool = False,
                    checkpoint: str | Path | None = None, checkpoint_every: float = 30.0,
                    on_rows: Callable[[int], None] | None = None) -> Candidates:
    """All pairs ``i < j`` with ``clip >= clip_min``, ``ssl < ssl_max`` and ``ssl < dup_threshold``.

    ``clip`` ``(N, d)`` and ``ssl`` ``(N, e)`` are L2-normalised rows of the same N images (numpy or
    torch; float32 on ``params.device``). With ``index="exact"`` the result is exact whatever the
    ``block``, ``precision`` or backend (module docstring of :mod:`~rsmmvp_tasks.mining.precision`);
    an approximate index returns a subset of it (its recall measured with ``check_recall``).
    ``checkpoint`` is the state file of a resumable search (:mod:`~rsmmvp_tasks.mining.resume`), saved
    at most every ``checkpoint_every`` seconds, removed when done. ``on_rows(r)`` is called each time
    every pair with first row ``< r`` is done (progress hooks, tests).
    """
    import numpy as np
    import torch

    p = params or MineParams()
    p.check()
    dev = p.device if p.index == "exact" and p.backend == "torch" else "cpu"
    C, D = _as_tensor(clip, dev), _as_tensor(ssl, p.device)
    n = C.shape[0]
    if D.shape[0] != n:
        raise ValueError(f"clip has {n} rows but ssl has {D.shape[0]}; join the caches first")
    watch, queries = None, None
    if p.check_recall and n >= 2:
        rng = np.random.default_rng(p.seed)
        queries = np.sort(rng.choice(n, min(p.check_recall, n), replace=False))
        watch = torch.zeros(n, dtype=torch.bool, device=C.device)
        watch[torch.from_numpy(queries).to(C.device)] = True
    out = _Collector(p.max_candidates, watch)
    if n < 2:
        return out.result()
    ckpt = Checkpoint(checkpoint, {"n": n, "d": C.shape[1], "e": D.shape[1],
                                   "data": data_fingerprint(C, D) if checkpoint is not None else None,
                                   "rule": [p.clip_min, p.ssl_max, p.dup_threshold, p.max_candidates],
                                   "index": [p.index, p.nlist, p.nprobe, p.hnsw_m, p.ef_search, p.seed],
                                   "recall": [p.check_recall]}, every=checkpoint_every)
    start = 0
    resumed = ckpt.load()
    if resumed is not None:
        start, state = resumed
        out.restore(state)
        log.info("resuming the mine from row %d of %d (checkpoint %s)", start, n, checkpoint)

    def row_done(r: int) -> None:
        if r < n and ckpt.due():  # the finished search needs no checkpoint
            ckpt.save(r, out.state())
        if on_rows is not None:
            on_rows(r)

    with torch.inference_mode():
        if p.index != "exact":
            search = _index_search(C, D, p, out, start, row_done, progress)
        elif p.backend == "faiss":
            search = _faiss_flat_search(C, D, p, out, start, row_done, progress)
        else:
            search = _blocked_search(C, D, p, out, start, row_done, progress)
    result = out.result()
    result.search = search
    if queries is not None:
        t0 = time.perf_counter()
        exact = exact_close_pairs(C, queries, p.clip_min)
        found = {(int(a), int(b)) for a, b in result.watched.T.tolist()}
        result.recall = recall_report(exact, found, len(queries))
        result.recall["seconds"] = time.perf_counter() - t0
    ckpt.remove()
    return result


def _blocked_search(C: Any, D: Any, p: MineParams, out: _Collector, start: int,
                    row_done: Callable[[int], None], progress: bool) -> dict[str, Any]:
    """The exact blocked pass: ``block x block`` tiles of the upper triangle from row ``start``."""
    import torch
    from tqdm.auto import tqdm

    n, d = C.shape
    precision = resolve_precision(p.precision, p.device)
    block = p.block or auto_block(p.device, n, precision)
    block = min(block, n)
    margin = matmul_margin(precision, d, float(C.norm(dim=1).max()))
    Q = C.to(torch.bfloat16) if precision == "bf16" else C
    low = _threshold_below(p.clip_min - margin, Q.dtype).to(C.device)
    sim_buf = torch.empty(block * block, dtype=Q.dtype, device=C.device)
    mask_buf = torch.empty(block * block, dtype=torch.bool, device=C.device)
    gather = _gather_buffers(D, block)
    starts = list(range(start, n, block))
    tiles = len(starts) * (len(starts) + 1) // 2
    with low_precision(precision), tqdm(total=tiles, desc="mine", unit="tile", disable=not progress) as bar:
        for r0 in starts:
            rows = Q[r0:r0 + block]
            for c0 in range(r0, n, block):
                cols = Q[c0:c0 + block]
                nr, nc = rows.shape[0], cols.shape[0]
                sim = sim_buf[: nr * nc].view(nr, nc)
                torch.matmul(rows, cols.T, out=sim)
                mask = mask_buf[: nr * nc].view(nr, nc)
                torch.ge(sim, low, out=mask)
                if c0 == r0:
                    mask.triu_(1)
                idx = mask.nonzero()
                if len(idx):
                    a, b = idx[:, 0], idx[:, 1]
                    _keep_close(C, D, a + r0, b + c0, sim[a, b], margin, p, out, gather)
                bar.update(1)
            row_done(min(n, r0 + block))
    return {"index": "exact", "backend": "torch", "block": block, "precision": precision, "margin": margin}


def _faiss_flat_search(C: Any, D: Any, p: MineParams, out: _Collector, start: int,
                       row_done: Callable[[int], None], progress: bool) -> dict[str, Any]:
    """The exact pass through ``faiss.IndexFlatIP.range_search`` (CPU), proposals at the fp32 margin."""
    faiss = require_faiss()
    Cn = C.cpu().numpy()
    index = faiss.IndexFlatIP(Cn.shape[1])
    index.add(Cn)
    block = min(p.block or 4096, len(Cn))
    return _range_search(index, C, Cn, D, p, out, start, row_done, progress, block,
                         {"index": "exact", "backend": "faiss", "block": block})


def _index_search(C: Any, D: Any, p: MineParams, out: _Collector, start: int,
                  row_done: Callable[[int], None], progress: bool) -> dict[str, Any]:
    """The approximate pass: a faiss IVF or HNSW index (:mod:`~rsmmvp_tasks.mining.ann`), proposals decided exactly."""
    Cn = C.cpu().numpy()
    settings = index_settings(p.index, len(Cn), p.nlist, p.nprobe, p.hnsw_m, p.ef_search)
    index = build_index(Cn, settings, seed=p.seed)
    chunk = min(p.block or 4096, len(Cn))
    return _range_search(index, C, Cn, D, p, out, start, row_done, progress, chunk, {**settings, "block": chunk})


def _range_search(index: Any, C: Any, Cn: Any, D: Any, p: MineParams, out: _Collector, start: int,
                  row_done: Callable[[int], None], progress: bool, chunk: int, search: dict[str, Any]) -> dict[str, Any]:
    """Query ``index`` with rows ``start..N`` in chunks at ``clip_min - margin(fp32)``; decide the proposals exactly."""
    import torch
    from tqdm.auto import tqdm

    margin = matmul_margin("fp32", Cn.shape[1], float(C.norm(dim=1).max()))
    gather = _gather_buffers(D, chunk)
    for r0 in tqdm(range(start, len(Cn), chunk), desc=f"mine ({search['index']})", unit="block", disable=not progress):
        rows, cols, sims = range_pairs(index, Cn[r0:r0 + chunk], r0, p.clip_min - margin, search.get("efSearch"))
        _keep_close(C, D, torch.from_numpy(rows), torch.from_numpy(cols), torch.from_numpy(sims), margin, p, out,
                    gather)
        row_done(min(len(Cn), r0 + chunk))
    search["margin"] = margin
    return search


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
    paths = [clip.paths[k] or ssl.paths[b] for k, b in zip(a_idx, b_idx, strict=False)]
    cv = clip.vectors if a_idx == list(range(len(clip))) else clip.vectors[np.asarray(a_idx, np.int64)]
    sv = ssl.vectors if b_idx == list(range(len(ssl))) else ssl.vectors[np.asarray(b_idx, np.int64)]
    return ids, paths, cv, sv, report


def mine_caches(clip_cache: str | Path, ssl_cache: str | Path, params: MineParams | None = None, *,
                progress: bool = True, pair_filter: Callable[[Candidates, list[str], list[str | None]], Candidates]
                | None = None, checkpoint: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """Mine the PAIRS table from two caches: ``(DataFrame with PAIRS_COLUMNS, summary dict)``.

    ``pair_filter(candidates, ids, paths)`` may drop candidates before the greedy choice (e.g. the place
    rule of :mod:`~rsmmvp_tasks.mining.places`). ``checkpoint``: the state file that makes the search
    resumable (:mod:`~rsmmvp_tasks.mining.resume`). The summary records the search settings used
    (``search``: block, precision, index settings) and, with ``check_recall``, the measured ``recall``.
    Raises the errors listed in the module docstring.
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
    cands = candidate_pairs(cv, sv, p, progress=progress, checkpoint=checkpoint)
    if cands.recall is not None:
        r = cands.recall
        log.info("recall of the %s candidate stage: %s over %d exact CLIP-close pairs of %d query images "
                 "(95%% interval %s)", p.index, f"{r['recall']:.4f}" if r["recall"] is not None else "n/a",
                 r["exact_pairs"], r["queries"], r["interval95"])
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
        "candidates_truncated": cands.truncated, "pairs": len(frame), "search": cands.search,
    }
    if cands.recall is not None:
        summary["recall"] = cands.recall
    return frame, summary
