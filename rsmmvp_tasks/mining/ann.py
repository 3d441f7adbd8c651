"""Approximate candidate stage for ``rsmmvp mine --index ivf|hnsw`` (faiss), and its measured recall.

Indexes
-------
``ivf``   ``faiss.IndexIVFFlat`` (inner product): ``nlist`` k-means lists (default :func:`default_nlist`,
          ``sqrt(N)``), trained on a random sample of ``max(39 nlist, 10000)`` rows (faiss's
          advice), :data:`KMEANS_ITERATIONS` k-means iterations, vectors added in chunks of :data:`ADD_CHUNK` rows, ``nprobe`` lists searched per query.
``hnsw``  ``faiss.IndexHNSWFlat`` (inner product) with ``M`` links per node, ``efSearch`` at query time.

The query step is ``range_search`` (IVF; HNSW: the ``efSearch`` nearest, see :func:`range_pairs`) at ``clip_min - margin`` (the float32 margin of
:mod:`~rsmmvp_tasks.mining.precision`), so every pair it *finds* is decided by the exact float64
rule; an approximate index can only *miss* pairs. Memory: the vectors, the index (a copy of them
plus lists or links) and one query chunk. faiss is optional and imported lazily (:func:`require_faiss`:
a :class:`~rsmmvp_tasks.errors.UsageError` saying how to install it). faiss's GPU indexes have no
range search, so the index is searched with faiss on the CPU (all cores) even when ``--device`` is a
GPU; the exact rescore and the SSL filter run on ``--device``.

Recall (:func:`exact_close_pairs`, :func:`recall_report`)
----------------------------------------------------------
``--check-recall K`` picks K query images at random (seeded), finds *all* their CLIP-close pairs by
an exact K x N search, and reports the share of those the approximate stage found, with a 95%
Wilson interval (:func:`~rsmmvp_tasks.mining.stats.wilson_interval`; pairs of one query are not
independent draws, so the interval is indicative when a few queries hold most pairs).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.mining.precision import low_precision, matmul_margin, rescore
from rsmmvp_tasks.mining.stats import wilson_interval

__all__ = ["ADD_CHUNK", "DEFAULTS", "INDEXES", "build_index", "default_nlist", "exact_close_pairs", "index_settings",
           "range_pairs", "recall_report", "require_faiss"]

log = logging.getLogger(__name__)

INDEXES = ("exact", "ivf", "hnsw")
ADD_CHUNK = 65536
TRAIN_MIN = 10_000
KMEANS_ITERATIONS = 10
"""k-means iterations of IVF training (faiss's default 25 costs 0.04x of an exact search at N = 100k on 2 cores)."""
DEFAULTS: dict[str, int] = {"nprobe": 6, "hnsw_m": 32, "ef_search": 256, "ef_construction": 80}
"""Defaults measured by ``scripts/bench_mine.py`` (README, performance section)."""


def require_faiss() -> Any:
    """The faiss module, or :class:`UsageError` naming the package to install."""
    try:
        import faiss
    except ImportError:
        raise UsageError("--index ivf/hnsw and --backend faiss need the faiss package: pip install faiss-cpu "
                         "(or pip install 'rsmmvp[faiss]'); the default --index exact needs nothing more") from None
    return faiss


def default_nlist(n: int) -> int:
    """``round(sqrt(n))``, at least 1 and at most ``n // 39`` (faiss wants >= 39 training rows per list).

    Measured (``scripts/bench_mine.py --indexes``, README): on the hard set (near-duplicate groups of
    hundreds) ``4 sqrt(N)`` lists at ``nprobe`` 2 missed 5% of the CLIP-close pairs, ``sqrt(N)`` none.
    """
    return max(1, min(round(math.sqrt(n)), n // 39))


def index_settings(kind: str, n: int, nlist: int | None, nprobe: int | None, hnsw_m: int | None,
                   ef_search: int | None) -> dict[str, Any]:
    """The settings an index of ``kind`` over ``n`` rows uses (defaults filled in), as recorded in PAIRS.json."""
    if kind == "ivf":
        lists = nlist or default_nlist(n)
        return {"index": "ivf", "nlist": lists, "nprobe": min(nprobe or DEFAULTS["nprobe"], lists),
                "train_rows": min(n, max(39 * lists, TRAIN_MIN))}
    if kind == "hnsw":
        return {"index": "hnsw", "M": hnsw_m or DEFAULTS["hnsw_m"], "efSearch": ef_search or DEFAULTS["ef_search"],
                "efConstruction": DEFAULTS["ef_construction"]}
    return {"index": kind}


def build_index(C: Any, settings: dict[str, Any], *, seed: int = 0) -> Any:
    """A faiss index over the float32 rows ``C`` (numpy ``(N, d)``), trained on a sample and filled in chunks."""
    import numpy as np

    faiss = require_faiss()
    n, d = C.shape
    if settings["index"] == "ivf":
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, settings["nlist"], faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, settings["train_rows"], replace=False))
        index.cp.seed = seed
        index.cp.niter = KMEANS_ITERATIONS
        index.train(np.ascontiguousarray(C[sample], dtype=np.float32))
        index.nprobe = settings["nprobe"]
    elif settings["index"] == "hnsw":
        index = faiss.IndexHNSWFlat(d, settings["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings["efConstruction"]
        index.hnsw.efSearch = settings["efSearch"]
    else:
        raise ValueError(f"no approximate index {settings['index']!r}")
    for r0 in range(0, n, ADD_CHUNK):
        index.add(np.ascontiguousarray(C[r0:r0 + ADD_CHUNK], dtype=np.float32))
    return index


def range_pairs(index: Any, Q: Any, r0: int, radius: float, knn: int | None = None) -> tuple[Any, Any, Any]:
    """``(rows, cols, sims)`` (int64, int64, float32 numpy) of the pairs ``row < col`` that ``index`` returns
    above ``radius`` for rows ``Q`` = ``C[r0:]``, with faiss's (float32) similarities.

    ``knn``: search the ``knn`` nearest instead of a range search (HNSW: faiss's HNSW range search
    fails on large query batches, and an HNSW search visits at most ``efSearch`` candidates anyway).
    """
    import numpy as np

    Q = np.ascontiguousarray(Q, dtype=np.float32)
    if knn is None:
        lims, sims, cols = index.range_search(Q, radius)
        rows = np.repeat(np.arange(r0, r0 + len(Q), dtype=np.int64), np.diff(lims.astype(np.int64)))
    else:
        sims, labels = index.search(Q, min(knn, index.ntotal))
        hit = (sims > radius) & (labels >= 0)
        rows = np.broadcast_to(np.arange(r0, r0 + len(Q), dtype=np.int64)[:, None], labels.shape)[hit]
        cols, sims = labels[hit], sims[hit]
    cols = cols.astype(np.int64)
    keep = cols > rows
    return rows[keep], cols[keep], np.ascontiguousarray(sims[keep], dtype=np.float32)


def exact_close_pairs(C: Any, queries: Any, clip_min: float, chunk: int = 256) -> set[tuple[int, int]]:
    """Every pair ``(min, max)`` of a query row and another row whose exact (float64) CLIP cosine is ``>= clip_min``.

    ``C`` is a float32 torch ``(N, d)``; a K x N float32 matmul proposes at ``clip_min - margin``
    (fp32 bound), the proposals are re-scored in float64.
    """
    import torch

    margin = matmul_margin("fp32", C.shape[1], float(C.norm(dim=1).max()))
    q = torch.as_tensor(queries, dtype=torch.int64, device=C.device)
    found: set[tuple[int, int]] = set()
    for k in range(0, len(q), chunk):
        qq = q[k:k + chunk]
        with low_precision("fp32"):  # the fp32 margin holds only without TF32
            sim = C.index_select(0, qq) @ C.T
        a, b = (sim >= clip_min - margin).nonzero(as_tuple=True)
        a = qq[a]
        keep = a != b
        a, b = a[keep], b[keep]
        exact = rescore(C, a, b) >= clip_min
        for x, y in zip(a[exact].tolist(), b[exact].tolist(), strict=False):
            found.add((min(x, y), max(x, y)))
    return found


def recall_report(exact: set[tuple[int, int]], found: set[tuple[int, int]], queries: int) -> dict[str, Any]:
    """``{"queries", "exact_pairs", "found", "recall", "interval95"}`` (recall ``None`` when there is no exact pair)."""
    hit = len(exact & found)
    total = len(exact)
    lo, hi = wilson_interval(hit, total) if total else (None, None)
    return {"queries": queries, "exact_pairs": total, "found": hit, "recall": (hit / total) if total else None,
            "interval95": [lo, hi], "method": "Wilson 95% over the query images' exact CLIP-close pairs"}
