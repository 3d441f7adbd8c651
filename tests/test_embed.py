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


@pytest.mark.e2e
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


# ---- issue 9 (hardening) and the error model ----------------------------------------------------


def test_image_replaced_in_place_is_embedded_again(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    """Issue 9.9: resuming re-embeds a file whose content changed; its new vector replaces the old one."""
    import shutil

    from PIL import Image

    root = tmp_path / "imgs"
    shutil.copytree(image_dir, root)
    enc = load_encoder(str(clip_dir))
    embed_images(root, enc, tmp_path / "c", workers=0, progress=False)
    before = read_cache(tmp_path / "c")
    target = root / "tile01.jpg"
    old = target.stat()
    Image.new("RGB", (52, 40), (250, 250, 0)).save(target)  # another picture under the same name
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns + 10**9))  # a later mtime, whatever the clock granularity
    stats = embed_images(root, enc, tmp_path / "c", workers=0, progress=False)
    assert (stats.embedded, stats.changed, stats.skipped) == (1, 1, N_IMAGES - 1)
    after = read_cache(tmp_path / "c")
    assert sorted(after.ids) == sorted(before.ids)  # replaced, not duplicated
    fresh = tmp_path / "fresh"
    embed_images(root, enc, fresh, workers=0, progress=False)
    ref = read_cache(fresh)
    k_after, k_ref, k_before = (c.ids.index("tile01.jpg") for c in (after, ref, before))
    np.testing.assert_allclose(after.vectors[k_after], ref.vectors[k_ref], atol=1e-6)
    assert not np.allclose(after.vectors[k_after], before.vectors[k_before], atol=1e-3)
    # unchanged content: nothing to do
    assert embed_images(root, enc, tmp_path / "c", workers=0, progress=False).embedded == 0
    # an image that became unreadable loses its stale vector
    target.write_bytes(b"not an image any more")
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns + 2 * 10**9))
    stats = embed_images(root, enc, tmp_path / "c", workers=0, progress=False)
    assert (stats.embedded, stats.failed) == (0, 1)
    assert "tile01.jpg" not in read_cache(tmp_path / "c").ids


def _tiny_cache(path: Path, n: int = 4, dim: int = 3) -> Path:
    ids = [f"img{k}" for k in range(n)]
    vectors = np.eye(max(n, dim))[:n, :dim] if n <= dim else np.tile(np.eye(dim), (n // dim + 1, 1))[:n]
    CacheWriter(path, {"encoder": "m", "kind": "clip", "dim": dim, "dtype": "float32", "source": "s"}).write_shard(
        ids, vectors, [f"/x/{i}.png" for i in ids])
    return path


def test_vectors_that_are_not_unit_length_are_refused(tmp_path: Path) -> None:
    """Issue 9.10: a tampered (or foreign) cache is refused on load, naming the cache and an example id."""
    cache = _tiny_cache(tmp_path / "c")
    npy = next((cache / "shards").glob("emb-*.npy"))
    np.save(npy, np.load(npy) * 3.0)  # cosines computed from these would be 9x too large
    with pytest.raises(CacheError, match=r"emb-r00-000000\.npy: 4 of 4 vectors are not unit length \(e\.g\. 'img0' has norm 3"):
        read_cache(cache)
    writer = CacheWriter(tmp_path / "w", {"encoder": "m", "kind": "clip", "dim": 3, "dtype": "float32", "source": "s"})
    with pytest.raises(CacheError, match="not unit length"):
        writer.write_shard(["a"], np.array([[0.5, 0.5, 0.0]]))


def test_damaged_caches_are_reported_with_their_file(tmp_path: Path) -> None:
    """Issue 9.17: an ids file cut short names that file; a manifest without ``dim`` is a CacheError, not a KeyError."""
    import shutil

    cache = _tiny_cache(tmp_path / "cut")
    ids_file = next((cache / "shards").glob("ids-*.json"))
    ids_file.write_text(ids_file.read_text()[:15])
    with pytest.raises(CacheError, match=r"ids-r00-000000\.json: unreadable shard index, cut short"):
        read_cache(cache)
    with pytest.raises(CacheError, match=r"ids-r00-000000\.json"):  # resuming into it says the same
        CacheWriter(cache, json.loads((cache / "manifest.json").read_text()))
    nodim = _tiny_cache(tmp_path / "nodim")
    manifest = json.loads((nodim / "manifest.json").read_text())
    del manifest["dim"]
    (nodim / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CacheError, match=r"manifest\.json: the manifest lacks \['dim'\]"):
        read_cache(nodim)
    (nodim / "manifest.json").write_text("{")
    with pytest.raises(CacheError, match="unreadable manifest"):
        read_cache(nodim)
    shutil.rmtree(nodim / "shards")
    with pytest.raises(CacheError, match="unreadable manifest"):
        read_cache(nodim)


@pytest.mark.e2e
def test_a_second_writer_is_refused_and_told_who_holds_the_cache(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    """Issue 9.13: while a run holds the cache (here: this test process), an `rsmmvp embed` process into it
    exits 2 naming the holder's pid and host, and writes nothing."""
    import socket
    import subprocess
    import sys

    from conftest import offline_env

    from rsmmvp_tasks.mining.lock import cache_lock

    cmd = [sys.executable, "-m", "rsmmvp_tasks.cli", "embed", str(image_dir), "--encoder", str(clip_dir),
           "--out", str(tmp_path / "c"), "--workers", "0", "--no-progress"]
    env = offline_env(tmp_path / "hf", OMP_NUM_THREADS="1")
    with cache_lock(tmp_path / "c"):
        proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in proc.stderr
    assert "being written by another `rsmmvp embed`" in proc.stderr
    assert not list((tmp_path / "c").glob("shards/*"))
    # the lock is released with the holder: the same command now runs
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(read_cache(tmp_path / "c")) == N_IMAGES


@pytest.mark.e2e
def test_two_embed_runs_at_once_leave_a_consistent_cache(clip_dir: Path, tmp_path: Path) -> None:
    """Issue 9.13 as users hit it: two `rsmmvp embed` processes started together into one cache (shard sizes
    differ, so unlocked writers would clobber each other's shards). Either the second is refused (exit 2,
    holder named) or it starts after the first and finds everything done; never duplicate or lost ids."""
    import subprocess
    import sys

    from conftest import offline_env
    from PIL import Image

    images = tmp_path / "imgs"  # enough images for the two runs to overlap
    images.mkdir()
    for i in range(150):
        Image.new("RGB", (40 + i % 50, 40), (i, 100, 200 - i)).save(images / f"{i:03d}.png")

    def cmd(shard_size: int) -> list[str]:
        return [sys.executable, "-m", "rsmmvp_tasks.cli", "embed", str(images), "--encoder", str(clip_dir),
                "--out", str(tmp_path / "c"), "--workers", "0", "--batch-size", "1", "--shard-size", str(shard_size),
                "--no-progress"]

    env = offline_env(tmp_path / "hf", OMP_NUM_THREADS="1")
    procs = [subprocess.Popen(cmd(size), env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for size in (3, 5)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    for code, err in results:
        assert code in (0, 2), err[-3000:]
        if code == 2:
            assert "being written by another `rsmmvp embed` (pid" in err and "Traceback" not in err
    cache = read_cache(tmp_path / "c")  # refuses ids stored twice by one generation
    assert sorted(cache.ids) == sorted(list_images(images).ids)


@pytest.mark.e2e
def test_hub_names_not_loadable_offline_are_explained(image_dir: Path, clip_dir: Path, tmp_path: Path) -> None:
    """Issue 8.3 / 9.17: a dataset or a model named by hub id, not in the local cache, offline: one line, exit 2.

    In a fresh process, as a user runs it: huggingface_hub reads offline mode when it is imported.
    """
    import subprocess
    import sys

    from conftest import offline_env

    def run(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "rsmmvp_tasks.cli", "embed", *args, "--out", str(tmp_path / "c"),
                               "--workers", "0", "--no-progress"], env=offline_env(tmp_path / "hf"), cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
        return proc.stderr

    err = run("hf:nobody/nothing", "--encoder", str(clip_dir))
    assert "hf:nobody/nothing: cannot load 'nobody/nothing'" in err and "not in the local Hugging Face cache" in err
    assert "offline mode is on" in err and "local folder" in err
    err = run(str(image_dir), "--encoder", "openai/clip-vit-large-patch14")
    assert "--encoder openai/clip-vit-large-patch14: cannot load" in err and "offline mode is on" in err
    assert "pass a local folder" in err


def test_embed_user_errors_are_one_line_and_exit_2(image_dir: Path, clip_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 8.3 / 9.17: unknown encoders and kinds, a missing GPU, bad sizes."""
    import torch

    from rsmmvp_tasks.cli import main

    def run(*args: str) -> tuple[int, str]:
        code = main(["embed", *args, "--out", str(tmp_path / "c"), "--workers", "0", "--no-progress"])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, err

    code, err = run(str(image_dir), "--encoder", str(tmp_path))  # a folder, but no model in it
    assert code == 2 and "not a saved transformers model" in err
    code, err = run(str(image_dir), "--encoder", str(tmp_path / "absent" / "model"))
    assert code == 2 and "no such folder" in err
    code, err = run(str(image_dir), "--encoder", str(clip_dir), "--kind", "nope")
    assert code == 2 and "unknown encoder kind 'nope'" in err
    if not torch.cuda.is_available():
        code, err = run(str(image_dir), "--encoder", str(clip_dir), "--device", "cuda")
        assert code == 2 and "--device cuda: CUDA is not available here" in err and "available: cpu" in err
    code, err = run(str(image_dir), "--encoder", str(clip_dir), "--device", "gpu0")
    assert code == 2 and "'gpu0' is not a torch device" in err
    assert not list((tmp_path / "c").glob("shards/*"))
    for bad in (["--batch-size", "0"], ["--shard-size", "-1"], ["--workers", "-2"]):
        with pytest.raises(SystemExit) as exit_:
            main(["embed", str(image_dir), "--encoder", str(clip_dir), "--out", str(tmp_path / "c"), *bad])
        assert exit_.value.code == 2 and bad[0] in capsys.readouterr().err
