"""Place-aware pairs: where mined images are, rules on how far apart a pair's images must be, and provenance.

A CLIP-blind "pair" made of two crops of the same place (overlapping tiles) tests nothing; one made
of tiles from one scene may share its light and season. ``rsmmvp mine --tiles DIR/tiles.parquet``
joins the tile table of ``rsmmvp tile`` (:mod:`rsmmvp_tasks.imagery.tile`) with the embedding caches
and:

* ``--min-distance-m D`` drops every candidate pair whose footprints overlap or lie less than ``D``
  metres apart (``D = 0``: only overlapping footprints are dropped; touching tiles stay). Distances
  are those of :mod:`rsmmvp_tasks.imagery.geo`: ground distances on the WGS 84 ellipsoid, never
  overstated (overlap exact within one projected CRS). Footprints are read sorted (``bottom <= top``)
  whatever table they come from, so tiles of south-up rasters work;
* ``--different-scenes`` drops every candidate pair whose tiles come from the same scene file.

The rules act on the *candidates*, before the greedy choice, so a dropped pair does not use up its
images' ``--max-per-image``. With a rule on, a pair with an image the tile table does not know is
dropped too (its place cannot be checked); the counts are logged and kept in the PAIRS summary.

The join key is the image file: a cache records each image's absolute path, the tile table each
tile's path relative to its folder; both are resolved and compared. When ``--tiles`` is not given,
``tiles.parquet`` in the folder the CLIP cache was embedded from is used when it exists.

Provenance: :func:`add_place_columns` adds to the PAIRS table ``geo_a``/``geo_b`` (JSON: ``scene``,
``window`` ``[col_off, row_off, width, height]``, ``crs``, ``bounds`` ``[left, bottom, right, top]`` in
CRS units, ``lon``/``lat`` of the centre, and the tile's ``bands``, ``stretch`` and ``limits``) and
``distance_m`` (the gap between the two footprints, 0 when they touch or overlap). ``rsmmvp review``
shows them under each image; :func:`rsmmvp_tasks.imagery.provenance.row_provenance` turns them (and
the ``read`` settings of images decoded from rasters) into the dataset's ``imagery`` column.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.imagery.geo import Footprint, pair_separation
from rsmmvp_tasks.imagery.read import sorted_bounds
from rsmmvp_tasks.imagery.tile import PARTS_DIR, TABLE_NAME, read_tile_table
from rsmmvp_tasks.mining.pairs import PAIRS_PLACE_COLUMNS
from rsmmvp_tasks.values import is_missing

__all__ = [
    "PLACE_COLUMNS",
    "PlaceRule",
    "TilePlaces",
    "add_place_columns",
    "find_tile_table",
]

log = logging.getLogger(__name__)

#: Columns :func:`add_place_columns` adds to a PAIRS table (defined with the PAIRS format).
PLACE_COLUMNS: tuple[str, ...] = PAIRS_PLACE_COLUMNS


class TilePlaces:
    """The tile table, looked up by image file."""

    def __init__(self, frame: Any, source: Path | None = None) -> None:
        self.source = source
        self.rows: dict[str, dict[str, Any]] = {}
        for rec in frame.to_dict(orient="records"):
            self.rows[rec["path"]] = rec

    @classmethod
    def load(cls, path: str | Path) -> TilePlaces:
        """Read a tile table (file or folder); :class:`~rsmmvp_tasks.errors.InputError` when it is not one."""
        return cls(read_tile_table(path), Path(path))

    def lookup(self, path: str | None) -> dict[str, Any] | None:
        """The tile row of an image file (``None``: not a tile of this table, or no file)."""
        if not path:
            return None
        hit = self.rows.get(path)
        if hit is None:
            hit = self.rows.get(str(Path(path).resolve()))
        return hit

    def footprint(self, path: str | None) -> Footprint | None:
        row = self.lookup(path)
        if row is None or not row.get("crs") or is_missing(row.get("left")):
            return None
        return Footprint(row["crs"], _bounds(row))


def find_tile_table(explicit: str | Path | None, manifest: Mapping[str, Any]) -> Path | None:
    """``explicit``, else ``tiles.parquet`` in the folder a cache was embedded from (its manifest ``root``)."""
    if explicit:
        return Path(explicit)
    root = manifest.get("root") if manifest.get("source_kind") == "folder" else None
    candidate = Path(root) / f"{TABLE_NAME}.parquet" if root else None
    # a table not merged yet (a killed `rsmmvp tile`) is its parts: read_tile_table reads them
    if candidate is not None and (candidate.is_file() or (candidate.parent / PARTS_DIR).is_dir()):
        log.info("using the tile table %s for footprints (the folder the images were embedded from)", candidate)
        return candidate
    return None


@dataclass
class PlaceRule:
    """Which candidate pairs to drop for their places (see the module docstring)."""

    min_distance_m: float | None = None
    different_scenes: bool = False
    places: TilePlaces | None = None
    #: what the last :meth:`__call__` dropped, by reason
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.min_distance_m is not None or self.different_scenes

    def check(self) -> None:
        """:class:`~rsmmvp_tasks.errors.UsageError` when a rule is asked for without a tile table, or D < 0."""
        if self.min_distance_m is not None and (not math.isfinite(self.min_distance_m) or self.min_distance_m < 0):
            raise UsageError(f"--min-distance-m must be a distance in metres >= 0, got {self.min_distance_m}")
        if self.active and self.places is None:
            raise UsageError("--min-distance-m and --different-scenes need to know where each image is: give the tile "
                             "table of `rsmmvp tile` with --tiles DIR/tiles.parquet (found automatically when the images "
                             "were embedded from DIR)")

    def __call__(self, cands: Any, ids: Sequence[str], paths: Sequence[str | None]) -> Any:
        """The candidates that pass the rule (a new :class:`~rsmmvp_tasks.mining.search.Candidates`)."""
        import numpy as np

        from rsmmvp_tasks.mining.search import Candidates

        self.dropped = {}
        if not self.active or not len(cands):
            return cands
        assert self.places is not None
        rows = [self.places.lookup(p) for p in paths]
        unknown_img = np.array([r is None for r in rows], bool)
        keep = np.ones(len(cands), bool)
        unknown = unknown_img[cands.i] | unknown_img[cands.j]
        self.dropped["no_footprint"] = int(unknown.sum())
        keep &= ~unknown
        if self.different_scenes:
            scene = np.array([r["scene"] if r else "" for r in rows], object)
            same = (scene[cands.i] == scene[cands.j]) & keep
            self.dropped["same_scene"] = int(same.sum())
            keep &= ~same
        if self.min_distance_m is not None:
            fps = [self.places.footprint(p) for p in paths]
            idx = np.flatnonzero(keep)
            overlap, gap = pair_separation(fps, cands.i[idx], cands.j[idx])
            no_geo = np.isnan(gap)
            close = overlap | (gap < self.min_distance_m)
            self.dropped["no_footprint"] += int(no_geo.sum())
            self.dropped["overlapping"] = int((overlap & ~no_geo).sum())
            self.dropped["closer_than_min_distance"] = int((close & ~overlap & ~no_geo).sum())
            keep[idx[close | no_geo]] = False
        if self.dropped.get("no_footprint"):
            example = next(ids[k] for k in np.flatnonzero(unknown_img)) if unknown_img.any() else "?"
            log.warning("%d candidate pair(s) dropped: an image is not in the tile table or has no georeference "
                        "(e.g. %s), so its place cannot be checked", self.dropped["no_footprint"], example)
        log.info("place rule (%s): %d of %d candidate pairs kept (%s)", self.describe(), int(keep.sum()), len(cands),
                 ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in self.dropped.items() if v) or "none dropped")
        return Candidates(cands.i[keep], cands.j[keep], cands.clip[keep], cands.ssl[keep],
                          near_duplicates=cands.near_duplicates, truncated=cands.truncated)

    def describe(self) -> str:
        parts = []
        if self.min_distance_m is not None:
            parts.append(f"footprints >= {self.min_distance_m:g} m apart, never overlapping")
        if self.different_scenes:
            parts.append("different scenes")
        return "; ".join(parts) or "none"

    def summary(self) -> dict[str, Any]:
        """What the PAIRS ``.json`` records about the rule."""
        return {"min_distance_m": self.min_distance_m, "different_scenes": self.different_scenes,
                "tile_table": str(self.places.source) if self.places and self.places.source else None,
                "dropped": dict(self.dropped)}


def _bounds(row: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """A tile row's ``(left, bottom, right, top)``, sorted (``bottom <= top``) whatever table it came from."""
    return sorted_bounds([row[k] for k in ("left", "bottom", "right", "top")])


def _geo(row: Mapping[str, Any] | None) -> str | None:
    if row is None:
        return None
    bounds = None if is_missing(row.get("left")) else list(_bounds(row))
    limits = row.get("limits")
    payload = {
        "scene": row["scene"], "window": [int(row[k]) for k in ("col_off", "row_off", "width", "height")],
        "crs": row.get("crs") or None, "bounds": bounds,
        "lon": None if is_missing(row.get("lon")) else round(float(row["lon"]), 6),
        "lat": None if is_missing(row.get("lat")) else round(float(row["lat"]), 6),
        "bands": row.get("bands"), "stretch": row.get("stretch"),
        "limits": json.loads(limits) if isinstance(limits, str) and limits else None,
    }
    return json.dumps(payload)


def add_place_columns(frame: Any, places: TilePlaces) -> Any:
    """Add :data:`PLACE_COLUMNS` to a PAIRS DataFrame (in place; returned). Images without a tile row
    get ``None`` / NaN."""
    import numpy as np

    rows_a = [places.lookup(p) for p in frame["path_a"]]
    rows_b = [places.lookup(p) for p in frame["path_b"]]
    frame["geo_a"] = [_geo(r) for r in rows_a]
    frame["geo_b"] = [_geo(r) for r in rows_b]
    fps = [places.footprint(p) for p in frame["path_a"]] + [places.footprint(p) for p in frame["path_b"]]
    n = len(frame)
    _overlap, gap = pair_separation(fps, np.arange(n), np.arange(n) + n) if n else (None, np.zeros(0))
    frame["distance_m"] = np.round(gap, 1)
    return frame
