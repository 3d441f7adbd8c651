"""The mining rule computed the obvious way, as the reference the blocked search is tested against."""

from __future__ import annotations

from typing import Any

from rsmmvp_tasks.mining.search import Candidates, MineParams, select_pairs


def brute_force_pairs(clip: Any, ssl: Any, params: MineParams | None = None) -> tuple[Candidates, Any]:
    """Full ``N x N`` similarity matrices (float64 numpy), same rule as ``mine_pairs``; O(N^2) memory."""
    import numpy as np

    p = params or MineParams()
    C, D = np.asarray(clip, np.float64), np.asarray(ssl, np.float64)
    sc, ss = C @ C.T, D @ D.T
    i, j = np.triu_indices(len(C), 1)
    c, s = sc[i, j], ss[i, j]
    keep = (c >= p.clip_min) & (s < p.ssl_max) & (s < p.dup_threshold)
    cands = Candidates(i[keep], j[keep], c[keep].astype(np.float32), s[keep].astype(np.float32),
                       near_duplicates=int(((c >= p.clip_min) & (s >= p.dup_threshold)).sum()))
    return cands, select_pairs(cands, p.max_per_image)
