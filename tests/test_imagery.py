"""The one image-reading path (rsmmvp_tasks.imagery.read) and footprints (rsmmvp_tasks.imagery.geo)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rsfixtures import LANDSAT_CROP, UTM21S, float_scene, uint16_scene, write_scene

from rsmmvp_tasks.imagery.geo import Footprint, center_lonlat, distance_m, pair_separation, separation
from rsmmvp_tasks.imagery.read import ImageryError, ReadSettings, Stretch, parse_bands, read_array, read_image


def _pixels(result) -> np.ndarray:  # noqa: ANN001
    return np.asarray(result.image)


def test_single_band_uint16_is_stretched_not_white(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The issue's case: values 0-12000 in a uint16 GeoTIFF were read 97.9% white."""
    rng = np.random.default_rng(0)
    values = rng.integers(0, 12001, (1, 120, 150)).astype(np.uint16)
    path = write_scene(tmp_path / "dn.tif", values)
    from rsmmvp_tasks.imagery import read as read_module

    read_module._announced.discard("uint16")
    with caplog.at_level(logging.INFO, logger="rsmmvp_tasks.imagery.read"):
        first = read_image(path)
        read_image(path)
    px = _pixels(first)
    assert first.image.mode == "RGB" and px.shape == (120, 150, 3)
    assert (px == 255).mean() < 0.05 and (px == 0).mean() < 0.05  # 2-98 stretch: ~2% at each end
    assert 100 < px.mean() < 155
    lo, hi = np.percentile(values, [2, 98])
    assert first.limits == [(float(lo), float(hi))] and first.stretch == "2,98" and first.dtype == "uint16"
    said = [r.getMessage() for r in caplog.records if "stretching" in r.getMessage()]
    assert len(said) == 1 and "uint16" in said[0] and "2-98 percentile" in said[0]


def test_multiband_uint16_bands_by_index_or_name_and_nodata(tmp_path: Path) -> None:
    path = uint16_scene(tmp_path / "s.tif")  # bands B2 B3 B4 B5, nodata 0 in the 20 left columns
    with pytest.raises(ImageryError, match=r"4 bands .*none marked red, green and blue.*--bands"):
        read_image(path)
    by_index = read_image(path, ReadSettings.from_options("3,2,1"))
    by_name = read_image(path, ReadSettings.from_options("b4,B3,B2"))
    assert by_index.bands == by_name.bands == (3, 2, 1)
    assert np.array_equal(_pixels(by_index), _pixels(by_name))
    px = _pixels(by_index)
    assert (px[:, :20] == 0).all()  # nodata drawn black
    assert px[:, 20:].mean() > 60 and (px[:, 20:] == 255).mean() < 0.05
    import rasterio

    with rasterio.open(path) as ds:
        red = ds.read(3)
    assert by_index.limits[0] == tuple(float(v) for v in np.percentile(red[:, 20:], [2, 98]))  # stats skip nodata
    assert by_index.valid_fraction == pytest.approx(1 - 20 / 360)
    with pytest.raises(ImageryError, match=r"no band named 'nir'.*1=B2, 2=B3, 3=B4, 4=B5"):
        read_image(path, ReadSettings.from_options("nir"))
    with pytest.raises(ImageryError, match="has 4 band"):
        read_image(path, ReadSettings.from_options("5,3,2"))


def test_float_scene_nan_is_nodata_and_range_stretch(tmp_path: Path) -> None:
    path = float_scene(tmp_path / "refl.tif")
    auto = read_image(path)
    px = _pixels(auto)
    assert (px[50:80, 60:100] == 0).all()
    assert auto.valid_fraction == pytest.approx(1 - 30 * 40 / (200 * 240))
    assert 40 < px.mean() < 215
    fixed = read_image(path, ReadSettings(stretch=Stretch.parse("range:0,0.6")))
    assert fixed.limits == [(0.0, 0.6)] and fixed.stretch == "range:0,0.6"
    data = read_array(path)
    expected = np.clip(np.rint(np.nan_to_num(data.array[0]) / 0.6 * 255), 0, 255).astype(np.uint8)
    expected[~data.valid] = 0
    assert np.array_equal(_pixels(fixed)[..., 0], expected)


def test_stretch_none_refuses_values_beyond_8_bits(tmp_path: Path) -> None:
    big = write_scene(tmp_path / "big.tif", np.full((1, 8, 8), 4000, np.uint16))
    with pytest.raises(ImageryError, match=r"uint16 values from 4000 to 4000 do not fit 8 bits"):
        read_image(big, ReadSettings(stretch=Stretch.parse("none")))
    small = write_scene(tmp_path / "small.tif", np.arange(64, dtype=np.uint16).reshape(1, 8, 8) * 3)
    out = read_image(small, ReadSettings(stretch=Stretch.parse("none")))
    assert np.array_equal(_pixels(out)[..., 1], (np.arange(64) * 3).reshape(8, 8))


def test_eight_bit_images_are_left_as_they_are(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (40, 50, 3)).astype(np.uint8)
    png = tmp_path / "a.png"
    Image.fromarray(rgb).save(png)
    assert np.array_equal(_pixels(read_image(png)), rgb)
    assert np.array_equal(_pixels(read_image(png.read_bytes())), rgb)  # bytes take the same path
    tif = write_scene(tmp_path / "rgb.tif", np.moveaxis(rgb, -1, 0).copy(), photometric="RGB")
    result = read_image(tif)
    assert result.bands == (1, 2, 3) and result.stretch == "none" and np.array_equal(_pixels(result), rgb)
    assert np.array_equal(_pixels(read_image(tif.read_bytes())), rgb)  # TIFF bytes go to rasterio


def test_pil_16bit_png_and_transparency(tmp_path: Path) -> None:
    grey = (np.arange(100 * 100, dtype=np.uint16).reshape(100, 100) % 4000) + 100
    path = tmp_path / "g16.png"
    Image.fromarray(grey).save(path)
    result = read_image(path)
    assert result.dtype == "uint16" and result.stretch == "2,98"
    assert (_pixels(result) == 255).mean() < 0.05
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:5, ..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    out = _pixels(read_image(tmp_path / "t.png"))
    assert (out[:5] == 200).all() and (out[5:] == 0).all()


def test_window_metadata_matches_rasterio(tmp_path: Path) -> None:
    import rasterio
    from rasterio.windows import Window, bounds

    path = uint16_scene(tmp_path / "s.tif")
    window = Window(64, 32, 100, 80)
    result = read_image(path, ReadSettings.from_options("3,2,1"), window=window)
    with rasterio.open(path) as ds:
        assert result.transform == tuple(ds.window_transform(window))[:6]
        assert result.bounds == tuple(bounds(window, ds.transform))
    assert result.crs == UTM21S and result.image.size == (100, 80)


def test_unreadable_file_and_bad_options_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 50)
    with pytest.raises(ImageryError, match="broken.tif: not a readable raster"):
        read_image(bad)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with pytest.raises(ImageryError, match="junk.png: not a readable image"):
        read_image(junk)
    with pytest.raises(ImageryError, match="image not found"):
        read_image(tmp_path / "missing.tif")
    with pytest.raises(ImageryError, match="three bands"):
        parse_bands("4,3")
    with pytest.raises(ImageryError, match="start at 1"):
        parse_bands("0,1,2")
    for text in ("98,2", "2,101", "range:5", "abc"):
        with pytest.raises(ImageryError):
            Stretch.parse(text)
    assert Stretch.parse("2,98").describe() == "2,98" and Stretch.parse("range:0,3000").describe() == "range:0,3000"
    settings = ReadSettings.from_options("4,3,2", "1,99", "0")
    assert ReadSettings.from_dict(settings.describe()) == settings


def test_landsat8_scene_reads_neither_saturated_nor_black() -> None:
    result = read_image(LANDSAT_CROP, ReadSettings.from_options("3,2,1", None, "0"))
    px = _pixels(result)
    valid = px.any(axis=2)
    assert result.crs == "EPSG:32621" and result.dtype == "uint16"
    assert 0.75 < result.valid_fraction < 0.9  # the scene's fill (0) is nodata
    assert (px[valid] == 255).mean() < 0.05 and 50 < px[valid].mean() < 180


# ---------------------------------------------------------------- footprints


def _dms(d: float, m: float, sec: float) -> float:
    return d + m / 60 + sec / 3600


def _ground_between_closest(crs: str, a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Geodesic distance between the grid-closest points of two rectangles of one projected CRS: one
    pair of their points, so never below the true shortest ground distance."""
    from rasterio.warp import transform

    def clamp(v: float, lo: float, hi: float) -> float:
        return min(max(v, lo), hi)

    pa = (clamp(b[0], a[0], a[2]) if b[0] > a[2] else clamp(b[2], a[0], a[2]),
          clamp(b[1], a[1], a[3]) if b[1] > a[3] else clamp(b[3], a[1], a[3]))
    pb = (clamp(pa[0], b[0], b[2]), clamp(pa[1], b[1], b[3]))
    (x1, x2), (y1, y2) = transform(crs, "EPSG:4326", [pa[0], pb[0]], [pa[1], pb[1]])
    return distance_m(x1, y1, x2, y2)


def test_center_lonlat_and_distances_on_the_ellipsoid() -> None:
    """Published WGS 84 / GRS 80 geodesics; a degree of latitude at the equator is 110 574 m, not the
    sphere's 111 195 m (the 0.56 % the old haversine overstated north-south gaps by)."""
    lon, lat = center_lonlat(UTM21S, (499_000.0, 7_199_000.0, 501_000.0, 7_201_000.0))
    assert lon == pytest.approx(-57.0, abs=1e-9)  # zone 21's central meridian
    assert -26 < lat < -25
    assert distance_m(0, 0, 0, 1) == pytest.approx(110_574.389, abs=0.01)
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_319.491, abs=0.01)
    assert distance_m(0, 0, 0, 90) == pytest.approx(10_001_965.729, abs=0.01)  # the meridian quadrant
    flinders, buninyong = (_dms(144, 25, 29.52440), -_dms(37, 57, 3.72030)), (_dms(143, 55, 35.38390),
                                                                              -_dms(37, 39, 10.15610))
    assert distance_m(*flinders, *buninyong) == pytest.approx(54_972.271, abs=0.01)  # Vincenty's example
    north = Footprint("EPSG:4326", (10.0, 1.0, 10.01, 1.01))
    south = Footprint("EPSG:4326", (10.0, 0.0, 10.01, 0.01))
    assert separation(north, south)[1] <= distance_m(10.0, 0.01, 10.0, 1.0) < 0.995 * 0.99 * 111_195


def test_separation_same_crs_is_exact_in_the_grid_and_ground_true() -> None:
    """Overlap as drawn; the gap is the grid gap over the largest scale factor: never above the ground
    distance between the grid-closest points, and within 1e-3 of it (the scale varies across a tile)."""
    far_west = 0.0  # 500 km west of zone 21's central meridian, where UTM's scale is about 1.0027
    a = Footprint(UTM21S, (far_west, 0.0, far_west + 6720.0, 6720.0))
    touching = Footprint(UTM21S, (6720.0, 0.0, 13440.0, 6720.0))
    overlapping = Footprint(UTM21S, (3360.0, 0.0, 10080.0, 6720.0))
    assert separation(a, touching) == (False, 0.0)
    assert separation(a, overlapping) == (True, 0.0)
    for b in (Footprint(UTM21S, (7720.0, 0.0, 14440.0, 6720.0)), Footprint(UTM21S, (9720.0, 10720.0, 12000.0, 12000.0))):
        overlap, gap = separation(a, b)
        truth = _ground_between_closest(UTM21S, a.bounds, b.bounds)
        assert not overlap and truth * (1 - 1e-3) <= gap <= truth
    near_cm = (Footprint(UTM21S, (500_000.0, 7.2e6, 506_720.0, 7_206_720.0)),
               Footprint(UTM21S, (510_000.0, 7.2e6, 516_720.0, 7_206_720.0)))
    gap = separation(*near_cm)[1]
    assert 3280.0 < gap <= _ground_between_closest(UTM21S, near_cm[0].bounds, near_cm[1].bounds)  # scale 0.9996 < 1


def test_separation_in_web_mercator_is_not_the_grid_distance() -> None:
    """EPSG:3857 at 60 degrees north: 2 grid metres per ground metre; the grid gap would double the distance.
    (Web Mercator is not conformal on the ellipsoid: the bound takes its largest axis, 0.2 % conservative.)"""
    from rasterio.warp import transform

    (x,), (y,) = transform("EPSG:4326", "EPSG:3857", [10.0], [60.0])
    a = Footprint("EPSG:3857", (x, y, x + 500.0, y + 500.0))
    b = Footprint("EPSG:3857", (x + 2500.0, y, x + 3000.0, y + 500.0))
    gap = separation(a, b)[1]
    truth = _ground_between_closest("EPSG:3857", a.bounds, b.bounds)
    assert truth < 1010 and truth * (1 - 5e-3) <= gap <= truth


def test_separation_across_crs_never_overstates() -> None:
    """The same two places in UTM and in lon/lat: the cross-CRS gap is at most the ground distance."""
    from rsmmvp_tasks.imagery.geo import lonlat_bounds

    a = Footprint(UTM21S, (500_000.0, 7_200_000.0, 506_720.0, 7_206_720.0))
    b = Footprint(UTM21S, (510_000.0, 7_200_000.0, 516_720.0, 7_206_720.0))
    truth = _ground_between_closest(UTM21S, a.bounds, b.bounds)
    b_geo = Footprint("EPSG:4326", lonlat_bounds(b.crs, b.bounds))
    overlap, approx = separation(a, b_geo)
    assert not overlap and 0.9 * truth < approx <= truth
    fps = [a, None, b]
    ov, gap = pair_separation(fps, [0, 0], [1, 2])
    assert not ov[0] and np.isnan(gap[0]) and gap[1] == pytest.approx(truth, rel=1e-5)
    # either side of the antimeridian: near, measured the short way round
    east = Footprint("EPSG:4326", (179.9, 10.0, 179.95, 10.05))
    west = Footprint("EPSG:4326", (-179.95, 10.0, -179.9, 10.05))
    assert separation(east, west)[1] <= distance_m(179.95, 10.05, -179.95, 10.05) < 12_000


def _outline(box: np.ndarray, k: int) -> np.ndarray:
    """``(2, 4k)`` lon, lat of ``k`` points along each side of a ``(west, south, east, north)`` box."""
    w, s, e, n = box
    t = np.linspace(0.0, 1.0, k)
    return np.concatenate([np.stack([w + (e - w) * t, np.full_like(t, s)]), np.stack([w + (e - w) * t, np.full_like(t, n)]),
                           np.stack([np.full_like(t, w), s + (n - s) * t]), np.stack([np.full_like(t, e), s + (n - s) * t])],
                          axis=1)


def test_box_gap_is_a_tight_lower_bound_against_brute_force() -> None:
    """Random lon/lat boxes (sizes 0.001-2 degrees, gaps up to 10 degrees, all latitudes): the gap is at
    most the brute-force minimum over dense samples of both outlines (which is at least the true one)
    and at least that minimum less the sample spacing (the true one is at least that)."""
    from rsmmvp_tasks.imagery.geodesic import box_gap_m, inverse_m

    rng = np.random.default_rng(7)
    checked = 0
    while checked < 20:
        lat, size, size2 = rng.uniform(-80, 78), 10 ** rng.uniform(-3, 0.3), 10 ** rng.uniform(-3, 0.3)
        west = rng.uniform(-180, 178 - size)
        a = np.array([west, lat, west + size, lat + size * rng.uniform(0.2, 1)])
        glon, glat = (10 ** rng.uniform(-3, 1) * rng.choice([-1, 1, 0]) for _ in range(2))
        w2 = a[2] + glon if glon >= 0 else a[0] + glon - size2
        s2 = a[3] + glat if glat >= 0 else a[1] + glat - size2
        b = np.array([w2, s2, w2 + size2, min(s2 + size2, 89.0)])
        if b[1] < -89 or b[3] <= b[1] or b[0] < -180 or b[2] > 180 or glon == glat == 0:
            continue
        pa, pb = _outline(a, 100), _outline(b, 100)
        brute = float(inverse_m(pa[0][:, None], pa[1][:, None], pb[0][None, :], pb[1][None, :]).min())
        spacing = max(float(inverse_m(box[0], box[1], box[2], box[1])) + float(inverse_m(box[0], box[1], box[0], box[3]))
                      for box in (a, b)) / 99
        gap = float(box_gap_m(a[None], b[None])[0])
        assert gap <= brute and gap >= brute - spacing, (a, b, gap, brute)
        checked += 1


def test_read_settings_bytes_roundtrip_through_pil_buffer() -> None:
    buf = io.BytesIO()
    Image.new("L", (4, 4), 7).save(buf, format="PNG")
    out = read_image(buf.getvalue())
    assert out.bands == (1,) and np.asarray(out.image).max() == 7


# ---------------------------------------------------------------- provenance and build decoding


def test_decode_rows_turns_16bit_rasters_into_the_png_the_encoders_saw(tmp_path: Path) -> None:
    import json

    from rsmmvp_tasks.imagery.provenance import caption, card_section, decode_rows, needs_decoding

    scene = uint16_scene(tmp_path / "s.tif", h=64, w=64)
    png = tmp_path / "p.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(png)
    rgb_tif = write_scene(tmp_path / "rgb.tif", np.zeros((3, 8, 8), np.uint8), photometric="RGB")
    assert needs_decoding(scene) and not needs_decoding(png) and not needs_decoding(rgb_tif)
    read = {"bands": [3, 2, 1], "stretch": "auto", "nodata": None}
    rows = [{"index": 1, "image": str(scene), "imagery": json.dumps({"read": read})},
            {"index": 2, "image": str(png), "imagery": None}]
    out = decode_rows(rows)
    assert out[1] == rows[1] and rows[0]["image"] == str(scene)  # input rows are not changed
    decoded = Image.open(io.BytesIO(out[0]["image"]["bytes"]))
    expected = read_image(scene, ReadSettings.from_dict(read)).image
    assert out[0]["image"]["path"] == "s.png" and np.array_equal(np.asarray(decoded), np.asarray(expected))
    info = json.loads(out[0]["imagery"])
    assert info["read"] == read and info["decoded"]["dtype"] == "uint16" and info["decoded"]["bands"] == [3, 2, 1]
    geo = {"lat": -25.5, "lon": -57.0, "crs": "EPSG:32721", "scene": "/x/scene.tif", "window": [64, 32, 64, 64],
           "bounds": [1.0, 2.0, 3.0, 4.0]}
    assert caption(json.dumps(geo)) == "lat -25.50000, lon -57.00000 · EPSG:32721 · scene.tif window c64 r32 64x64"
    section = "\n".join(card_section([{"pair_id": "pair-0001", "index": 1, "imagery": json.dumps(geo)},
                                      {"pair_id": "pair-0001", "index": 2, "imagery": None}]))
    assert "## Places" in section and "1 of 2 images have a footprint" in section and "1.0, 2.0, 3.0, 4.0" in section
    assert card_section([{"imagery": None}]) == []


def test_default_bands_follow_band_names_and_never_guess_from_band_numbers(tmp_path: Path) -> None:
    """A 3-band stack named B2, B3, B4 (the shipped Landsat crop's layout) is blue-first: refused by
    default with --bands B4,B3,B2 as the advice, never shown silently as BGR; colour-word names are used."""
    from rsmmvp_tasks.imagery.read import suggest_bands

    array = np.stack([np.full((8, 8), v, np.uint16) for v in (10, 20, 30)])  # uint16: GDAL marks no colours
    stacked = write_scene(tmp_path / "b234.tif", array, descriptions=["B2", "B3", "B4"])
    with pytest.raises(ImageryError, match="--bands B4,B3,B2"):
        read_image(stacked)
    with pytest.raises(ImageryError, match="--bands B4,B3,B2"):
        read_image(LANDSAT_CROP)
    assert read_image(stacked, ReadSettings.from_options("B4,B3,B2")).bands == (3, 2, 1)
    named = write_scene(tmp_path / "bgr.tif", array, descriptions=["Blue", "green", "RED"])
    assert read_image(named).bands == (3, 2, 1)
    rgb_numbers = write_scene(tmp_path / "b432.tif", array, descriptions=["B4", "B3", "B2"])
    assert read_image(rgb_numbers).bands == (1, 2, 3)
    assert read_image(write_scene(tmp_path / "plain.tif", array)).bands == (1, 2, 3)
    assert "Landsat 4-7" in suggest_bands([f"B{k}" for k in range(1, 8)])
    assert "--bands R,G,B (1-based" in suggest_bands([None, None, None, None])
