"""Thresholds you can see: the joint distribution of CLIP and SSL similarity, and what each threshold gives.

``rsmmvp mine --stats`` calls :func:`similarity_stats` and :func:`write_stats`. Over **every pair** of
images whose CLIP cosine is at least a low floor (default ``clip_min - 0.15``), the pairs are counted
in a 2-D histogram of (CLIP, SSL) cosine. The bin edges are a regular grid (:data:`GRID_STEP`) plus
every threshold asked about, so the count of any rule on those thresholds is **exact** (not
interpolated): with bins ``[e_k, e_k+1)``, ``clip >= c`` is "bins from ``c`` up" and ``ssl < s`` "bins
below ``s``" — the same comparisons, in the same float32 precision, as :mod:`~rsmmvp_tasks.mining.search`.

Counts (:meth:`SimilarityHistogram.counts`) for ``clip_min``, ``ssl_max``, ``dup_threshold``:

``candidates``
    ``clip >= clip_min`` and ``ssl < min(ssl_max, dup_threshold)`` — what ``rsmmvp mine`` ranks (before
    ``--max-per-image`` and any place rule).
``near_duplicates``
    ``clip >= clip_min`` and ``ssl >= dup_threshold``: both encoders find the images alike; never pairs.
``removed_by_dup``
    ``clip >= clip_min`` and ``dup_threshold <= ssl < ssl_max``: pairs ``--ssl-max`` alone would keep but
    the near-duplicate rule removes (non-zero only when ``ssl_max > dup_threshold``).

Outputs (:func:`write_stats`): ``<PAIRS>_stats.png`` — the histogram (log colour scale), the
threshold lines and, in a box, the candidate count each threshold change would give;
``<PAIRS>_stats.json`` — the grid of counts; and :func:`format_grid`, the table ``rsmmvp mine`` prints
(candidates for a small grid of ``clip_min`` x ``ssl_max``).

:func:`explain_exclusions` is the warning ``rsmmvp mine`` gives when the near-duplicate rule, not
``--ssl-max``, is what removed candidates.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "GRID_STEP",
    "SimilarityHistogram",
    "ThresholdCounts",
    "explain_exclusions",
    "format_grid",
    "dup_options",
    "grid_values",
    "histogram_pairs",
    "similarity_stats",
    "stats_thresholds",
    "wilson_interval",
    "write_stats",
]

log = logging.getLogger(__name__)

def wilson_interval(successes: int, total: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval (default 95%) of a proportion ``successes / total``; ``total`` >= 1.

    Unlike the normal approximation it stays inside [0, 1] and is not degenerate at 0 or ``total``
    successes (a recall of 1 over 200 pairs gives about [0.981, 1]).
    """
    import math

    if total < 1 or not 0 <= successes <= total:
        raise ValueError(f"need 0 <= successes <= total and total >= 1, got {successes}/{total}")
    p = successes / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


#: Regular bin width of the histogram (cosine units).
GRID_STEP = 0.01
#: Upper edge above any cosine float32 rounding can give.
_TOP = 1.0 + 1e-3
#: Lower edge below any cosine float32 rounding can give.
_BOTTOM = -1.0 - 1e-3


@dataclass(frozen=True)
class ThresholdCounts:
    """Pair counts under one setting of the thresholds (see the module docstring)."""

    clip_min: float
    ssl_max: float
    dup_threshold: float
    candidates: int
    near_duplicates: int
    removed_by_dup: int


@dataclass
class SimilarityHistogram:
    """Pairs ``i < j`` with ``clip >= clip_floor``, counted in bins ``clip_edges`` x ``ssl_edges``."""

    clip_edges: Any  # numpy float32, ascending, first = clip_floor
    ssl_edges: Any
    counts: Any  # int64 (len(clip_edges) - 1, len(ssl_edges) - 1)
    clip_floor: float
    images: int
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def total_pairs(self) -> int:
        """All pairs of the images, ``N (N - 1) / 2``."""
        return self.images * (self.images - 1) // 2

    @property
    def counted(self) -> int:
        """Pairs at or above the CLIP floor (those in the histogram)."""
        return int(self.counts.sum())

    def _index(self, edges: Any, value: float, name: str) -> int:
        import numpy as np

        hits = np.flatnonzero(edges == np.float32(value))
        if not len(hits):
            raise ValueError(f"{name} {value} is not a bin edge of this histogram; pass it in `thresholds` "
                             "when computing it")
        return int(hits[0])

    def counts_for(self, clip_min: float, ssl_max: float, dup_threshold: float) -> ThresholdCounts:
        """Exact counts for these thresholds (each must be an edge: asked for when computing, or on the grid)."""
        if clip_min < self.clip_floor:
            raise ValueError(f"clip_min {clip_min} is below the histogram's CLIP floor {self.clip_floor}")
        c = self._index(self.clip_edges, clip_min, "clip_min")
        s = self._index(self.ssl_edges, min(ssl_max, dup_threshold), "ssl_max")
        d = self._index(self.ssl_edges, dup_threshold, "dup_threshold")
        above = self.counts[c:]
        removed = 0
        if ssl_max > dup_threshold:
            removed = int(above[:, d:self._index(self.ssl_edges, ssl_max, "ssl_max")].sum())
        return ThresholdCounts(clip_min, ssl_max, dup_threshold, int(above[:, :s].sum()), int(above[:, d:].sum()),
                               removed)


def grid_values(center: float, offsets: tuple[float, ...], low: float, high: float) -> list[float]:
    """``center + offsets`` rounded to 4 decimals, kept within ``[low, high]``, sorted, unique."""
    return sorted({round(min(high, max(low, center + o)), 4) for o in offsets})


_CLIP_OFFSETS = (-0.04, -0.02, 0.0, 0.02)
_SSL_OFFSETS = (-0.2, -0.1, 0.0, 0.1, 0.2)


def _edges(low: float, values: list[float]) -> Any:
    import numpy as np

    grid = np.round(np.arange(np.ceil(low / GRID_STEP) * GRID_STEP, 1.0 + GRID_STEP / 2, GRID_STEP), 6)
    edges = np.unique(np.concatenate([[low], grid[grid > low], [v for v in values if v > low], [_TOP]])
                      .astype(np.float32))
    return edges


def histogram_pairs(clip: Any, ssl: Any, clip_floor: float, thresholds: dict[str, list[float]] | None = None, *,
                    block: int = 4096, device: str = "cpu", progress: bool = False) -> SimilarityHistogram:
    """Count every pair ``i < j`` with ``clip >= clip_floor`` in a (CLIP, SSL) histogram.

    ``clip`` ``(N, d)`` and ``ssl`` ``(N, e)`` are L2-normalised rows of the same images. ``thresholds``
    ``{"clip": [...], "ssl": [...]}`` are made bin edges, so :meth:`SimilarityHistogram.counts_for` is exact
    on them. Memory: ``O(N (d + e) + block^2)``.
    """
    import numpy as np
    import torch
    from tqdm.auto import tqdm

    thresholds = thresholds or {}
    clip_edges = _edges(float(np.float32(clip_floor)), thresholds.get("clip", []))
    ssl_edges = _edges(_BOTTOM, thresholds.get("ssl", []))
    C, D = (torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)).to(device) for x in (clip, ssl))
    n = C.shape[0]
    if D.shape[0] != n:
        raise ValueError(f"clip has {n} rows but ssl has {D.shape[0]}; join the caches first")
    ce = torch.from_numpy(clip_edges).to(device)
    se = torch.from_numpy(ssl_edges).to(device)
    nc, ns = len(clip_edges) - 1, len(ssl_edges) - 1
    counts = torch.zeros(nc * ns, dtype=torch.int64, device=device)
    floor = float(clip_edges[0])
    block = max(1, min(block, n))
    chunk = max(1 << 14, (block * block) // 8)
    starts = list(range(0, n, block))
    with torch.inference_mode(), tqdm(total=len(starts) * (len(starts) + 1) // 2, desc="stats", unit="tile",
                                      disable=not progress) as bar:
        for r0 in starts:
            rows = C[r0:r0 + block]
            for c0 in starts[r0 // block:]:
                sim = rows @ C[c0:c0 + block].T
                mask = sim >= floor
                if c0 == r0:
                    mask.triu_(1)
                idx = mask.nonzero()
                for k in range(0, len(idx), chunk):
                    a, b = idx[k:k + chunk, 0], idx[k:k + chunk, 1]
                    cs = sim[a, b]
                    ss = (D[a + r0] * D[b + c0]).sum(1)
                    ci = (torch.bucketize(cs, ce, right=True) - 1).clamp_(0, nc - 1)
                    si = (torch.bucketize(ss, se, right=True) - 1).clamp_(0, ns - 1)
                    counts += torch.bincount(ci * ns + si, minlength=nc * ns)
                bar.update(1)
    return SimilarityHistogram(clip_edges, ssl_edges, counts.view(nc, ns).cpu().numpy(), floor, n)


def _grid_axes(clip_min: float, ssl_max: float, floor: float) -> tuple[list[float], list[float]]:
    return grid_values(clip_min, _CLIP_OFFSETS, floor, 1.0), grid_values(ssl_max, _SSL_OFFSETS, -1.0, 1.0)


def dup_options(dup: float) -> list[float]:
    """Higher near-duplicate thresholds the stats show (``--ssl-max`` and ``--dup-threshold`` raised together)."""
    return sorted({v for v in (round(dup + 0.05, 4), 0.99) if dup < v <= 1.0})


def stats_thresholds(clip_min: float, ssl_max: float, dup: float, floor: float) -> dict[str, list[float]]:
    """Every threshold the stats report counts for (to be made bin edges): ``{"clip": [...], "ssl": [...]}``."""
    clips, ssls = _grid_axes(clip_min, ssl_max, floor)
    return {"clip": clips, "ssl": sorted(set(ssls + [dup] + dup_options(dup)))}


def similarity_stats(clip_cache: str | Path, ssl_cache: str | Path, params: Any, *, clip_floor: float | None = None,
                     progress: bool = True) -> SimilarityHistogram:
    """The histogram of two caches (joined on image id as ``rsmmvp mine`` joins them) for ``params``
    (a :class:`~rsmmvp_tasks.mining.search.MineParams`); ``clip_floor`` defaults to ``clip_min - 0.15``."""
    from rsmmvp_tasks.errors import UsageError
    from rsmmvp_tasks.mining.search import check_kinds, join_caches
    from rsmmvp_tasks.mining.store import read_cache

    floor = round(max(-1.0, params.clip_min - 0.15), 4) if clip_floor is None else clip_floor
    if floor > params.clip_min:
        raise UsageError(f"--stats-floor {floor} is above --clip-min {params.clip_min}; the histogram must include it")
    clip, ssl = read_cache(clip_cache), read_cache(ssl_cache)
    check_kinds(clip, ssl)
    _ids, _paths, cv, sv, _report = join_caches(clip, ssl)
    hist = histogram_pairs(cv, sv, floor, stats_thresholds(params.clip_min, params.ssl_max, params.dup_threshold, floor),
                           block=params.block or 4096, device=params.device, progress=progress)
    hist.thresholds = {"clip_min": params.clip_min, "ssl_max": params.ssl_max, "dup_threshold": params.dup_threshold}
    return hist


def _grid(hist: SimilarityHistogram) -> tuple[list[float], list[float], list[list[ThresholdCounts]]]:
    t = hist.thresholds
    clips, ssls = _grid_axes(t["clip_min"], t["ssl_max"], hist.clip_floor)
    return clips, ssls, [[hist.counts_for(c, s, t["dup_threshold"]) for s in ssls] for c in clips]


def format_grid(hist: SimilarityHistogram) -> str:
    """The printed table: candidate pairs for a grid of ``clip_min`` (rows) x ``ssl_max`` (columns)."""
    t = hist.thresholds
    clips, ssls, cells = _grid(hist)
    width = max(9, *(len(str(x.candidates)) + 1 for row in cells for x in row))
    lines = [f"candidate pairs (before --max-per-image) among {hist.images} images, "
             f"--dup-threshold {t['dup_threshold']:g}; * = the near-duplicate rule caps that column",
             "clip_min \\ ssl_max".ljust(20) + "".join(
                 (f"{s:g}" + ("*" if s > t["dup_threshold"] else "")).rjust(width) for s in ssls)]
    for c, row in zip(clips, cells, strict=False):
        mark = " <" if c == t["clip_min"] else ""
        lines.append(f"{c:g}{mark}".ljust(20) + "".join(str(x.candidates).rjust(width) for x in row))
    now = hist.counts_for(t["clip_min"], t["ssl_max"], t["dup_threshold"])
    lines.append(f"at --clip-min {t['clip_min']:g}: {now.near_duplicates} near-duplicate pairs (SSL >= "
                 f"{t['dup_threshold']:g}), {hist.counted} pairs with CLIP >= {hist.clip_floor:g} of {hist.total_pairs}")
    lines += _dup_lines(hist)
    return "\n".join(lines)


def _dup_lines(hist: SimilarityHistogram) -> list[str]:
    """Candidates with ``--ssl-max`` and ``--dup-threshold`` both raised, at the current ``--clip-min``."""
    t = hist.thresholds
    return [f"--ssl-max {d:g} --dup-threshold {d:g}: {hist.counts_for(t['clip_min'], d, d).candidates} candidates"
            for d in dup_options(t["dup_threshold"])]


def explain_exclusions(summary: dict[str, Any]) -> str | None:
    """A warning for ``rsmmvp mine``'s summary when candidates were removed as near-duplicates.

    It names the rule that removed them: with ``ssl_max > dup_threshold`` the near-duplicate rule, not
    ``--ssl-max``, is the effective SSL limit. ``None`` when no pair was removed that way.
    """
    params = summary.get("params") or {}
    dups = int(summary.get("near_duplicates_excluded") or 0)
    if not dups:
        return None
    clip_min, ssl_max, dup = params.get("clip_min"), params.get("ssl_max"), params.get("dup_threshold")
    text = (f"{dups} pair(s) with CLIP >= {clip_min:g} were removed by the near-duplicate rule (SSL >= "
            f"--dup-threshold {dup:g}: both encoders find the images alike), not by --ssl-max")
    if ssl_max is not None and dup is not None and ssl_max > dup:
        text += (f"; --ssl-max {ssl_max:g} is above --dup-threshold {dup:g}, so pairs with SSL in [{dup:g}, "
                 f"{ssl_max:g}) are removed too: raise --dup-threshold to keep them")
    return text + ". `rsmmvp mine --stats` shows the distribution and the counts per threshold"


def _display(hist: SimilarityHistogram) -> tuple[Any, Any, Any]:
    """Counts re-binned on the regular grid (every grid edge is an edge of the histogram)."""
    import numpy as np

    def regular(edges: Any, low: float) -> Any:
        grid = np.round(np.arange(np.ceil(low / GRID_STEP) * GRID_STEP, 1.0 + GRID_STEP / 2, GRID_STEP), 6)
        keep = np.unique(np.concatenate([[edges[0]], grid[grid > edges[0]].astype(np.float32), [edges[-1]]]))
        return np.searchsorted(edges, keep), keep

    ci, ce = regular(hist.clip_edges, hist.clip_floor)
    si, se = regular(hist.ssl_edges, _BOTTOM)
    merged = np.add.reduceat(np.add.reduceat(hist.counts, ci[:-1], axis=0), si[:-1], axis=1)
    return merged, ce, se


def write_stats(hist: SimilarityHistogram, out_stem: str | Path) -> list[Path]:
    """Write ``<out_stem>_stats.png`` and ``<out_stem>_stats.json``; return their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text

    stem = Path(out_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, js = stem.with_name(stem.name + "_stats.png"), stem.with_name(stem.name + "_stats.json")
    t = hist.thresholds
    clips, ssls, cells = _grid(hist)
    now = hist.counts_for(t["clip_min"], t["ssl_max"], t["dup_threshold"])

    merged, ce, se = _display(hist)
    fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
    fig.subplots_adjust(bottom=0.34, top=0.94)
    nz_cols = np.flatnonzero(merged.sum(0))
    if merged.sum():
        lo, hi = se[max(0, nz_cols[0] - 2)], se[min(len(se) - 1, nz_cols[-1] + 3)]
        mesh = ax.pcolormesh(se, ce, np.ma.masked_equal(merged, 0), norm=LogNorm(vmin=1, vmax=max(1, merged.max())),
                             cmap="viridis", shading="flat")
        fig.colorbar(mesh, ax=ax, label="pairs per bin (log)")
        ax.set_xlim(min(lo, t["ssl_max"] - 0.05), max(hi, min(1.0, t["dup_threshold"] + 0.05)))
    else:
        ax.text(0.5, 0.5, f"no pair with CLIP >= {hist.clip_floor:g}", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(-1, 1)
    ax.set_ylim(hist.clip_floor, 1.0)
    ax.axhline(t["clip_min"], color="red", lw=1.5, label=f"--clip-min {t['clip_min']:g}")
    ax.axvline(t["ssl_max"], color="orange", lw=1.5, label=f"--ssl-max {t['ssl_max']:g}")
    ax.axvline(t["dup_threshold"], color="grey", lw=1.5, ls="--", label=f"--dup-threshold {t['dup_threshold']:g}")
    ax.set_xlabel("SSL cosine similarity")
    ax.set_ylabel("CLIP cosine similarity")
    ax.set_title(f"{hist.counted} of {hist.total_pairs} pairs with CLIP >= {hist.clip_floor:g}; "
                 f"{now.candidates} candidates now")
    ax.legend(loc="upper left", bbox_to_anchor=(0.55, -0.1), fontsize=8)
    k_clip, k_ssl = clips.index(t["clip_min"]), ssls.index(t["ssl_max"])
    changes = [f"now: {now.candidates} candidates, {now.near_duplicates} near-dups"]
    changes += [f"--clip-min {c:g}: {cells[r][k_ssl].candidates}" for r, c in enumerate(clips) if c != t["clip_min"]]
    changes += [f"--ssl-max {s:g}: {cells[k_clip][k].candidates}" for k, s in enumerate(ssls) if s != t["ssl_max"]]
    changes += _dup_lines(hist)
    fig.text(0.01, 0.01, "candidates if one threshold changes:\n" + "\n".join(changes), ha="left", va="bottom",
             fontsize=8, family="monospace", bbox={"facecolor": "white", "edgecolor": "grey"})
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(png, buf.getvalue())
    payload = {
        "images": hist.images, "total_pairs": hist.total_pairs, "clip_floor": hist.clip_floor,
        "pairs_at_or_above_floor": hist.counted, "thresholds": t,
        "now": now.__dict__,
        "grid": [x.__dict__ for row in cells for x in row],
    }
    atomic_write_text(js, json.dumps(payload, indent=1) + "\n")
    return [png, js]
