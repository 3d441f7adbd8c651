"""The ``imagery`` provenance of a dataset row: where its image is and how its pixels were made.

A built dataset (``rsmmvp build``) carries one optional column ``imagery``: a JSON text per row,
``None`` for images without such provenance. Its keys (each optional):

==============  ===============================================================================
``scene``       the scene file the tile was cut from (``rsmmvp tile``)
``window``      ``[col_off, row_off, width, height]`` in the scene's pixels
``crs``         the scene's CRS (``"EPSG:32621"``)
``bounds``      ``[left, bottom, right, top]`` of the tile in CRS units
``lon``/``lat`` the tile's centre, WGS 84 degrees
``bands``       the 1-based bands shown as R,G,B (``"4,3,2"``); ``stretch`` and ``limits`` (per band
                ``[low, high]``, the scene's) — how the tile's 8-bit pixels were made
``read``        the :class:`~rsmmvp_tasks.imagery.read.ReadSettings` the image was embedded and
                decoded with (``{"bands", "stretch", "nodata"}``)
``decoded``     for an image that was not 8-bit RGB on disk (a 16-bit GeoTIFF...): what
                :func:`decode_rows` did to it (``dtype``, ``bands``, ``stretch``, ``limits``, ``crs``,
                ``bounds``, ``transform``); the dataset holds the decoded PNG
==============  ===============================================================================

:func:`row_provenance` builds the cell from a PAIRS record (its ``geo_a``/``geo_b`` and ``read``
columns, :mod:`rsmmvp_tasks.mining.places`); :func:`caption` is the one-line text the review page
shows under an image; :func:`card_section` the "Places" section of the dataset card;
:func:`decode_rows` turns raster images that lmms-eval's PIL would misread (16-bit, float, more than
three bands) into 8-bit PNG with the same settings the encoders saw, before a build validates them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["caption", "card_section", "decode_rows", "needs_decoding", "parse_imagery", "row_provenance"]

log = logging.getLogger(__name__)


def parse_imagery(cell: Any) -> dict[str, Any]:
    """The ``imagery`` cell as a dict (``{}`` for ``None``, an empty or malformed cell)."""
    if isinstance(cell, Mapping):
        return dict(cell)
    if not isinstance(cell, str) or not cell.strip():
        return {}
    try:
        value = json.loads(cell)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def row_provenance(rec: Mapping[str, Any], side: str) -> str | None:
    """The ``imagery`` cell of image ``side`` (``"a"``/``"b"``) of a PAIRS record: its ``geo_<side>`` place
    and the ``read`` settings it was decoded with, as JSON; ``None`` when the record has neither."""
    geo = parse_imagery(rec.get(f"geo_{side}"))
    read = parse_imagery(rec.get("read"))
    if not geo and not read:
        return None
    if read:
        geo["read"] = read
    return json.dumps(geo)


def caption(cell: Any) -> str | None:
    """``"lat -25.31234, lon -54.61234 · EPSG:32621 · <scene file> window c512 r256 224x224"``, or ``None``."""
    data = parse_imagery(cell)
    parts = []
    if data.get("lat") is not None and data.get("lon") is not None:
        parts.append(f"lat {data['lat']:.5f}, lon {data['lon']:.5f}")
    if data.get("crs"):
        parts.append(str(data["crs"]))
    if data.get("scene"):
        window = data.get("window") or []
        where = f" window c{window[0]} r{window[1]} {window[2]}x{window[3]}" if len(window) == 4 else ""
        parts.append(Path(str(data["scene"])).name + where)
    return " · ".join(parts) or None


def card_section(rows: Sequence[Mapping[str, Any]], limit: int = 50) -> list[str]:
    """Markdown lines of the card's "Places" section (empty when no row has a place): the CRSs, the
    lon/lat extent, and per image its pair, centre, CRS and bounds (the first ``limit`` rows)."""
    placed = [(r, parse_imagery(r.get("imagery"))) for r in rows]
    placed = [(r, d) for r, d in placed if d.get("bounds") or d.get("lat") is not None]
    if not placed:
        return []
    lons = [d["lon"] for _, d in placed if d.get("lon") is not None]
    lats = [d["lat"] for _, d in placed if d.get("lat") is not None]
    crss = sorted({str(d.get("crs")) for _, d in placed if d.get("crs")})
    scenes = sorted({Path(str(d["scene"])).name for _, d in placed if d.get("scene")})
    lines = ["## Places", "",
             f"{len(placed)} of {len(rows)} images have a footprint (column `imagery`, JSON: scene, window, crs, "
             "bounds in CRS units, centre lon/lat, and the bands/stretch the 8-bit pixels were made with). "
             f"CRS: {', '.join(f'`{c}`' for c in crss) or 'none'}; scenes: {len(scenes)}."]
    if lons and lats:
        lines[-1] += (f" Extent of the centres: lon {min(lons):.4f} to {max(lons):.4f}, "
                      f"lat {min(lats):.4f} to {max(lats):.4f}.")
    lines += ["", "| pair | index | lat, lon | CRS | bounds (left, bottom, right, top) |", "|---|---:|---|---|---|"]
    for r, d in placed[:limit]:
        where = f"{d['lat']:.5f}, {d['lon']:.5f}" if d.get("lat") is not None and d.get("lon") is not None else ""
        bounds = ", ".join(f"{v:.1f}" for v in d["bounds"]) if d.get("bounds") else ""
        lines.append(f"| `{r.get('pair_id')}` | {r.get('index')} | {where} | {d.get('crs') or ''} | {bounds} |")
    if len(placed) > limit:
        lines.append(f"| ... | | {len(placed) - limit} more in the `imagery` column | | |")
    return lines + [""]


def needs_decoding(path: str | Path) -> bool:
    """Whether lmms-eval's PIL would not see this file as the encoders saw it: a raster that is not
    8-bit with one or three bands (or RGB+alpha), or a 16-bit/float PNG."""
    from rsmmvp_tasks.imagery.read import PIL_SUFFIXES

    path = Path(path)
    if not path.is_file():
        return False
    if path.suffix.lower() in PIL_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(path) as im:
                return im.mode in ("I;16", "I;16B", "I;16L", "I", "F")
        except Exception:  # noqa: BLE001 - unreadable: the validator reports it
            return False
    try:
        import rasterio

        with rasterio.open(path) as ds:
            colours = [c.name.lower() for c in ds.colorinterp]
            data_bands = [c for c in colours if c != "alpha"]
            return any(d != "uint8" for d in ds.dtypes) or len(data_bands) not in (1, 3)
    except Exception:  # noqa: BLE001 - not a raster rasterio reads: leave it to the validator
        return False


def decode_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every image file that :func:`needs_decoding` (or whose ``imagery`` names ``read``
    settings) replaced by its 8-bit PNG (``{"bytes", "path": "<stem>.png"}``), decoded by
    :func:`~rsmmvp_tasks.imagery.read.read_image` with the row's ``read`` settings; what was done is
    added to its ``imagery`` cell as ``decoded``. Other rows are returned unchanged (copied).

    Raises :class:`~rsmmvp_tasks.imagery.read.ImageryError` naming the file when it cannot be decoded so.
    """
    import io

    from rsmmvp_tasks.imagery.read import ReadSettings, read_image

    out: list[dict[str, Any]] = []
    done = 0
    for row in rows:
        row = dict(row)
        image = row.get("image")
        info = parse_imagery(row.get("imagery"))
        if isinstance(image, (str, Path)) and Path(image).is_file() and (
                needs_decoding(image) or (info.get("read") and Path(image).suffix.lower() not in (".png", ".jpg", ".jpeg"))):
            result = read_image(image, ReadSettings.from_dict(info.get("read")))
            buf = io.BytesIO()
            result.image.save(buf, format="PNG")
            row["image"] = {"bytes": buf.getvalue(), "path": Path(image).stem + ".png"}
            info["decoded"] = {"from": Path(image).name, **result.describe()}
            row["imagery"] = json.dumps(info)
            done += 1
        out.append(row)
    if done:
        log.info("decoded %d raster image(s) to 8-bit PNG (16-bit/float/multiband: stretched as the encoders saw them)",
                 done)
    return out
