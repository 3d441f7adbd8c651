"""Where images are: footprints, centre longitude/latitude, and how far apart two footprints are.

A :class:`Footprint` is the rectangle an image covers, ``bounds = (left, bottom, right, top)`` in the
units of its ``crs`` (a CRS text rasterio understands: ``"EPSG:32621"``, WKT, PROJ). Reprojection
uses ``rasterio.warp`` (GDAL/PROJ, shipped with rasterio); longitude/latitude are WGS 84
(``EPSG:4326``) degrees.

Separation of two footprints (:func:`separation`, vectorised as :func:`pair_separation`):

* **same projected CRS in linear units** (the tiles of one scene, or of scenes in one UTM zone):
  exact — the rectangles are compared in that CRS, the gap is the shortest distance between them in
  metres (the CRS's unit factor applied);
* **otherwise** (different CRS, geographic CRS): both rectangles are reprojected to lon/lat boxes
  (edges densified, so a box holds its whole footprint) and the gap is measured on a sphere of
  radius :data:`EARTH_RADIUS_M`, east-west degrees scaled by the cosine of the box latitude farthest
  from the equator. Boxes can only grow and the scale only shrink, so this **never overstates** a
  distance: a rule "at least D metres apart" may drop a pair that is slightly farther, never keep
  one that is closer. Boxes crossing the antimeridian are not supported (their span is taken the
  long way round, so they look larger: again conservative).

``overlap`` is true when the interiors intersect (rectangles that only share an edge or a corner do
not overlap; their gap is 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "EARTH_RADIUS_M",
    "Footprint",
    "center_lonlat",
    "distance_m",
    "lonlat_bounds",
    "pair_separation",
    "separation",
]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
_WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class Footprint:
    """The rectangle ``bounds`` (left, bottom, right, top; ``left < right``, ``bottom < top``) in ``crs``."""

    crs: str
    bounds: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        left, bottom, right, top = self.bounds
        if not (left <= right and bottom <= top):
            raise ValueError(f"footprint bounds must be (left, bottom, right, top) with left <= right, bottom <= top; "
                             f"got {self.bounds}")

    def center_lonlat(self) -> tuple[float, float]:
        """Longitude, latitude of the rectangle's centre (WGS 84 degrees)."""
        return center_lonlat(self.crs, self.bounds)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` degrees of a box holding the whole footprint."""
        return lonlat_bounds(self.crs, self.bounds)


@lru_cache(maxsize=64)
def _crs(text: str) -> Any:
    from rasterio.crs import CRS

    return CRS.from_user_input(text)


@lru_cache(maxsize=64)
def _metres_per_unit(text: str) -> float | None:
    """Metres per CRS unit for a projected CRS in linear units; ``None`` for a geographic or unknown one."""
    crs = _crs(text)
    if not crs.is_projected:
        return None
    try:
        _name, factor = crs.linear_units_factor
    except Exception:  # noqa: BLE001 - a projected CRS whose units GDAL cannot tell
        return None
    return float(factor) if factor and factor > 0 else None


def center_lonlat(crs: str, bounds: Sequence[float]) -> tuple[float, float]:
    """Longitude, latitude (degrees) of the centre of ``bounds`` in ``crs``."""
    from rasterio.warp import transform

    left, bottom, right, top = bounds
    xs, ys = transform(_crs(crs), _crs(_WGS84), [(left + right) / 2.0], [(bottom + top) / 2.0])
    return float(xs[0]), float(ys[0])


def lonlat_bounds(crs: str, bounds: Sequence[float]) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` degrees of a box holding ``bounds`` in ``crs`` (edges densified)."""
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(_crs(crs), _crs(_WGS84), *bounds, densify_pts=21)
    return float(west), float(south), float(east), float(north)


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle (haversine) distance in metres between two lon/lat points in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _box_gap(a: Any, b: Any) -> tuple[Any, Any, Any]:
    """``(overlap, dx, dy)`` of rectangles ``a``/``b`` given as ``(n, 4)`` arrays (left, bottom, right, top)."""
    import numpy as np

    dx = np.maximum(b[:, 0] - a[:, 2], a[:, 0] - b[:, 2])  # > 0: apart along x, < 0: overlapping in x
    dy = np.maximum(b[:, 1] - a[:, 3], a[:, 1] - b[:, 3])
    overlap = (dx < 0) & (dy < 0)
    return overlap, np.maximum(dx, 0.0), np.maximum(dy, 0.0)


def pair_separation(footprints: Sequence[Footprint | None], i: Any, j: Any) -> tuple[Any, Any]:
    """``(overlap, gap_m)`` arrays for the pairs ``(footprints[i[k]], footprints[j[k]])``.

    ``gap_m`` is the distance between the two rectangles in metres (0 when they touch or overlap;
    see the module docstring for the method). A pair with a missing footprint (``None``) gets
    ``overlap`` false and ``gap_m`` NaN, for the caller to decide.
    """
    import numpy as np

    i, j = np.asarray(i, np.int64), np.asarray(j, np.int64)
    n = len(footprints)
    crs_codes: dict[str, int] = {}
    code = np.full(n, -1, np.int64)
    native = np.full((n, 4), np.nan)
    for k, fp in enumerate(footprints):
        if fp is not None:
            code[k] = crs_codes.setdefault(fp.crs, len(crs_codes))
            native[k] = fp.bounds
    overlap = np.zeros(len(i), bool)
    gap = np.full(len(i), np.nan)
    known = (code[i] >= 0) & (code[j] >= 0)
    # metres per unit of each CRS (NaN: geographic or unknown units)
    unit_of = np.array([_metres_per_unit(text) or np.nan for text in crs_codes] + [np.nan])
    exact = known & (code[i] == code[j]) & np.isfinite(unit_of[code[i]])
    if exact.any():
        unit = unit_of[code[i[exact]]]
        ov, dx, dy = _box_gap(native[i[exact]], native[j[exact]])
        overlap[exact] = ov
        gap[exact] = np.hypot(dx, dy) * unit
    rest = known & ~exact
    if rest.any():
        needed = np.unique(np.concatenate([i[rest], j[rest]]))
        boxes = np.full((n, 4), np.nan)
        for k in needed.tolist():
            boxes[k] = footprints[k].lonlat_bounds()  # type: ignore[union-attr]
        a, b = boxes[i[rest]], boxes[j[rest]]
        ov, dlon, dlat = _box_gap(a, b)
        far_lat = np.radians(np.max(np.abs(np.stack([a[:, 1], a[:, 3], b[:, 1], b[:, 3]])), axis=0))
        overlap[rest] = ov
        gap[rest] = EARTH_RADIUS_M * np.hypot(np.radians(dlat), np.radians(dlon) * np.cos(far_lat))
    return overlap, gap


def separation(a: Footprint, b: Footprint) -> tuple[bool, float]:
    """``(overlap, gap_m)`` of two footprints (see :func:`pair_separation`)."""
    overlap, gap = pair_separation([a, b], [0], [1])
    return bool(overlap[0]), float(gap[0])
