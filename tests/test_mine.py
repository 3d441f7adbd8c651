"""``rsmmvp mine``: planted pairs in synthetic caches, exactness against brute force, caps, joins, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bruteforce import brute_force_pairs

from rsmmvp_tasks import MineParams, UsageError, mine_caches, mine_pairs
from rsmmvp_tasks.mining.pairs import PAIRS_COLUMNS
from rsmmvp_tasks.mining.store import CacheWriter


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def write_cache(path: Path, ids: list[str], vectors: np.ndarray, kind: str, dtype: str = "float32",
                shard: int = 50) -> Path:
    """A cache as `rsmmvp embed` writes it, through the store API, in several shards."""
    w = CacheWriter(path, {"encoder": f"test/{kind}", "kind": kind, "dim": vectors.shape[1], "dtype": dtype,
                           "source": "synthetic"})
    for k in range(0, len(ids), shard):
        w.write_shard(ids[k:k + shard], vectors[k:k + shard], [f"/img/{i}.png" for i in ids[k:k + shard]])
    return path


def planted(n: int = 120, d: int = 48, e: int = 40, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """Random embeddings (pairwise cosines near 0) with planted structure.

    - ``blind``: 4 CLIP-blind pairs, CLIP cosine ~0.99..0.96 (decreasing), SSL ~0: gaps decreasing
    - ``dup``: a near-duplicate (both cosines ~0.99)
    - ``mid``: CLIP ~0.99, SSL exactly 0.7 (above the 0.6 default, below 0.9)
    - ``hub``: image 100 is CLIP-close to 101, 102, 103 (SSL cosine 0), gaps 101 > 102 > 103; the three
      share one SSL vector, so the pairs among them are near-duplicates (3 more)
    """
    rng = np.random.default_rng(seed)
    clip, ssl = unit(rng.normal(size=(n, d))), unit(rng.normal(size=(n, e)))

    def near(v: np.ndarray, cos: float) -> np.ndarray:
        noise = rng.normal(size=v.shape)
        noise -= (noise @ v) * v
        noise /= np.linalg.norm(noise)
        return unit(cos * v + np.sqrt(1 - cos**2) * noise)

    blind = [(0, 1, 0.99), (2, 3, 0.98), (4, 5, 0.97), (6, 7, 0.965)]
    for a, b, c in blind:
        clip[b] = near(clip[a], c)
        ssl[b] = near(ssl[a], 0.0)
    clip[11], ssl[11] = near(clip[10], 0.99), near(ssl[10], 0.99)  # near-duplicate
    clip[13], ssl[13] = near(clip[12], 0.99), near(ssl[12], 0.7)  # mid
    w = near(ssl[100], 0.0)
    for b, c in ((101, 0.995), (102, 0.985), (103, 0.975)):
        clip[b], ssl[b] = near(clip[100], c), w
    ids = [f"img{k:03d}" for k in range(n)]
    return ids, clip, ssl, {"blind": [(a, b) for a, b, _ in blind], "dup": (10, 11), "mid": (12, 13)}


def chosen_pairs(cands, chosen) -> list[tuple[int, int]]:
    return [(int(cands.i[k]), int(cands.j[k])) for k in chosen]


def test_planted_pairs_found_and_ranked_by_gap() -> None:
    _ids, clip, ssl, plant = planted()
    cands, chosen = mine_pairs(clip, ssl, MineParams(block=32))
    got = chosen_pairs(cands, chosen)
    for pair in plant["blind"]:
        assert pair in got
    assert plant["dup"] not in got and plant["mid"] not in got
    assert cands.near_duplicates == 4
    gaps = (cands.clip - cands.ssl)[chosen]
    assert np.all(np.diff(gaps) <= 0)
    # the hub: one pair only (default max_per_image=1), the one with the largest gap
    hub = [p for p in got if 100 in p]
    assert hub == [(100, 101)]
    assert set(got) == set(plant["blind"]) | {(100, 101)}


def test_thresholds_cap_and_near_duplicates_are_settable() -> None:
    _ids, clip, ssl, plant = planted()
    cands, chosen = mine_pairs(clip, ssl, MineParams(ssl_max=0.8, max_per_image=2))
    got = chosen_pairs(cands, chosen)
    assert plant["mid"] in got  # SSL 0.7 < 0.8
    assert [p for p in got if 100 in p] == [(100, 101), (100, 102)]
    # raising ssl_max above the near-duplicate line still excludes the duplicate...
    cands, chosen = mine_pairs(clip, ssl, MineParams(ssl_max=1.0))
    assert plant["dup"] not in chosen_pairs(cands, chosen)
    # ...unless the near-duplicate threshold is raised too
    cands, chosen = mine_pairs(clip, ssl, MineParams(ssl_max=1.0, dup_threshold=1.0))
    assert plant["dup"] in chosen_pairs(cands, chosen)
    # a higher CLIP bar drops the weaker planted pairs
    cands, chosen = mine_pairs(clip, ssl, MineParams(clip_min=0.975))
    assert set(chosen_pairs(cands, chosen)) == {(0, 1), (2, 3), (100, 101)}
    with pytest.raises(ValueError):
        mine_pairs(clip, ssl, MineParams(max_per_image=0))


@pytest.mark.parametrize("block", [1, 7, 64, 1000])
@pytest.mark.parametrize("max_per_image", [1, 3])
@pytest.mark.parametrize("backend", ["torch", "faiss"])
def test_blocked_search_equals_brute_force(block: int, max_per_image: int, backend: str) -> None:
    """Clustered data with many candidates: every tiling (and faiss) gives the brute-force result, in order."""
    if backend == "faiss":
        pytest.importorskip("faiss", reason="optional backend: pip install faiss-cpu")
    rng = np.random.default_rng(1)
    n = 240
    centers = rng.normal(size=(25, 16))
    labels = rng.integers(0, 25, n)
    clip = unit(centers[labels] + 0.12 * rng.normal(size=(n, 16)))
    ssl = unit(rng.normal(size=(25, 12))[rng.integers(0, 25, n)] + 0.5 * rng.normal(size=(n, 12)))
    params = MineParams(clip_min=0.95, ssl_max=0.6, dup_threshold=0.9, max_per_image=max_per_image, block=block,
                        backend=backend)
    cands, chosen = mine_pairs(clip, ssl, params)
    ref, ref_chosen = brute_force_pairs(clip, ssl, params)
    assert len(ref) > 100 and len(ref_chosen) > 20  # the test has something to compare
    assert sorted(zip(cands.i.tolist(), cands.j.tolist(), strict=False)) == sorted(zip(ref.i.tolist(), ref.j.tolist(), strict=False))
    assert cands.near_duplicates == ref.near_duplicates
    assert chosen_pairs(cands, chosen) == chosen_pairs(ref, ref_chosen)
    np.testing.assert_allclose(cands.clip[chosen], ref.clip[ref_chosen], atol=1e-5)
    np.testing.assert_allclose(cands.ssl[chosen], ref.ssl[ref_chosen], atol=1e-5)
    counts = np.bincount(np.concatenate([cands.i[chosen], cands.j[chosen]]), minlength=n)
    assert counts.max() <= max_per_image


def test_candidate_limit_keeps_best_gaps() -> None:
    _ids, clip, ssl, _plant = planted()
    cands, chosen = mine_pairs(clip, ssl, MineParams(max_candidates=2, block=16))
    assert cands.truncated and len(cands) == 2
    assert set(chosen_pairs(cands, chosen)) == {(100, 101), (0, 1)}  # the two largest gaps


def test_mine_caches_joins_on_id_and_writes_pairs(tmp_path: Path) -> None:
    from rsmmvp_tasks.cli import main
    from rsmmvp_tasks.mining.pairs import read_pairs

    ids, clip, ssl, _plant = planted()
    write_cache(tmp_path / "clip", ids, clip, "clip", dtype="float16")
    # the SSL cache misses image 0 (so pair 0-1 cannot be mined), has one extra image, and another order
    keep = list(range(1, len(ids)))[::-1]
    write_cache(tmp_path / "ssl", [ids[k] for k in keep] + ["extra"], np.vstack([ssl[keep], ssl[:1]]), "ssl")
    frame, summary = mine_caches(tmp_path / "clip", tmp_path / "ssl", progress=False)
    assert list(frame.columns) == list(PAIRS_COLUMNS)
    assert (summary["joined_images"], summary["only_in_clip"], summary["only_in_ssl"]) == (len(ids) - 1, 1, 1)
    got = set(zip(frame.image_a, frame.image_b, strict=False))
    assert got == {("img002", "img003"), ("img004", "img005"), ("img006", "img007"), ("img100", "img101")}
    assert frame["rank"].tolist() == [1, 2, 3, 4]
    assert frame.iloc[0].image_a == "img100"  # largest gap first
    assert (frame.clip_encoder == "test/clip").all() and (frame.ssl_encoder == "test/ssl").all()
    assert frame.path_a.str.startswith("/img/").all()
    np.testing.assert_allclose(frame.gap, frame.clip_similarity - frame.ssl_similarity, atol=1e-6)

    code = main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"),
                 "--out", str(tmp_path / "out" / "pairs"), "--block", "16", "--no-progress"])
    assert code == 0
    table = read_pairs(tmp_path / "out" / "pairs.parquet")  # what `rsmmvp review` reads
    assert [(r["image_a"], r["image_b"]) for r in table.records] == list(zip(frame.image_a, frame.image_b, strict=False))
    assert (tmp_path / "out" / "pairs.csv").read_text().splitlines()[0] == ",".join(PAIRS_COLUMNS)
    assert json.loads((tmp_path / "out" / "pairs.json").read_text())["pairs"] == 4


def test_mine_cli_bad_inputs(tmp_path: Path) -> None:
    from rsmmvp_tasks.cli import main

    ids, clip, ssl, _ = planted()
    write_cache(tmp_path / "clip", ids, clip, "clip")
    write_cache(tmp_path / "other", [f"x{k}" for k in range(len(ids))], ssl, "ssl")
    assert main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "nope"), "--out",
                 str(tmp_path / "p")]) == 2
    assert main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "other"), "--out",
                 str(tmp_path / "p"), "--no-progress"]) == 2  # no shared image id
    assert not (tmp_path / "p.parquet").exists()


def test_faiss_backend_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)  # as if not installed
    _ids, clip, ssl, _ = planted()
    with pytest.raises(UsageError, match="pip install faiss-cpu"):
        mine_pairs(clip, ssl, MineParams(backend="faiss"))


# ---- issue 9 (hardening) and the error model ----------------------------------------------------


def test_swapped_caches_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 8.3: each manifest records its kind; --clip and --ssl given the other way round is refused."""
    from rsmmvp_tasks.cli import main
    from rsmmvp_tasks.mining.store import ManifestMismatchError

    ids, clip, ssl, _ = planted()
    write_cache(tmp_path / "clip", ids, clip, "clip")
    write_cache(tmp_path / "ssl", ids, ssl, "ssl")
    with pytest.raises(ManifestMismatchError, match="the caches are swapped"):
        mine_caches(tmp_path / "ssl", tmp_path / "clip", progress=False)
    code = main(["mine", "--clip", str(tmp_path / "ssl"), "--ssl", str(tmp_path / "clip"), "--out", str(tmp_path / "p"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"pass --clip {tmp_path / 'clip'} --ssl {tmp_path / 'ssl'}" in err
    # one cache of the wrong kind, the other right: also refused
    write_cache(tmp_path / "ssl2", ids, ssl, "ssl")
    with pytest.raises(ManifestMismatchError, match="--clip needs a cache embedded with a CLIP model"):
        mine_caches(tmp_path / "ssl2", tmp_path / "ssl", progress=False)
    assert not (tmp_path / "p.parquet").exists()


@pytest.mark.parametrize("bad", [["--dup-threshold", "-5"], ["--clip-min", "95"], ["--ssl-max", "nan"],
                                 ["--max-per-image", "0"], ["--block", "-1"], ["--max-candidates", "0"]])
def test_out_of_range_options_are_usage_errors(tmp_path: Path, bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9.17: every numeric option of `rsmmvp mine` is range-checked (argparse: exit 2, the option named)."""
    from rsmmvp_tasks.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["mine", "--clip", "c", "--ssl", "s", "--out", str(tmp_path / "p"), *bad])
    assert exit_.value.code == 2 and bad[0] in capsys.readouterr().err


def test_mine_params_are_checked_in_the_library_too() -> None:
    _ids, clip, ssl, _ = planted()
    for params, option in ((MineParams(dup_threshold=-5), "--dup-threshold"), (MineParams(clip_min=95.0), "--clip-min"),
                           (MineParams(ssl_max=float("nan")), "--ssl-max"), (MineParams(block=0), "--block"),
                           (MineParams(device="gpu0"), "gpu0")):
        with pytest.raises(UsageError, match=option):
            mine_pairs(clip, ssl, params)


def test_a_device_that_is_not_there_is_said_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 8.3: `rsmmvp mine --device cuda` on a CPU-only machine: a usage error naming what is available."""
    import torch

    from rsmmvp_tasks.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    ids, clip, ssl, _ = planted()
    write_cache(tmp_path / "clip", ids, clip, "clip")
    write_cache(tmp_path / "ssl", ids, ssl, "ssl")
    code = main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out", str(tmp_path / "p"),
                 "--device", "cuda", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "--device cuda: CUDA is not available here" in err and "available: cpu" in err


def test_a_cache_that_is_not_unit_length_is_refused_by_mine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 9.10: a cache scaled by hand would give cosines far above 1 (clip similarity 98.5): refused, named."""
    from rsmmvp_tasks.cli import main

    ids, clip, ssl, _ = planted()
    write_cache(tmp_path / "clip", ids, clip, "clip")
    write_cache(tmp_path / "ssl", ids, ssl, "ssl")
    for npy in (tmp_path / "clip" / "shards").glob("emb-*.npy"):
        np.save(npy, np.load(npy) * 10)
    code = main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out", str(tmp_path / "p"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "not unit length" in err and str(tmp_path / "clip") in err
    assert not (tmp_path / "p.parquet").exists()


def test_pairs_csv_cannot_run_formulas(tmp_path: Path) -> None:
    """Issue 9.18: an image named like a spreadsheet formula lands in PAIRS.csv as text; reading it back restores it."""
    import csv

    from rsmmvp_tasks.mining.pairs import read_pairs

    ids, clip, ssl, _ = planted()
    evil = '=HYPERLINK("http://example.invalid","open").png'
    ids = [evil if k == 100 else ("+cmd|' /C calc'!A0" if k == 101 else i) for k, i in enumerate(ids)]
    write_cache(tmp_path / "clip", ids, clip, "clip")
    write_cache(tmp_path / "ssl", ids, ssl, "ssl")
    frame, summary = mine_caches(tmp_path / "clip", tmp_path / "ssl", progress=False)
    assert frame.iloc[0].image_a == evil  # the hub pair (100, 101) has the largest gap
    from rsmmvp_tasks.mining.pairs import write_pairs

    parquet, as_csv, _ = write_pairs(frame, summary, tmp_path / "PAIRS")
    with open(as_csv, newline="", encoding="utf-8") as f:
        cells = [cell for row in csv.reader(f) for cell in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and not c[1:2].isdigit())]
    assert "'" + evil in cells
    assert [r["image_a"] for r in read_pairs(as_csv).records] == [r["image_a"] for r in read_pairs(parquet).records]
    assert read_pairs(as_csv).records[0]["image_b"] == "+cmd|' /C calc'!A0"
