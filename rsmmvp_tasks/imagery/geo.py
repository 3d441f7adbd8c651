"""Where images are: footprints, centre longitude/latitude, and how far apart two footprints are.

A :class:`Footprint` is the rectangle an image covers, ``bounds = (left, bottom, right, top)`` in the
units of its ``crs`` (a CRS text rasterio understands: ``"EPSG:32621"``, WKT, PROJ). Reprojection
uses ``rasterio.warp`` (GDAL/PROJ, shipped with rasterio); longitude/latitude are WGS 84
(``EPSG:4326``) degrees.

Separation of two footprints (:func:`separation`, vectorised as :func:`pair_separation`) is a
ground distance on the WGS 84 ellipsoid that is **never overstated**: a rule "at least D metres
apart" may drop a pair that is slightly farther, never keep one that is closer.

* **same projected CRS in linear units** (the tiles of one scene, or of scenes in one UTM zone):
  the rectangles are compared in that CRS (overlap exactly as drawn), and their gap in grid metres
  is divided by the largest **scale factor** (grid length / ground length, the largest axis of the
  Tissot ellipse, measured numerically with :mod:`~rsmmvp_tasks.imagery.geodesic`) at the corners and
  centres of the two footprints, plus a relative margin of 1e-6. A grid distance is not a ground
  distance: UTM's scale is 0.9996 on its central meridian and above 1.001 near a zone's edge;
  Web Mercator's is ``1 / cos(lat)`` (2 at 60 degrees). This assumes the scale on the way between
  two footprints is not larger than at their corners — true for transverse Mercator (UTM), Mercator,
  polar stereographic and conic projections, whose scale grows away from their central line,
  parallel or pole;
* **otherwise** (different CRSs, or a geographic CRS such as EPSG:4326): both rectangles are
  reprojected to lon/lat boxes (edges densified, so a box holds its whole footprint) and the gap is
  :func:`~rsmmvp_tasks.imagery.geodesic.box_gap_m`: geodesic on the ellipsoid between the boxes'
  closest points, less a stated margin. Boxes on either side of the antimeridian are measured the
  short way round; a box that itself crosses the antimeridian is taken the long way round (larger:
  again conservative).

``overlap`` is true when the interiors intersect (rectangles that only share an edge or a corner do
not overlap; their gap is 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rsmmvp_tasks.imagery.geodesic import box_gap_m, inverse_m

__all__ = [
    "Footprint",
    "center_lonlat",
    "distance_m",
    "lonlat_bounds",
    "pair_separation",
    "scale_bound",
    "separation",
]

_WGS84 = "EPSG:4326"
#: Relative margin added to the measured largest scale factor of a projected CRS.
SCALE_MARGIN_REL = 1e-6


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
    """Geodesic distance in metres on the WGS 84 ellipsoid between two lon/lat points in degrees
    (:func:`~rsmmvp_tasks.imagery.geodesic.inverse_m`)."""
    return float(inverse_m(lon1, lat1, lon2, lat2))


def scale_bound(crs: str, bounds: Any) -> Any:
    """``(m,)`` array: for each rectangle of ``bounds`` (``(m, 4)``, CRS units of the projected ``crs``),
    the largest scale factor (grid metres per ground metre, in any direction) at its corners and
    centre, times ``1 + SCALE_MARGIN_REL``.

    Measured numerically: from each point, steps of 10 grid metres east, north and north-east are
    reprojected to lon/lat and measured on the ellipsoid; the three lengths give the local metric
    (the Tissot ellipse), whose largest axis is the bound.
    """
    import numpy as np
    from rasterio.warp import transform

    bounds = np.asarray(bounds, np.float64).reshape(-1, 4)
    unit = _metres_per_unit(crs) or 1.0
    left, bottom, right, top = bounds.T
    xs = np.stack([left, right, left, right, (left + right) / 2], axis=1).ravel()
    ys = np.stack([bottom, bottom, top, top, (bottom + top) / 2], axis=1).ravel()
    step_m = 10.0
    h = step_m / unit
    diag = h / math.sqrt(2.0)
    px = np.concatenate([xs, xs + h, xs, xs + diag])
    py = np.concatenate([ys, ys, ys + h, ys + diag])
    lon, lat = (np.asarray(v) for v in transform(_crs(crs), _crs(_WGS84), px.tolist(), py.tolist()))
    n = len(xs)
    ground = [inverse_m(lon[:n], lat[:n], lon[k * n:(k + 1) * n], lat[k * n:(k + 1) * n]) / step_m
              for k in (1, 2, 3)]
    q11, q22 = ground[0] ** 2, ground[1] ** 2
    q12 = ground[2] ** 2 - (q11 + q22) / 2
    smallest = (q11 + q22) / 2 - np.sqrt(((q11 - q22) / 2) ** 2 + q12 ** 2)
    k = 1.0 / np.sqrt(np.maximum(smallest, 1e-12))
    return k.reshape(-1, 5).max(axis=1) * (1 + SCALE_MARGIN_REL)


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
        grid = np.hypot(dx, dy) * unit
        scale = np.ones(n)
        apart = np.zeros(len(i), bool)  # pairs with a gap: their footprints' scale is needed
        apart[exact] = grid > 0
        needed = np.unique(np.concatenate([i[apart], j[apart]]))
        for text, c in crs_codes.items():
            mine = needed[code[needed] == c]
            if len(mine):
                scale[mine] = scale_bound(text, native[mine])
        gap[exact] = grid / np.maximum(scale[i[exact]], scale[j[exact]])
    rest = known & ~exact
    if rest.any():
        needed = np.unique(np.concatenate([i[rest], j[rest]]))
        boxes = np.full((n, 4), np.nan)
        for k in needed.tolist():
            boxes[k] = footprints[k].lonlat_bounds()  # type: ignore[union-attr]
        a, b = boxes[i[rest]], boxes[j[rest]]
        ov, _dlon, _dlat = _box_gap(a, b)
        overlap[rest] = ov
        gap[rest] = np.where(ov, 0.0, box_gap_m(a, b))
    return overlap, gap


def separation(a: Footprint, b: Footprint) -> tuple[bool, float]:
    """``(overlap, gap_m)`` of two footprints (see :func:`pair_separation`)."""
    overlap, gap = pair_separation([a, b], [0], [1])
    return bool(overlap[0]), float(gap[0])
