"""Thresholds you can see: the (CLIP, SSL) histogram's counts equal a brute-force count, the PNG exists."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rsmmvp_tasks.mining.search import MineParams, candidate_pairs
from rsmmvp_tasks.mining.stats import explain_exclusions, format_grid, histogram_pairs, write_stats


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _vectors(n: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CLIP vectors in a few tight clusters (cosines spread over 0.7..1), SSL vectors loosely tied to them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 32))
    clip = centres[rng.integers(0, 4, n)] * 2.2 + rng.normal(size=(n, 32))
    ssl = np.concatenate([clip[:, :16] * rng.uniform(0, 1.5, (n, 1)), rng.normal(size=(n, 16)) * 2], axis=1)
    clip, ssl = _unit(clip), _unit(ssl)
    for k in range(8):  # near-duplicates (SSL ~0.99) and pairs with SSL ~0.92, between 0.9 and 0.95
        clip[k], ssl[k] = _tilt(clip[k + 8], 0.99, rng), _tilt(ssl[k + 8], 0.99, rng)
        clip[k + 16], ssl[k + 16] = _tilt(clip[k + 24], 0.97, rng), _tilt(ssl[k + 24], 0.92, rng)
    return clip, ssl


def _tilt(v: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    """A unit vector at cosine ``cos`` from the unit vector ``v``."""
    u = rng.normal(size=v.shape)
    u -= (u @ v) * v
    u /= np.linalg.norm(u)
    return (cos * v + np.sqrt(1 - cos * cos) * u).astype(np.float32)


def _brute(clip: np.ndarray, ssl: np.ndarray, c: float, s: float, d: float) -> tuple[int, int, int]:
    cc = clip.astype(np.float64) @ clip.T.astype(np.float64)
    ss = ssl.astype(np.float64) @ ssl.T.astype(np.float64)
    i, j = np.triu_indices(len(clip), 1)
    cv, sv = cc[i, j], ss[i, j]
    above = cv >= c
    return (int((above & (sv < min(s, d))).sum()), int((above & (sv >= d)).sum()),
            int((above & (sv >= d) & (sv < s)).sum()) if s > d else 0)


def test_histogram_counts_equal_brute_force_on_every_grid_cell() -> None:
    clip, ssl = _vectors()
    clips, ssls, dup = [0.8, 0.85, 0.9, 0.93], [0.2, 0.4, 0.6, 0.8, 0.95], 0.9
    hist = histogram_pairs(clip, ssl, 0.75, {"clip": clips, "ssl": ssls + [dup]}, block=37)  # odd block: ragged tiles
    brute_total = int(((clip.astype(np.float64) @ clip.T)[np.triu_indices(len(clip), 1)] >= 0.75).sum())
    assert hist.counted == brute_total > 0
    nonzero = 0
    for c in clips:
        for s in ssls:
            got = hist.counts_for(c, s, dup)
            assert (got.candidates, got.near_duplicates, got.removed_by_dup) == _brute(clip, ssl, c, s, dup), (c, s)
            nonzero += got.candidates > 0
    assert nonzero >= 5  # the data exercises the counts, not just zeros
    assert hist.counts_for(0.8, 0.95, dup).removed_by_dup > 0  # ssl_max above dup: the dup rule bites


def test_histogram_agrees_with_the_miners_candidates() -> None:
    clip, ssl = _vectors(seed=3)
    params = MineParams(clip_min=0.9, ssl_max=0.6, dup_threshold=0.9, block=50)
    cands = candidate_pairs(clip, ssl, params)
    hist = histogram_pairs(clip, ssl, 0.75, {"clip": [0.9], "ssl": [0.6, 0.9]})
    got = hist.counts_for(0.9, 0.6, 0.9)
    assert got.candidates == len(cands)
    assert got.near_duplicates == cands.near_duplicates


def test_threshold_off_the_grid_is_refused() -> None:
    clip, ssl = _vectors(n=40)
    hist = histogram_pairs(clip, ssl, 0.5)
    with pytest.raises(ValueError, match="not a bin edge"):
        hist.counts_for(0.9333, 0.6, 0.9)
    with pytest.raises(ValueError, match="below the histogram's CLIP floor"):
        hist.counts_for(0.4, 0.6, 0.9)


def test_stats_png_and_json_hold_the_brute_force_counts(tmp_path: Path) -> None:
    from PIL import Image

    clip, ssl = _vectors(seed=5)
    params = MineParams(clip_min=0.9, ssl_max=0.6, dup_threshold=0.9)
    from rsmmvp_tasks.mining.stats import grid_values, stats_thresholds

    clips, ssls = grid_values(0.9, (-0.04, -0.02, 0.0, 0.02), 0.75, 1.0), [0.4, 0.5, 0.6, 0.7, 0.8]
    hist = histogram_pairs(clip, ssl, 0.75, stats_thresholds(0.9, 0.6, 0.9, 0.75))
    hist.thresholds = {"clip_min": params.clip_min, "ssl_max": params.ssl_max, "dup_threshold": params.dup_threshold}
    png, js = write_stats(hist, tmp_path / "pairs")
    assert png.name == "pairs_stats.png" and js.name == "pairs_stats.json"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 400
    data = json.loads(js.read_text())
    assert data["now"]["candidates"] == _brute(clip, ssl, 0.9, 0.6, 0.9)[0]
    assert len(data["grid"]) == len(clips) * len(ssls)
    for cell in data["grid"]:
        assert cell["candidates"] == _brute(clip, ssl, cell["clip_min"], cell["ssl_max"], 0.9)[0], cell
    table = format_grid(hist)
    assert "clip_min \\ ssl_max" in table and "0.9 <" in table
    assert "*" not in table.splitlines()[1]  # no --ssl-max column is above --dup-threshold here
    hist.thresholds["ssl_max"] = 0.8
    assert f"--ssl-max 0.95 --dup-threshold 0.95: {_brute(clip, ssl, 0.9, 0.95, 0.95)[0]} candidates" in table
    hist2 = histogram_pairs(clip, ssl, 0.75, stats_thresholds(0.9, 0.8, 0.9, 0.75))
    hist2.thresholds = {"clip_min": 0.9, "ssl_max": 0.8, "dup_threshold": 0.9}
    assert "1*" in format_grid(hist2).splitlines()[1]  # ssl_max 1.0 > dup 0.9: marked


def test_explanation_names_the_near_duplicate_rule() -> None:
    summary = {"params": {"clip_min": 0.95, "ssl_max": 0.95, "dup_threshold": 0.9}, "near_duplicates_excluded": 6658}
    text = explain_exclusions(summary)
    assert text is not None
    assert "6658 pair(s)" in text and "near-duplicate rule" in text and "not by --ssl-max" in text
    assert "raise --dup-threshold" in text and "[0.9, 0.95)" in text
    plain = explain_exclusions({"params": {"clip_min": 0.95, "ssl_max": 0.6, "dup_threshold": 0.9},
                                "near_duplicates_excluded": 3})
    assert plain is not None and "raise --dup-threshold" not in plain
    assert explain_exclusions({"params": {}, "near_duplicates_excluded": 0}) is None
