"""Mining at archive scale (issue 20): low-precision passes that stay exact, tile sizes from free memory,
approximate indexes with measured recall, and a resumable mine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bruteforce import brute_force_pairs

from rsmmvp_tasks import MineParams, UsageError, mine_pairs
from rsmmvp_tasks.mining.precision import BLOCK_CAP, auto_block, matmul_margin
from rsmmvp_tasks.mining.search import candidate_pairs
from rsmmvp_tasks.mining.stats import wilson_interval


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int = 600, d: int = 64, e: int = 32, seed: int = 3, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Clusters whose CLIP cosines straddle 0.95 densely (many pairs within a bf16 margin of the threshold)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n // 20, d))
    labels = rng.integers(0, len(centers), n)
    clip = unit(centers[labels] / np.sqrt(d) * 4 + spread / np.sqrt(d) * rng.normal(size=(n, d)))
    ssl = unit(rng.normal(size=(n // 10, e))[rng.integers(0, n // 10, n)] + 0.6 * rng.normal(size=(n, e)))
    return clip, ssl


def pair_set(cands) -> set[tuple[int, int]]:
    return set(zip(cands.i.tolist(), cands.j.tolist(), strict=False))


def test_low_precision_passes_give_exactly_the_fp32_pairs() -> None:
    """bf16 and tf32 candidate passes, re-scored, give the fp32 pass's pair set and choice — and brute force's."""
    clip, ssl = clustered()
    base = MineParams(clip_min=0.95, ssl_max=0.6, block=128, precision="fp32")
    ref_c, ref_chosen = mine_pairs(clip, ssl, base)
    sims = clip.astype(np.float64) @ clip.T.astype(np.float64)
    near = np.abs(sims[np.triu_indices(len(clip), 1)] - 0.95) < matmul_margin("bf16", clip.shape[1])
    assert near.sum() > 50 and len(ref_c) > 50  # many pairs where bf16 alone would decide wrongly
    for precision in ("bf16", "tf32"):
        cands, chosen = mine_pairs(clip, ssl, MineParams(clip_min=0.95, ssl_max=0.6, block=128, precision=precision))
        assert pair_set(cands) == pair_set(ref_c)
        assert [(int(cands.i[k]), int(cands.j[k])) for k in chosen] == [(int(ref_c.i[k]), int(ref_c.j[k])) for k in ref_chosen]
        np.testing.assert_array_equal(np.sort(cands.clip), np.sort(ref_c.clip))
    brute, _ = brute_force_pairs(clip, ssl, base)
    assert pair_set(brute) == pair_set(ref_c)


def test_bf16_matmul_error_is_within_the_stated_margin() -> None:
    """The bound of rsmmvp_tasks.mining.precision holds on random unit vectors (and the safety factor is not all of it)."""
    import torch

    for d in (64, 768):
        x = torch.from_numpy(unit(np.random.default_rng(d).normal(size=(512, d))))
        exact = x.double() @ x.double().T
        for precision in ("bf16", "fp32"):
            low = (x.bfloat16() @ x.bfloat16().T).double() if precision == "bf16" else (x @ x.T).double()
            err = float((low - exact).abs().max())
            assert err <= matmul_margin(precision, d)
        assert float(((x.bfloat16() @ x.bfloat16().T).double() - exact).abs().max()) > matmul_margin("bf16", d) / 50


def test_block_from_free_memory_is_a_capped_power_of_two(monkeypatch: pytest.MonkeyPatch) -> None:
    from rsmmvp_tasks.mining import precision

    tile = 2048 * 2048 * 5  # float32 similarities + mask bytes of a 2048 tile
    monkeypatch.setattr(precision, "free_memory_bytes", lambda device: 4 * tile)  # the tile may take a quarter
    assert auto_block("cpu", 10**6) == 2048
    monkeypatch.setattr(precision, "free_memory_bytes", lambda device: 4 * tile - 100)
    assert auto_block("cpu", 10**6) == 1024
    monkeypatch.setattr(precision, "free_memory_bytes", lambda device: 1 << 40)
    assert auto_block("cpu", 10**6) == BLOCK_CAP["cpu"]
    assert auto_block("cpu", 100) == 100
    cands = candidate_pairs(*clustered(200), MineParams(block=None))
    assert cands.search["block"] == 200 and cands.search["precision"] == "fp32"


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(200, 200)
    assert hi == 1.0 and 0.98 < lo < 0.985
    lo, hi = wilson_interval(50, 100)
    assert math.isclose(lo, 0.4038, abs_tol=1e-3) and math.isclose(hi, 0.5962, abs_tol=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_index_recall_is_checked_against_brute_force(index: str) -> None:
    """--check-recall K: the exact CLIP-close pairs of K queries counted by brute force, and the share found."""
    pytest.importorskip("faiss", reason="optional: pip install faiss-cpu")
    clip, ssl = clustered(n=1200, d=32, seed=5, spread=0.5)
    p = MineParams(clip_min=0.9, ssl_max=0.6, index=index, nlist=60, nprobe=1, hnsw_m=4, ef_search=4, check_recall=150)
    cands = candidate_pairs(clip, ssl, p)
    exact, _ = brute_force_pairs(clip, ssl, MineParams(clip_min=0.9, ssl_max=0.6))
    assert pair_set(cands) <= pair_set(exact)  # an approximate index can only miss pairs
    rng = np.random.default_rng(p.seed)
    queries = set(np.sort(rng.choice(len(clip), 150, replace=False)).tolist())
    sims = clip.astype(np.float64) @ clip.T.astype(np.float64)
    i, j = np.triu_indices(len(clip), 1)
    close = [(a, b) for a, b in zip(i.tolist(), j.tolist(), strict=False) if sims[a, b] >= 0.9 and (a in queries or b in queries)]
    found_by_index = {(int(a), int(b)) for a, b in cands.watched.T.tolist()}
    r = cands.recall
    assert r["exact_pairs"] == len(close) > 100
    assert r["found"] == len(set(close) & found_by_index)
    assert 0 < r["recall"] < 1  # this index is deliberately weak: the check must see misses
    assert r["interval95"][0] <= r["recall"] <= r["interval95"][1]
    # the exact path measures a recall of 1
    full = candidate_pairs(clip, ssl, MineParams(clip_min=0.9, ssl_max=0.6, check_recall=150))
    assert full.recall["recall"] == 1.0 and full.recall["exact_pairs"] == len(close)


def test_approximate_index_at_generous_settings_finds_every_pair() -> None:
    pytest.importorskip("faiss", reason="optional: pip install faiss-cpu")
    clip, ssl = clustered(n=800)
    exact, chosen = mine_pairs(clip, ssl, MineParams())
    for index in ("ivf", "hnsw"):
        cands, ch = mine_pairs(clip, ssl, MineParams(index=index, nprobe=1000, ef_search=800))
        assert pair_set(cands) == pair_set(exact) and len(exact) > 20
        assert [(int(cands.i[k]), int(cands.j[k])) for k in ch] == [(int(exact.i[k]), int(exact.j[k])) for k in chosen]


def test_missing_faiss_for_an_index_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(UsageError, match="pip install faiss-cpu"):
        candidate_pairs(*clustered(100), MineParams(index="ivf"))
    with pytest.raises(UsageError, match="--index"):
        MineParams(index="lsh").check()
    with pytest.raises(UsageError, match="--precision"):
        MineParams(precision="fp8").check()


class Killed(RuntimeError):
    pass


@pytest.mark.parametrize("index", ["exact", "ivf"])
def test_killed_mine_resumes_from_its_last_block(tmp_path, index: str) -> None:
    """A failure injected after k row blocks; the rerun resumes from the checkpoint and gives the same result."""
    if index != "exact":
        pytest.importorskip("faiss", reason="optional: pip install faiss-cpu")
    clip, ssl = clustered(n=700)
    p = MineParams(block=64, index=index, check_recall=20)
    whole = candidate_pairs(clip, ssl, p)
    ckpt = tmp_path / "mine.ckpt.npz"
    seen: list[int] = []

    def die_after_3(r: int) -> None:
        seen.append(r)
        if len(seen) == 3:
            raise Killed

    with pytest.raises(Killed):
        candidate_pairs(clip, ssl, p, checkpoint=ckpt, checkpoint_every=0, on_rows=die_after_3)
    assert ckpt.exists()
    resumed_rows: list[int] = []
    again = candidate_pairs(clip, ssl, p, checkpoint=ckpt, checkpoint_every=0, on_rows=resumed_rows.append)
    assert resumed_rows[0] > seen[2]  # it did not start over
    assert pair_set(again) == pair_set(whole) and len(whole) > 10
    assert again.near_duplicates == whole.near_duplicates
    assert {k: v for k, v in again.recall.items() if k != "seconds"} == {k: v for k, v in whole.recall.items()
                                                                          if k != "seconds"}
    assert not ckpt.exists()
    # a checkpoint of other settings is not used
    with pytest.raises(Killed):
        seen.clear()
        candidate_pairs(clip, ssl, p, checkpoint=ckpt, checkpoint_every=0, on_rows=die_after_3)
    other: list[int] = []
    candidate_pairs(clip, ssl, MineParams(block=64, index=index, clip_min=0.96), checkpoint=ckpt, checkpoint_every=0,
                    on_rows=other.append)
    assert other[0] == seen[0]


def test_cli_index_and_recall_go_into_pairs_json(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """`rsmmvp mine --index ivf --check-recall K`: the recall is printed and recorded in PAIRS.json; no checkpoint left."""
    import json

    from rsmmvp_tasks.cli import main
    from rsmmvp_tasks.mining.store import CacheWriter

    pytest.importorskip("faiss", reason="optional: pip install faiss-cpu")
    clip, ssl = clustered(n=500)
    ids = [f"im{k:04d}" for k in range(len(clip))]
    for name, vecs in (("clip", clip), ("ssl", ssl)):
        w = CacheWriter(tmp_path / name, {"encoder": f"test/{name}", "kind": name, "dim": vecs.shape[1],
                                          "dtype": "float16", "source": "synthetic"})
        w.write_shard(ids, vecs, [None] * len(ids))
    code = main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out", str(tmp_path / "P"),
                 "--index", "ivf", "--nlist", "8", "--nprobe", "8", "--check-recall", "60", "--no-progress",
                 "--no-export-images"])
    assert code == 0
    meta = json.loads((tmp_path / "P.json").read_text())
    assert meta["recall"]["recall"] == 1.0 and meta["recall"]["exact_pairs"] > 0  # nprobe = nlist: every list searched
    assert meta["search"]["index"] == "ivf" and meta["search"]["nlist"] == 8
    assert meta["params"]["index"] == "ivf" and meta["params"]["check_recall"] == 60
    assert "recall of the ivf candidate stage: 1.0000" in capsys.readouterr().out
    assert not (tmp_path / "P.checkpoint.npz").exists()
    with pytest.raises(SystemExit) as exc:
        main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out", str(tmp_path / "Q"),
              "--index", "annoy"])
    assert exc.value.code == 2
    assert "--index" in capsys.readouterr().err


def test_the_dataset_card_says_how_pairs_were_mined_and_the_recall(tmp_path) -> None:
    """rsmmvp build puts mining_note(PAIRS) into the card: the candidate stage and the measured recall."""
    import json

    from rsmmvp_tasks.mining.pairs import mining_note

    (tmp_path / "P.json").write_text(json.dumps({
        "search": {"index": "ivf", "nlist": 316, "nprobe": 2, "train_rows": 12324, "block": 4096, "margin": 1e-4},
        "recall": {"queries": 1000, "exact_pairs": 2785, "found": 2752, "recall": 2752 / 2785,
                   "interval95": list(wilson_interval(2752, 2785))}}))
    note = mining_note(tmp_path / "P.parquet")
    assert note is not None and "`ivf`" in note and "nprobe=2" in note and "0.9882" in note and "1000 random query" in note
    (tmp_path / "E.json").write_text(json.dumps({"search": {"index": "exact", "block": 4096}}))
    assert mining_note(tmp_path / "E.parquet").startswith("Pairs were mined by an exact search")
    (tmp_path / "A.json").write_text(json.dumps({"search": {"index": "hnsw", "M": 32}}))
    assert "recall was not measured" in mining_note(tmp_path / "A.parquet")
    assert mining_note(tmp_path / "missing.parquet") is None


def test_card_renders_the_mining_line() -> None:
    from rsmmvp_tasks.dataset.card import CardInfo, render_card

    rows = [{"pair_id": 0, "pattern": "presence", "source": "x/a.png"}, {"pair_id": 0, "pattern": "presence",
                                                                         "source": "x/b.png"}]
    line = "Pairs were mined with an approximate `ivf` candidate stage (nprobe=2); its recall ... is 0.9900."
    assert line in render_card(rows, CardInfo(mining=line))
    assert "Pairs were mined" not in render_card(rows, CardInfo())
