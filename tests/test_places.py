"""Place-aware pairs (the overlap rule, different scenes, provenance), and the whole remote-sensing chain
through the CLI: one 16-bit multi-band scene -> tile -> embed (CLIP, SSL) -> mine --stats -> review -> build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rsfixtures import uint16_scene

from rsmmvp_tasks import ReadSettings, UsageError
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.imagery.tile import TileSpec, read_tile_table, tile_scenes
from rsmmvp_tasks.mining.places import PlaceRule, TilePlaces, add_place_columns
from rsmmvp_tasks.mining.search import Candidates

RGB = ReadSettings.from_options("3,2,1")


def _all_pairs(n: int) -> Candidates:
    i, j = np.triu_indices(n, 1)
    return Candidates(i, j, np.ones(len(i), np.float32), np.zeros(len(i), np.float32))


def _overlaps(a: pd.Series, b: pd.Series) -> bool:
    return abs(a.col_off - b.col_off) < a.width and abs(a.row_off - b.row_off) < a.height


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    root = tmp_path_factory.mktemp("places")
    scenes = [uint16_scene(root / "s1.tif"), uint16_scene(root / "s2.tif", seed=4, origin=(520_000.0, 7_200_000.0))]
    tile_scenes(scenes, root / "tiles", TileSpec(size=64, stride=32, read=RGB), progress=False)
    return root / "tiles", read_tile_table(root / "tiles")


def test_overlap_rule_drops_exactly_the_overlapping_tiles(tiled: tuple[Path, pd.DataFrame]) -> None:
    out, table = tiled
    one = table[table.scene_name == "s1"].reset_index(drop=True)
    cands = _all_pairs(len(one))
    rule = PlaceRule(min_distance_m=0.0, places=TilePlaces(one))
    kept = rule(cands, list(one.tile), list(one.path))
    expected = {(int(a), int(b)) for a, b in zip(cands.i, cands.j, strict=False) if not _overlaps(one.iloc[a], one.iloc[b])}
    assert {(int(a), int(b)) for a, b in zip(kept.i, kept.j, strict=False)} == expected
    assert rule.dropped["overlapping"] == len(cands) - len(expected) > 0
    # 1 km apart: tiles (64 px x 30 m = 1920 m) must have a gap of >= 1000 m, i.e. origins >= 96 px apart on an axis
    far = PlaceRule(min_distance_m=1000.0, places=TilePlaces(one))(cands, list(one.tile), list(one.path))
    for a, b in zip(far.i, far.j, strict=False):
        ra, rb = one.iloc[a], one.iloc[b]
        gap = max(abs(ra.col_off - rb.col_off) - 64, 0) ** 2 + max(abs(ra.row_off - rb.row_off) - 64, 0) ** 2
        assert gap ** 0.5 * 30 >= 1000


def test_different_scenes_and_unknown_images(tiled: tuple[Path, pd.DataFrame]) -> None:
    out, table = tiled
    cands = _all_pairs(len(table))
    rule = PlaceRule(different_scenes=True, places=TilePlaces(table))
    kept = rule(cands, list(table.tile), list(table.path))
    assert len(kept) and all(table.scene.iloc[a] != table.scene.iloc[b] for a, b in zip(kept.i, kept.j, strict=False))
    paths = list(table.path)
    paths[0] = "/elsewhere/not-a-tile.png"  # an image the table does not know: its pairs cannot be checked
    kept = PlaceRule(min_distance_m=0.0, places=TilePlaces(table))(cands, list(table.tile), paths)
    assert 0 not in set(kept.i.tolist()) | set(kept.j.tolist())
    with pytest.raises(UsageError, match="--tiles"):
        PlaceRule(min_distance_m=10.0).check()


def test_place_columns_carry_both_footprints(tiled: tuple[Path, pd.DataFrame]) -> None:
    out, table = tiled
    a, b = table.iloc[0], table.iloc[len(table) - 1]
    frame = pd.DataFrame({"path_a": [a.path], "path_b": [b.path]})
    add_place_columns(frame, TilePlaces(table))
    geo_a, geo_b = json.loads(frame.geo_a[0]), json.loads(frame.geo_b[0])
    assert geo_a["bounds"] == [a.left, a.bottom, a.right, a.top] and geo_a["crs"] == "EPSG:32721"
    assert geo_b["window"] == [int(b.col_off), int(b.row_off), 64, 64] and geo_b["scene"] == b.scene
    assert geo_a["lat"] == pytest.approx(a.lat) and geo_a["bands"] == "3,2,1" and len(geo_a["limits"]) == 3
    dx = max(b.left - a.right, a.left - b.right, 0.0)
    dy = max(b.bottom - a.top, a.bottom - b.top, 0.0)
    # a ground distance: the grid gap over UTM's scale there (0.9996 near the central meridian)
    grid = float(np.hypot(dx, dy))
    assert grid < frame.distance_m[0] <= grid / 0.9996 + 0.05 and frame.distance_m[0] > 10_000


def test_rs_chain_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's chain, from one 16-bit 4-band scene on disk to a dataset that carries CRS and bounds."""
    from tinymodels import build_tiny_clip, build_tiny_dinov2

    scene = uint16_scene(tmp_path / "scene.tif", h=320, w=384)
    tiles, caches = tmp_path / "tiles", tmp_path / "cache"
    assert main(["tile", str(scene), "--out", str(tiles), "--size", "64", "--stride", "32", "--bands", "3,2,1",
                 "--no-progress"]) == 0
    table = read_tile_table(tiles)
    assert len(table) == 11 * 9
    clip_dir, ssl_dir = build_tiny_clip(tmp_path / "clip"), build_tiny_dinov2(tmp_path / "dino")
    for name, model in (("clip", clip_dir), ("ssl", ssl_dir)):
        assert main(["embed", str(tiles), "--encoder", str(model), "--out", str(caches / name), "--workers", "0",
                     "--no-progress"]) == 0
    manifest = json.loads((caches / "clip" / "manifest.json").read_text())
    assert manifest["read"] == {"bands": None, "stretch": "auto", "nodata": None}  # tiles are 8-bit already
    capsys.readouterr()
    pairs = tmp_path / "pairs"
    assert main(["mine", "--clip", str(caches / "clip"), "--ssl", str(caches / "ssl"), "--out", str(pairs),
                 "--clip-min", "0.5", "--ssl-max", "0.999", "--dup-threshold", "0.999", "--min-distance-m", "0",
                 "--stats", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "clip_min \\ ssl_max" in printed and "pairs_stats.png" in printed
    assert (tmp_path / "pairs_stats.png").stat().st_size > 10_000
    mined = pd.read_parquet(tmp_path / "pairs.parquet")
    assert len(mined) >= 10
    by_path = table.set_index("path")
    for row in mined.itertuples():
        assert not _overlaps(by_path.loc[row.path_a], by_path.loc[row.path_b])  # --min-distance-m 0: no overlap
        assert json.loads(row.geo_a)["crs"] == "EPSG:32721" and row.distance_m >= 0
    summary = json.loads((tmp_path / "pairs.json").read_text())
    assert summary["place_rule"]["dropped"]["overlapping"] > 0

    assert main(["review", str(tmp_path / "pairs.parquet"), "--out", str(tmp_path / "review")]) == 0
    page = (tmp_path / "review" / "index.html").read_text(encoding="utf-8")
    first = json.loads(mined.geo_a[0])
    assert f"lat {first['lat']:.5f}, lon {first['lon']:.5f}" in page and "scene.tif window c" in page

    pairs_sha = __import__("hashlib").sha256((tmp_path / "pairs.parquet").read_bytes()).hexdigest()
    annotations = {"pairs_sha256": pairs_sha, "annotations": [
        {"pair_rank": int(r.rank), "image_a": r.image_a, "image_b": r.image_b, "question": "Is there a river?",
         "options": ["Yes", "No"], "answer_a": "A", "answer_b": "B", "pattern": "presence", "skip": False}
        for r in mined.head(3).itertuples()]}
    (tmp_path / "ann.json").write_text(json.dumps(annotations))
    assert main(["build", "--pairs", str(tmp_path / "pairs.parquet"), "--annotations", str(tmp_path / "ann.json"),
                 "--out", str(tmp_path / "ds")]) == 0
    built = pd.read_parquet(tmp_path / "ds" / "data" / "test-00000-of-00001.parquet")
    assert len(built) == 6
    for cell, source in zip(built.imagery, built.source, strict=False):
        geo = json.loads(cell)
        tile = by_path.loc[str((tiles / source).resolve())]
        assert geo["crs"] == "EPSG:32721" and geo["bounds"] == [tile.left, tile.bottom, tile.right, tile.top]
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert "## Places" in card and "EPSG:32721" in card


def test_embed_reads_a_16bit_geotiff_with_bands_and_records_them(tmp_path: Path) -> None:
    """The issue's bug: a 16-bit scene embedded directly is stretched (not white) and the settings are recorded."""
    from tinymodels import build_tiny_clip

    from rsmmvp_tasks.mining.images import open_image

    scene = uint16_scene(tmp_path / "img" / "scene.tif", h=96, w=96)
    px = np.asarray(open_image(scene, ReadSettings.from_options("3,2,1")))
    assert (px == 255).mean() < 0.05 and px[:, 20:].mean() > 60
    model = build_tiny_clip(tmp_path / "clip")
    assert main(["embed", str(tmp_path / "img"), "--encoder", str(model), "--out", str(tmp_path / "c"),
                 "--workers", "0", "--bands", "3,2,1", "--stretch", "1,99", "--no-progress"]) == 0
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert manifest["read"] == {"bands": [3, 2, 1], "stretch": "1,99", "nodata": None}
    assert main(["embed", str(tmp_path / "img"), "--encoder", str(model), "--out", str(tmp_path / "c"),
                 "--workers", "0", "--bands", "4,3,2", "--no-progress"]) == 2  # other settings: refused


def test_place_rules_on_tiles_of_a_south_up_raster(tmp_path: Path) -> None:
    """Positive pixel height (rows run south to north): footprints are sorted, the rules work, no crash."""
    import rasterio
    from affine import Affine

    scene = tmp_path / "south.tif"
    array = np.random.default_rng(0).integers(500, 9000, (3, 96, 128), dtype=np.uint16)
    with rasterio.open(scene, "w", driver="GTiff", width=128, height=96, count=3, dtype="uint16", crs="EPSG:32721",
                       transform=Affine(30.0, 0.0, 500_000.0, 0.0, 30.0, 7_200_000.0)) as ds:
        ds.write(array)
    tile_scenes([scene], tmp_path / "tiles", TileSpec(size=32, stride=16, read=RGB), progress=False)
    table = read_tile_table(tmp_path / "tiles")
    cands = _all_pairs(len(table))
    rule = PlaceRule(min_distance_m=0.0, places=TilePlaces(table))
    kept = rule(cands, list(table.tile), list(table.path))
    expected = {(int(a), int(b)) for a, b in zip(cands.i, cands.j, strict=False) if not _overlaps(table.iloc[a], table.iloc[b])}
    assert {(int(a), int(b)) for a, b in zip(kept.i, kept.j, strict=False)} == expected and rule.dropped["overlapping"] > 0
    frame = pd.DataFrame({"path_a": [table.path.iloc[0]], "path_b": [table.path.iloc[len(table) - 1]]})
    add_place_columns(frame, TilePlaces(table))
    bounds = json.loads(frame.geo_a[0])["bounds"]
    assert bounds[1] < bounds[3] and frame.distance_m[0] > 0
    # a frame with the old, unsorted bounds (bottom > top) is tolerated too
    old = table.copy()
    old["bottom"], old["top"] = table["top"], table["bottom"]
    again = PlaceRule(min_distance_m=0.0, places=TilePlaces(old))(cands, list(old.tile), list(old.path))
    assert len(again) == len(kept)
