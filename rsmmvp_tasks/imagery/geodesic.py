"""Distances on the WGS 84 ellipsoid: between points (Vincenty) and between lon/lat boxes (a lower bound).

Why not a sphere: a sphere of the mean radius overstates north-south distances near the equator by
up to 0.56 % (a degree of latitude there is 110 574 m, not 111 195 m) and east-west ones near the
poles; a rule "at least D metres apart" must never keep a pair that is closer than D.

* :func:`inverse_m` — the geodesic distance between points, Vincenty's inverse formula on the
  WGS 84 ellipsoid (``a = 6 378 137 m``, ``f = 1/298.257223563``), vectorised; accurate to well
  under a millimetre. Where the iteration does not converge (nearly antipodal points) the straight
  3-D chord between the points is returned instead: never longer than the geodesic.
* :func:`box_gap_m` — the shortest distance between two boxes ``(west, south, east, north)`` in
  degrees (sides along meridians and parallels), as a **lower bound**:

  - longitudes overlapping or touching: the meridian arc between the facing latitude edges — exact
    (along any path ``ds >= M(lat) dlat``, with equality along a meridian);
  - longitudes apart (the shorter way round the globe, so boxes on either side of the antimeridian
    are near): the closest points lie on the two facing meridian edges; the distance is the minimum
    over the candidate pairs where one point is an edge end and the other the foot of the
    perpendicular from it (``tan(lat_f) = tan(lat) / cos(dlon)``, clamped to the edge), plus the
    equator where both edges cross it. On a sphere this set holds the exact minimum; on the
    ellipsoid the foot is off by a second-order amount, covered by the margin below.

  Then reduced by :data:`GAP_MARGIN_REL` (relative) and :data:`GAP_MARGIN_M` (absolute), never
  below 0. ``tests/test_imagery.py`` checks the result against a dense brute-force search and
  against published geodesic distances.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GAP_MARGIN_M", "GAP_MARGIN_REL", "WGS84_A", "WGS84_F", "box_gap_m", "chord_m", "inverse_m"]

#: WGS 84 semi-major axis (m) and flattening.
WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
_B = WGS84_A * (1 - WGS84_F)
_E2 = WGS84_F * (2 - WGS84_F)
#: What :func:`box_gap_m` takes off its result: relative part (the ellipsoidal foot-point error is far
#: below it for gaps up to thousands of km) and an absolute part (Vincenty's sub-millimetre error).
GAP_MARGIN_REL = 1e-6
GAP_MARGIN_M = 0.001


def chord_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """The straight 3-D distance (m) between points on the WGS 84 ellipsoid (degrees): a lower bound
    of the geodesic distance."""
    import numpy as np

    def ecef(lon: Any, lat: Any) -> Any:
        lam, phi = np.radians(lon), np.radians(lat)
        n = WGS84_A / np.sqrt(1 - _E2 * np.sin(phi) ** 2)
        return np.stack([n * np.cos(phi) * np.cos(lam), n * np.cos(phi) * np.sin(lam), n * (1 - _E2) * np.sin(phi)])

    return np.sqrt(((ecef(lon1, lat1) - ecef(lon2, lat2)) ** 2).sum(axis=0))


def inverse_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any, *, iterations: int = 200) -> Any:
    """Geodesic distance (m) on WGS 84 between points given in degrees (arrays broadcast; see the module
    docstring). Non-converging pairs (nearly antipodal) get the 3-D chord, a lower bound."""
    import numpy as np

    lon1, lat1, lon2, lat2 = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (lon1, lat1, lon2, lat2)))
    f = WGS84_F
    big_l = np.radians(((lon2 - lon1) + 180.0) % 360.0 - 180.0)
    u1 = np.arctan((1 - f) * np.tan(np.radians(lat1)))
    u2 = np.arctan((1 - f) * np.tan(np.radians(lat2)))
    su1, cu1, su2, cu2 = np.sin(u1), np.cos(u1), np.sin(u2), np.cos(u2)
    lam = big_l.copy()
    converged = np.zeros(lam.shape, bool)
    sin_s = cos_s = sigma = cos2a = cos2sm = np.zeros(lam.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(iterations):
            sl, cl = np.sin(lam), np.cos(lam)
            sin_s = np.hypot(cu2 * sl, cu1 * su2 - su1 * cu2 * cl)
            cos_s = su1 * su2 + cu1 * cu2 * cl
            sigma = np.arctan2(sin_s, cos_s)
            sin_a = np.where(sin_s > 0, cu1 * cu2 * sl / np.where(sin_s > 0, sin_s, 1.0), 0.0)
            cos2a = 1 - sin_a ** 2
            cos2sm = np.where(cos2a > 0, cos_s - 2 * su1 * su2 / np.where(cos2a > 0, cos2a, 1.0), 0.0)
            c = f / 16 * cos2a * (4 + f * (4 - 3 * cos2a))
            new = big_l + (1 - c) * f * sin_a * (sigma + c * sin_s * (cos2sm + c * cos_s * (-1 + 2 * cos2sm ** 2)))
            done = np.abs(new - lam) < 1e-12
            lam = np.where(converged, lam, new)
            converged |= done
            if converged.all():
                break
        u2sq = cos2a * (WGS84_A ** 2 - _B ** 2) / _B ** 2
        a_coef = 1 + u2sq / 16384 * (4096 + u2sq * (-768 + u2sq * (320 - 175 * u2sq)))
        b_coef = u2sq / 1024 * (256 + u2sq * (-128 + u2sq * (74 - 47 * u2sq)))
        d_sigma = b_coef * sin_s * (cos2sm + b_coef / 4 * (cos_s * (-1 + 2 * cos2sm ** 2) - b_coef / 6 * cos2sm
                                                          * (-3 + 4 * sin_s ** 2) * (-3 + 4 * cos2sm ** 2)))
        s = _B * a_coef * (sigma - d_sigma)
    bad = ~converged | ~np.isfinite(s)
    if bad.any():
        s = np.where(bad, chord_m(lon1, lat1, lon2, lat2), s)
    return s


def _foot(lat: Any, dlon: Any) -> Any:
    """Latitude (deg) of the point of a meridian ``dlon`` degrees away nearest to a point at ``lat`` (sphere)."""
    import numpy as np

    phi = np.radians(lat)
    return np.degrees(np.arctan2(np.sin(phi), np.cos(phi) * np.cos(np.radians(dlon))).clip(-np.pi / 2, np.pi / 2))


def box_gap_m(a: Any, b: Any) -> Any:
    """Lower bound (m) of the distance between boxes ``a`` and ``b``, ``(n, 4)`` arrays of ``(west, south,
    east, north)`` degrees with ``west <= east`` (see the module docstring); 0 where they touch or overlap."""
    import numpy as np

    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    w1, s1, e1, n1 = a.T
    w2, s2, e2, n2 = b.T
    # longitude gap the shorter way round; facing meridians
    east_gap = (w2 - e1) % 360.0  # going east from a to b
    west_gap = (w1 - e2) % 360.0  # going east from b to a
    lon_touch = ((w1 <= e2) & (w2 <= e1)) | (e1 - w1 >= 360) | (e2 - w2 >= 360)
    eastward = east_gap <= west_gap
    dlon = np.where(lon_touch, 0.0, np.minimum(east_gap, west_gap))
    lon_a, lon_b = np.where(eastward, e1, w1), np.where(eastward, w2, e2)
    gap = np.zeros(len(a))
    # longitudes overlap: the meridian arc between the facing latitude edges (exact)
    lat_a = np.where(s2 > n1, n1, s1)
    lat_b = np.where(s2 > n1, s2, n2)
    apart_lat = (s2 > n1) | (s1 > n2)
    meridian = lon_touch & apart_lat
    if meridian.any():
        gap[meridian] = inverse_m(0.0, lat_a[meridian], 0.0, lat_b[meridian])
    apart = ~lon_touch
    if apart.any():
        k = np.flatnonzero(apart)
        d, la, lb = dlon[k], lon_a[k], lon_b[k]
        ss1, nn1, ss2, nn2 = s1[k], n1[k], s2[k], n2[k]
        cands = [
            (ss1, np.clip(_foot(ss1, d), ss2, nn2)), (nn1, np.clip(_foot(nn1, d), ss2, nn2)),
            (np.clip(_foot(ss2, d), ss1, nn1), ss2), (np.clip(_foot(nn2, d), ss1, nn1), nn2),
        ]
        on_equator = (ss1 <= 0) & (nn1 >= 0) & (ss2 <= 0) & (nn2 >= 0)
        cands.append((np.where(on_equator, 0.0, ss1), np.where(on_equator, 0.0, cands[0][1])))
        best = np.full(len(k), np.inf)
        for pa, pb in cands:
            best = np.minimum(best, inverse_m(la, pa, lb, pb))
        gap[k] = best
    return np.maximum(gap * (1 - GAP_MARGIN_REL) - GAP_MARGIN_M, 0.0) * (gap > 0)
