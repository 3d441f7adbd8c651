"""``rsmmvp embed``: sources, encoders, the cache, resume, bad images — on tiny random models, offline, CPU."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from tinymodels import build_tiny_clip, build_tiny_dinov2

from rsmmvp_tasks.mining import embed as embed_mod
from rsmmvp_tasks.mining.embed import ImageReadError, embed_images
from rsmmvp_tasks.mining.encoders import (
    KINDS,
    EncoderError,
    load_encoder,
    register_kind,
)
from rsmmvp_tasks.mining.images import ImageSourceError, list_images
from rsmmvp_tasks.mining.store import (
    CacheError,
    CacheWriter,
    ManifestMismatchError,
    read_cache,
    read_errors,
)

N_IMAGES = 12


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def dino_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dinov2(tmp_path_factory.mktemp("dino"))


def draw_images(root: Path, n: int = N_IMAGES) -> list[Path]:
    """``n`` distinct small images (jpg, png, tif; some in a subfolder) under ``root``."""
    from PIL import Image, ImageDraw

    paths = []
    for i in range(n):
        im = Image.new("RGB", (48 + 3 * i, 40), (20 * i % 255, 90, 160 - 7 * i))
        ImageDraw.Draw(im).rectangle([i, 5, 20 + 2 * i, 30], fill=(250 - 15 * i, 30 * (i % 5), 40))
        sub = root / ("sub" if i % 3 == 0 else "")
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"tile{i:02d}.{('png', 'jpg', 'tif')[i % 3]}"
        im.save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    draw_images(root)
    return root


def test_folder_source_lists_recursively_in_order(image_dir: Path) -> None:
    images = list_images(image_dir)
    assert len(images) == N_IMAGES
    assert images.ids == sorted(images.ids)
    assert any(i.startswith("sub/") for i in images.ids)
    assert {Path(i).suffix for i in images.ids} == {".png", ".jpg", ".tif"}
    assert all(images.path(k).is_file() for k in range(len(images)))


def test_bad_sources_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ImageSourceError, match="not found"):
        list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImageSourceError, match="no image"):
        list_images(tmp_path / "empty")
    (tmp_path / "list.txt").write_text("# nothing\n\n")
    with pytest.raises(ImageSourceError, match="names no image"):
        list_images(tmp_path / "list.txt")


def test_embed_folder_with_both_kinds(image_dir: Path, clip_dir: Path, dino_dir: Path, tmp_path: Path) -> None:
    for model, kind, dim in ((clip_dir, "clip", 16), (dino_dir, "ssl", 24)):
        out = tmp_path / kind
        stats = embed_images(image_dir, str(model), out, batch_size=5, workers=0, shard_size=5, progress=False)
        assert (stats.embedded, stats.failed, stats.skipped) == (N_IMAGES, 0, 0)
        assert stats.shards == 3  # 5 + 5 + 2
        cache = read_cache(out)
        assert cache.manifest["kind"] == kind and cache.manifest["dim"] == dim  # kind auto picked it
        assert cache.ids == list_images(image_dir).ids
        assert cache.vectors.shape == (N_IMAGES, dim)
        np.testing.assert_allclose(np.linalg.norm(cache.vectors, axis=1), 1.0, rtol=1e-5)
        assert all(Path(p).is_file() for p in cache.paths)
        # distinct images get distinct vectors
        assert len({tuple(np.round(v, 5)) for v in cache.vectors}) == N_IMAGES


def test_workers_and_batch_size_do_not_change_vectors(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    embed_images(image_dir, str(clip_dir), tmp_path / "a", batch_size=N_IMAGES, workers=0, progress=False)
    embed_images(image_dir, str(clip_dir), tmp_path / "b", batch_size=3, workers=2, progress=False)
    a, b = read_cache(tmp_path / "a"), read_cache(tmp_path / "b")
    assert a.ids == b.ids
    np.testing.assert_allclose(a.vectors, b.vectors, atol=1e-5)


def test_file_list_and_dataset_sources_match_folder(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    import datasets

    files = list_images(image_dir)
    listing = tmp_path / "list.txt"
    # relative entries resolve against the list's folder
    rel = [os.path.relpath(files.path(k), tmp_path) for k in range(len(files))]
    listing.write_text("# my tiles\n" + "\n".join(rel) + "\n\n")
    enc = load_encoder(str(clip_dir))
    embed_images(image_dir, enc, tmp_path / "folder", workers=0, progress=False)
    embed_images(listing, enc, tmp_path / "list", workers=0, progress=False)
    ds = datasets.Dataset.from_dict({"name": files.ids, "img": [str(files.path(k)) for k in range(len(files))]})
    ds = ds.cast_column("img", datasets.Image())
    ds.save_to_disk(str(tmp_path / "ds"))
    ds.to_parquet(str(tmp_path / "ds.parquet"))
    embed_images(tmp_path / "ds", enc, tmp_path / "disk", workers=0, progress=False)
    embed_images(f"{tmp_path / 'ds.parquet'}#img", enc, tmp_path / "pq", workers=0, progress=False)
    (tmp_path / "hub" / "data").mkdir(parents=True)  # a hub-style dataset repo, loaded by load_dataset(NAME)
    ds.to_parquet(str(tmp_path / "hub" / "data" / "train-00000-of-00001.parquet"))
    embed_images(f"hf:{tmp_path / 'hub'}:train#img", enc, tmp_path / "hf", workers=0, progress=False)
    ref = read_cache(tmp_path / "folder").vectors
    lst = read_cache(tmp_path / "list")
    assert lst.ids == rel
    np.testing.assert_allclose(lst.vectors, ref, atol=1e-6)
    for name in ("disk", "pq", "hf"):
        cache = read_cache(tmp_path / name)
        assert cache.ids == [f"row-{k:02d}" for k in range(N_IMAGES)]
        assert cache.manifest["source_kind"] == "dataset" and cache.manifest["column"] == "img"
        np.testing.assert_allclose(cache.vectors, ref, atol=1e-6)
    with pytest.raises(ImageSourceError, match="no column 'nope'"):
        list_images(f"{tmp_path / 'ds'}#nope")


def test_unreadable_images_are_reported_and_skipped(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    import shutil

    from rsmmvp_tasks.cli import main

    root = tmp_path / "imgs"
    shutil.copytree(image_dir, root)
    good_jpg = next(root.rglob("*.jpg")).read_bytes()
    (root / "truncated.jpg").write_bytes(good_jpg[: len(good_jpg) // 2])
    (root / "notes.png").write_text("this is not an image")
    stats = embed_images(root, str(clip_dir), tmp_path / "c", workers=1, progress=False)
    assert (stats.embedded, stats.failed) == (N_IMAGES, 2)
    errors = read_errors(tmp_path / "c")
    assert sorted(e["id"] for e in errors) == ["notes.png", "truncated.jpg"]
    assert all(e["error"] and Path(e["path"]).is_file() for e in errors)
    assert "notes.png" not in read_cache(tmp_path / "c").ids
    # a rerun neither retries nor re-reports them
    again = embed_images(root, str(clip_dir), tmp_path / "c", workers=0, progress=False)
    assert (again.embedded, again.failed, again.skipped) == (0, 0, N_IMAGES + 2)
    assert len(read_errors(tmp_path / "c")) == 2
    # strict: fatal, in the API and the CLI
    with pytest.raises(ImageReadError, match="notes.png|truncated.jpg"):
        embed_images(root, str(clip_dir), tmp_path / "strict", workers=0, strict=True, progress=False)
    code = main(["embed", str(root), "--encoder", str(clip_dir), "--out", str(tmp_path / "strict2"),
                 "--workers", "0", "--strict", "--no-progress"])
    assert code == 2
    # strict on a cache that already lists them: retried, still fatal
    with pytest.raises(ImageReadError):
        embed_images(root, str(clip_dir), tmp_path / "c", workers=0, strict=True, progress=False)


def test_resume_after_a_crash_embeds_each_image_once(image_dir: Path, clip_dir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    enc = load_encoder(str(clip_dir))
    embed_images(image_dir, enc, tmp_path / "ref", batch_size=2, workers=0, progress=False)
    ref = read_cache(tmp_path / "ref")

    seen: list[int] = []
    real_encode = type(enc).encode

    def crashing_encode(self, pixels):
        if len(seen) == 3:  # the 4th batch dies, as if the process were killed
            raise KeyboardInterrupt("simulated kill")
        seen.append(len(pixels))
        return real_encode(self, pixels)

    monkeypatch.setattr(type(enc), "encode", crashing_encode)
    with pytest.raises(KeyboardInterrupt):
        embed_images(image_dir, enc, tmp_path / "c", batch_size=2, shard_size=4, workers=0, progress=False)
    # 3 batches ran (6 images): one shard of 4 saved, 2 vectors lost with the process
    assert len(read_cache(tmp_path / "c")) == 4
    # a half-written shard left by the kill is ignored
    (tmp_path / "c" / "shards" / "emb-r00-000001.npy").write_bytes(b"garbage")

    counted: list[int] = []

    def counting_encode(self, pixels):
        counted.append(len(pixels))
        return real_encode(self, pixels)

    monkeypatch.setattr(type(enc), "encode", counting_encode)
    stats = embed_images(image_dir, enc, tmp_path / "c", batch_size=2, shard_size=4, workers=0, progress=False)
    assert stats.skipped == 4 and stats.embedded == N_IMAGES - 4
    assert sum(counted) == N_IMAGES - 4  # nothing stored was computed again
    got = read_cache(tmp_path / "c")
    assert sorted(got.ids) == sorted(ref.ids)
    order = [got.ids.index(i) for i in ref.ids]
    np.testing.assert_allclose(got.vectors[order], ref.vectors, atol=1e-6)
    # a complete cache: a third run embeds nothing
    counted.clear()
    assert embed_images(image_dir, enc, tmp_path / "c", workers=0, progress=False).embedded == 0
    assert counted == []


def test_resume_with_another_encoder_is_refused(image_dir: Path, clip_dir: Path, dino_dir: Path, tmp_path: Path) -> None:
    from rsmmvp_tasks.cli import main

    embed_images(image_dir, str(clip_dir), tmp_path / "c", workers=0, progress=False)
    with pytest.raises(ManifestMismatchError, match="encoder: cache has .*clip.*this run .*dino"):
        embed_images(image_dir, str(dino_dir), tmp_path / "c", workers=0, progress=False)
    with pytest.raises(ManifestMismatchError, match="dtype"):
        embed_images(image_dir, str(clip_dir), tmp_path / "c", workers=0, storage_dtype="float16", progress=False)
    assert main(["embed", str(image_dir), "--encoder", str(dino_dir), "--out", str(tmp_path / "c"),
                 "--workers", "0", "--no-progress"]) == 2


def test_shards_of_several_processes_merge_and_duplicates_are_refused(tmp_path: Path) -> None:
    manifest = {"encoder": "m", "kind": "clip", "dim": 3, "dtype": "float16", "source": "s"}
    w0, w1 = CacheWriter(tmp_path, manifest, rank=0), CacheWriter(tmp_path, manifest, rank=1)
    w1.write_shard(["c"], np.eye(3)[2:])
    w0.write_shard(["a", "b"], np.eye(3)[:2])
    cache = read_cache(tmp_path)
    assert cache.ids == ["a", "b", "c"] and cache.vectors.dtype == np.float16
    np.testing.assert_array_equal(cache.vectors, np.eye(3))
    assert CacheWriter(tmp_path, manifest, rank=0).done == {"a", "b", "c"}
    w1.write_shard(["a"], np.eye(3)[:1])
    with pytest.raises(CacheError, match="stored twice"):
        read_cache(tmp_path)
    with pytest.raises(CacheError, match="no manifest"):
        read_cache(tmp_path / "elsewhere")


def test_kinds_are_extensible_and_checked(image_dir: Path, dino_dir: Path, tmp_path: Path) -> None:
    @register_kind("mean_patch")
    def mean_patch(model, pixel_values):
        return model(pixel_values=pixel_values).last_hidden_state[:, 1:].mean(1)

    try:
        embed_images(image_dir, str(dino_dir), tmp_path / "m", kind="mean_patch", workers=0, progress=False)
        embed_images(image_dir, str(dino_dir), tmp_path / "s", kind="ssl", workers=0, progress=False)
        m, s = read_cache(tmp_path / "m"), read_cache(tmp_path / "s")
        assert m.manifest["kind"] == "mean_patch" and m.vectors.shape == s.vectors.shape
        assert not np.allclose(m.vectors, s.vectors)
    finally:
        KINDS.pop("mean_patch")
    with pytest.raises(EncoderError, match="unknown encoder kind"):
        load_encoder(str(dino_dir), kind="nope")
    with pytest.raises(EncoderError, match="not a CLIP-family"):
        load_encoder(str(dino_dir), kind="clip")


def test_cli_embed_then_mine_end_to_end(image_dir: Path, clip_dir: Path, dino_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from rsmmvp_tasks.cli import main

    for model, name in ((clip_dir, "clip"), (dino_dir, "ssl")):
        assert main(["embed", str(image_dir), "--encoder", str(model), "--out", str(tmp_path / name),
                     "--workers", "0", "--batch-size", "4", "--no-progress"]) == 0
    assert "12 embedded" in capsys.readouterr().out
    # loose thresholds: random tiny models give no CLIP-blind pair at MMVP's 0.95 / 0.6
    assert main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out",
                 str(tmp_path / "pairs"), "--clip-min", "-1", "--ssl-max", "1", "--dup-threshold", "1",
                 "--no-progress"]) == 0
    pairs = pd.read_parquet(tmp_path / "pairs.parquet")
    assert len(pairs) == N_IMAGES // 2  # one pair per image
    assert pairs["rank"].tolist() == list(range(1, len(pairs) + 1))
    assert (pairs["gap"].diff().dropna() <= 1e-9).all()
    assert all(Path(p).is_file() for p in pd.concat([pairs.path_a, pairs.path_b]))
    summary = json.loads((tmp_path / "pairs.json").read_text())
    assert summary["joined_images"] == N_IMAGES and summary["pairs"] == len(pairs)


def test_dataset_source_end_to_end_exports_pair_images(image_dir: Path, clip_dir: Path, dino_dir: Path,
                                                       tmp_path: Path) -> None:
    import datasets
    import pandas as pd

    from rsmmvp_tasks.cli import main
    from rsmmvp_tasks.mining.pairs import read_pairs

    files = list_images(image_dir)
    ds = datasets.Dataset.from_dict({"image": [str(files.path(k)) for k in range(6)]}).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "ds"))
    for model, name in ((clip_dir, "clip"), (dino_dir, "ssl")):
        assert main(["embed", str(tmp_path / "ds"), "--encoder", str(model), "--out", str(tmp_path / name),
                     "--workers", "0", "--no-progress"]) == 0
    assert main(["mine", "--clip", str(tmp_path / "clip"), "--ssl", str(tmp_path / "ssl"), "--out",
                 str(tmp_path / "out" / "pairs"), "--clip-min", "-1", "--ssl-max", "1", "--dup-threshold", "1",
                 "--no-progress"]) == 0
    pairs = pd.read_parquet(tmp_path / "out" / "pairs.parquet")
    assert len(pairs) == 3 and pairs.image_a.str.startswith("row-").all()
    assert pairs.path_a.str.startswith("pairs_images/").all()
    table = read_pairs(tmp_path / "out" / "pairs.parquet")  # what `rsmmvp review` reads: the files resolve
    from PIL import Image

    for rec in table.records:
        for side in "ab":
            k = int(rec[f"image_{side}"].split("-")[1])
            with Image.open(rec[f"path_{side}"]) as exported, Image.open(files.path(k)) as original:
                np.testing.assert_array_equal(np.asarray(exported.convert("RGB")), np.asarray(original.convert("RGB")))


def test_real_tiles_if_present(clip_dir: Path, tmp_path: Path) -> None:
    """Embed the shipped remote-sensing tiles (when the data parquet exists in this checkout)."""
    repo = Path(__file__).resolve().parent.parent
    found = sorted((repo / "task_yamls" / "rsmmvp" / "data").glob("*.parquet"))
    if not found:
        pytest.skip("task_yamls/rsmmvp/data/*.parquet not present")
    stats = embed_images(found[0], str(clip_dir), tmp_path / "c", workers=0, progress=False)
    assert stats.embedded > 0 and stats.failed == 0
    assert len(read_cache(tmp_path / "c")) == stats.total


def test_two_processes_split_the_work(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    """``torchrun --nproc_per_node 2`` (what ``accelerate launch`` does on GPUs): rank shards, merged on read."""
    import subprocess
    import sys

    from conftest import offline_env

    embed_images(image_dir, str(clip_dir), tmp_path / "one", workers=0, progress=False)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "rsmmvp_tasks.cli", "embed",
           str(image_dir), "--encoder", str(clip_dir), "--out", str(tmp_path / "two"), "--workers", "0",
           "--batch-size", "2", "--shard-size", "2", "--no-progress"]
    proc = subprocess.run(cmd, env=offline_env(tmp_path / "hf", OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = sorted(p.name for p in (tmp_path / "two" / "shards").glob("ids-*.json"))
    assert {name[:7] for name in shards} == {"ids-r00", "ids-r01"}
    one, two = read_cache(tmp_path / "one"), read_cache(tmp_path / "two")
    assert sorted(two.ids) == sorted(one.ids)
    order = [two.ids.index(i) for i in one.ids]
    np.testing.assert_allclose(two.vectors[order], one.vectors, atol=1e-6)


def test_distributed_is_off_without_world_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    rank, world, device, _ = embed_mod._distributed("cpu")
    assert (rank, world, device) == (0, 1, "cpu")
