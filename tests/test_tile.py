"""``rsmmvp tile``: grids and bounds against rasterio's window transforms, one stretch per scene,
16-bit tiles neither saturated nor black, resuming, corrupt scenes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rsfixtures import LANDSAT_CROP, uint16_scene

from rsmmvp_tasks import UsageError
from rsmmvp_tasks.cli import main
from rsmmvp_tasks.imagery.read import ReadSettings, read_array, to_uint8
from rsmmvp_tasks.imagery.tile import (
    SceneError,
    TileSpec,
    read_tile_table,
    tile_scenes,
    tile_windows,
)

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
    assert sorted(zip(table.col_off, table.row_off, strict=False)) == sorted((c, r) for c, r, _, _ in tile_windows(360, 300, 64))
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
    report = tile_scenes([LANDSAT_CROP], tmp_path / "out",
                         TileSpec(size=128, read=ReadSettings.from_options("3,2,1", None, 0)),
                         progress=False)
    table = read_tile_table(tmp_path / "out")
    assert report.written == len(table) > 20 and report.skipped_nodata > 0  # the scene's fill corners are skipped
    assert table.crs.eq("EPSG:32621").all() and table.lon.between(-56, -54).all() and table.lat.between(-26, -24).all()
    for p in table.path:
        px = np.asarray(Image.open(p))
        valid = px.any(axis=2)
        assert (px[valid] == 255).mean() < 0.2 and 20 < px[valid].mean() < 230, p


# ---------------------------------------------------------------- one folder, many runs; south-up; no tile


def _south_up(path: Path, seed: int = 0) -> Path:
    """A 3-band uint16 scene whose rows run south to north (positive pixel height, as some GDAL outputs)."""
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(seed)
    array = rng.integers(500, 9000, (3, 128, 160), dtype=np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=160, height=128, count=3, dtype="uint16", crs="EPSG:32721",
                       transform=Affine(30.0, 0.0, 500_000.0, 0.0, 30.0, 7_200_000.0)) as ds:
        ds.write(array)
    return path


def test_south_up_footprints_are_sorted_at_the_source_and_old_tables_are_read_sorted(tmp_path: Path) -> None:
    import rasterio
    from rasterio.windows import Window, bounds

    scene = _south_up(tmp_path / "south.tif")
    tile_scenes([scene], tmp_path / "out", TileSpec(size=32, read=RGB), progress=False)
    table = read_tile_table(tmp_path / "out")
    raw = pd.read_parquet(tmp_path / "out" / "tiles.parquet")
    assert len(raw) == 20 and (raw.bottom < raw.top).all() and (raw.left < raw.right).all()
    with rasterio.open(scene) as ds:
        for row in raw.itertuples():
            left, y1, right, y2 = bounds(Window(row.col_off, row.row_off, 32, 32), ds.transform)
            assert (row.left, row.bottom, row.right, row.top) == (left, min(y1, y2), right, max(y1, y2))
    # a table written before the fix (bottom > top) is read sorted
    old = raw.copy()
    old["bottom"], old["top"] = raw["top"], raw["bottom"]
    old.to_parquet(tmp_path / "out" / "tiles.parquet", index=False)
    again = read_tile_table(tmp_path / "out")
    assert (again.bottom < again.top).all() and list(again.bottom) == list(table.bottom)


def test_two_scenes_with_one_file_name_into_one_folder_keep_their_own_tiles(tmp_path: Path) -> None:
    """a/ortho.tif then b/ortho.tif into one --out: both kept, each tile shows its own scene's pixels."""
    import rasterio
    from rasterio.windows import Window

    a = uint16_scene(tmp_path / "a" / "ortho.tif", h=128, w=128)
    b = uint16_scene(tmp_path / "b" / "ortho.tif", h=128, w=192, seed=7, origin=(600_000.0, 7_100_000.0))
    out = tmp_path / "T"
    assert main(["tile", str(a), "--out", str(out), "--size", "64", "--bands", "3,2,1", "--no-progress"]) == 0
    assert main(["tile", str(b), "--out", str(out), "--size", "64", "--bands", "3,2,1", "--no-progress"]) == 0
    table = read_tile_table(out)
    assert sorted(table.scene.unique()) == sorted([str(a.resolve()), str(b.resolve())])
    assert len(table) == 4 + 6 and table.tile.is_unique and table.scene_name.nunique() == 2
    meta = json.loads((out / "tiles.json").read_text())
    for row in table.itertuples():
        with rasterio.open(row.scene) as ds:
            left, _b, _r, top = rasterio.windows.bounds(Window(row.col_off, row.row_off, 64, 64), ds.transform)
            assert (row.left, row.top) == (left, top)
            limits = [tuple(x) for x in meta["scenes"][row.scene]["limits"]]
        data = read_array(row.scene, RGB, window=Window(row.col_off, row.row_off, 64, 64))
        assert np.array_equal(np.asarray(Image.open(row.path)), to_uint8(data, limits)), row.tile
    # the same scene again: resumed, nothing rewritten; a scene file changed since: refused
    assert main(["tile", str(a), "--out", str(out), "--size", "64", "--bands", "3,2,1", "--no-progress"]) == 0
    assert len(read_tile_table(out)) == 10
    uint16_scene(tmp_path / "a" / "ortho.tif", h=128, w=128, seed=3)
    import os
    os.utime(a, ns=(1, 1))
    with pytest.raises(Exception, match="changed .* since it was tiled"):
        tile_scenes([a], out, TileSpec(size=64, read=RGB), progress=False)


def test_a_second_writer_is_refused_naming_the_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import subprocess
    import sys
    import time

    scene = uint16_scene(tmp_path / "scene.tif", h=64, w=64)
    out = tmp_path / "T"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from rsmmvp_tasks.mining.lock import cache_lock\n"
        f"with cache_lock({str(out)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code = main(["tile", str(scene), "--out", str(out), "--size", "32", "--bands", "3,2,1", "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "being written by another `rsmmvp tile`" in err
        assert f"pid {holder.pid}" in err
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert main(["tile", str(scene), "--out", str(out), "--size", "32", "--bands", "3,2,1", "--no-progress"]) == 0


def test_a_killed_run_leaves_a_readable_table_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are appended in parts after their PNGs; a run killed before the merge is read and resumed."""
    from rsmmvp_tasks.imagery import tile as tile_mod

    scene = uint16_scene(tmp_path / "scene.tif")  # 360 x 300: 11 x 9 tiles of 32 px (first column mostly nodata)
    spec = TileSpec(size=32, read=RGB)
    full = tile_scenes([scene], tmp_path / "ref", spec, progress=False)
    monkeypatch.setattr(tile_mod, "FLUSH_EVERY", 7)
    real_save, saved = tile_mod._save_png, []

    def dying_save(path: Path, rgb: object) -> None:
        if len(saved) == 40:
            raise SystemExit("killed")
        real_save(path, rgb)
        saved.append(path)

    monkeypatch.setattr(tile_mod, "_save_png", dying_save)
    monkeypatch.setattr(tile_mod._Table, "merge", lambda self: None)  # killed: no merge at the end
    with pytest.raises(SystemExit):
        tile_scenes([scene], tmp_path / "out", spec, progress=False)
    partial = read_tile_table(tmp_path / "out")
    assert not (tmp_path / "out" / "tiles.parquet").exists() and 35 <= len(partial) <= 40
    from rsmmvp_tasks.mining.places import TilePlaces, find_tile_table

    found = find_tile_table(None, {"source_kind": "folder", "root": str(tmp_path / "out")})
    assert found is not None and len(TilePlaces.load(found).rows) == len(partial)  # `mine` finds it too
    monkeypatch.undo()
    resumed = tile_scenes([scene], tmp_path / "out", spec, progress=False)
    assert resumed.already == len(partial) and resumed.written == full.written - len(partial)
    table = read_tile_table(tmp_path / "out")
    assert len(table) == full.written and table.tile.is_unique
    assert not (tmp_path / "out" / ".tiles-parts").exists()
    assert list(pd.read_csv(tmp_path / "out" / "tiles.csv").tile) == list(table.tile)


def test_no_tile_exits_1_and_the_band_refusal_is_said_once_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    scene = uint16_scene(tmp_path / "scene.tif")  # 360 x 300, bands named B2, B3, B4, B5
    code = main(["tile", str(scene), "--out", str(tmp_path / "big"), "--size", "1000", "--bands", "3,2,1",
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "no tile written" in err and "smaller than a 1000 px tile" in err
    assert err.count("1000 px") == 1
    code = main(["tile", str(scene), "--out", str(tmp_path / "four"), "--no-progress"])
    err = capsys.readouterr().err
    said = err + caplog.text
    assert code == 2 and said.count("4 bands") == 1 and said.count(str(scene)) == 1
    assert "--bands B4,B3,B2" in err and "--bands 4,3,2" not in err
    two = uint16_scene(tmp_path / "two.tif", h=64, w=64)
    caplog.clear()
    code = main(["tile", str(scene), str(two), "--out", str(tmp_path / "both"), "--no-progress"])
    said = capsys.readouterr().err + caplog.text
    assert code == 2 and said.count("4 bands") == 2  # one warning per scene, a summary that does not repeat them


def test_table_csv_and_window_bounds_match_the_shared_writers(tmp_path: Path) -> None:
    """The fast CSV writer is byte for byte fileio.write_csv_safe (formula cells neutralised); the
    vectorised bounds are rasterio's for north-up and south-up transforms, and the box of the four
    corners for a rotated one (rasterio's two-corner bounds would cut the footprint)."""
    from affine import Affine
    from rasterio.windows import Window, bounds

    from rsmmvp_tasks.fileio import write_csv_safe
    from rsmmvp_tasks.imagery.read import window_boxes
    from rsmmvp_tasks.imagery.tile import _write_csv

    frame = pd.DataFrame({"tile": ["=HYPERLINK(\"x\").png", "b.png", "-0.5"], "n": [1, 2, 3],
                          "x": [0.1, float("nan"), 1e20], "crs": [None, "EPSG:4326", "+proj=utm"]})
    write_csv_safe(tmp_path / "a.csv", frame)
    _write_csv(tmp_path / "b.csv", frame)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    windows = [(0, 0, 32, 32), (64, 32, 32, 16), (5, 7, 3, 9)]
    for transform in (Affine(30, 0, 5e5, 0, -30, 7.2e6), Affine(30, 0, 5e5, 0, 30, 7.2e6),
                      Affine(20, 5, 1e3, -4, -25, 2e3)):
        got = window_boxes(transform, windows)
        for k, (c, r, w, h) in enumerate(windows):
            if transform.b == 0 and transform.d == 0:
                left, b1, right, b2 = bounds(Window(c, r, w, h), transform)
            else:
                xs, ys = zip(*(transform * corner for corner in ((c, r), (c + w, r), (c, r + h), (c + w, r + h))), strict=False)
                left, b1, right, b2 = min(xs), min(ys), max(xs), max(ys)
            want = (min(left, right), min(b1, b2), max(left, right), max(b1, b2))
            assert tuple(got[k]) == pytest.approx(want, abs=1e-6)


def test_a_scene_never_takes_a_name_used_in_the_folder(tmp_path: Path) -> None:
    """A scene called tiles.parquet.tif, or one whose stem is a folder already there, gets a hashed name."""
    out = tmp_path / "T"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "mine.txt").write_text("keep")
    first = uint16_scene(tmp_path / "tiles.parquet.tif", h=64, w=64)
    second = uint16_scene(tmp_path / "notes.tif", h=64, w=64, seed=2)
    tile_scenes([first, second], out, TileSpec(size=32, read=RGB), progress=False)
    table = read_tile_table(out)
    assert table.scene.nunique() == 2 and not {"tiles.parquet", "notes"} & set(table.scene_name)
    assert (out / "tiles.parquet").is_file() and (out / "notes" / "mine.txt").read_text() == "keep"
