"""The one image-reading path: any image file (or encoded bytes) -> an 8-bit RGB PIL image + where it is.

Every command that looks at pixels (``rsmmvp tile``, ``embed``, ``review``, ``build``) decodes images
here, so an encoder, a reviewer and a model see the same pixels.

Readers
-------
* **rasterio** (GDAL) for GeoTIFF and every other raster format GDAL reads (``.tif``/``.tiff``,
  ``.jp2``, ``.vrt``, ``.img``, ...), and for encoded bytes that start like a TIFF. It gives
  8/16/32-bit integer and float data, 1..N bands, the nodata value and masks, band descriptions
  and colour interpretation, and the georeference (CRS, transform, bounds).
* **PIL** for the everyday formats (:data:`PIL_SUFFIXES`: PNG, JPEG, BMP, WebP, GIF) and any other
  bytes. 16-bit PNGs (mode ``I;16``/``I``) and float images (mode ``F``) are read as numbers too.

Settings (:class:`ReadSettings`, recorded in the embedding cache manifest and in dataset provenance)
---------------------------------------------------------------------------------------------------
``bands``
    The bands that become red, green and blue (three) or grey (one), **1-based** like GDAL and
    ``rasterio``: ``(4, 3, 2)`` is Landsat-8 true colour. A band may be given by name where the file
    names its bands (a GDAL band description such as ``"B4"``/``"red"``, or a colour interpretation
    ``red``/``green``/``blue``/``gray``), compared case-insensitively. Default (``None``): the bands
    the file marks red, green, blue (colour interpretation, else band names ``red``, ``green``,
    ``blue``); else its only band (grey); else bands 1, 2, 3 of a three-band file — **unless** their
    names are satellite band numbers (``B2``, ``B03``, ``SR_B4``) other than ``B4, B3, B2`` in that
    order: ascending band numbers put blue first (Landsat, Sentinel-2), so such a file is refused
    like a 2-band file or a 4+-band file that does not mark its colours (which bands are red, green
    and blue cannot be guessed), naming its band count and names and advising ``--bands`` by name
    (:func:`suggest_bands`).
``stretch`` (:class:`Stretch`, CLI text in brackets)
    How values become 0..255:

    * ``auto`` (default) — 8-bit data as it is; **any other data type gets the percentile stretch
      2,98**, and the process logs one line saying so (once per data type): 16-bit or float data is
      never silently cut at 255 nor shown as black.
    * percentiles (``2,98``, the torchgeo/QGIS default; ``0,100`` is min-max) — per band, over the
      valid pixels: values at or below the low percentile become 0, at or above the high one 255,
      linear in between.
    * a fixed value range (``range:0,3000``) — the same limits for every band and every image (so
      images stay comparable, e.g. surface reflectance x 10000).
    * ``none`` — values used as they are; accepted only when every valid value lies in 0..255
      (integers), otherwise refused, naming the file, its data type and its largest value.

    Explicit limits (``limits=``) override all of this: :mod:`~rsmmvp_tasks.imagery.tile` computes
    one set per *scene* so that its tiles share one stretch.
``nodata``
    A value that marks missing pixels, overriding the file's own (Landsat Level-1 files mark fill
    with 0 but do not declare it). Without it: the file's nodata value and masks (rasterio), a
    transparent alpha (PIL), and NaN in float data. Missing pixels are left out of the percentile
    statistics and drawn black.

Result: :class:`ReadResult` — ``image`` (RGB, 8-bit), the bands and limits used, the share of valid
pixels, and for georeferenced rasters ``crs`` (``"EPSG:32621"``, or WKT), ``transform`` (the affine
``(a, b, c, d, e, f)`` of the pixels read, i.e. of the window) and ``bounds`` (``left, bottom, right,
top`` in CRS units).

Errors: :class:`ImageryError` (an :class:`~rsmmvp_tasks.errors.InputError`) for settings that do not
fit an image (a band it lacks, ``none`` on 16-bit values, an ambiguous band layout) and for files
no reader can open; the message names the file and what to pass instead.
"""

from __future__ import annotations

import io
import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError

__all__ = [
    "DEFAULT_PERCENTILES",
    "PIL_SUFFIXES",
    "TRUE_COLOUR_NAMES",
    "ImageryError",
    "RasterData",
    "RasterPlan",
    "ReadResult",
    "ReadSettings",
    "Stretch",
    "compute_limits",
    "parse_bands",
    "plan_dataset",
    "read_array",
    "read_dataset",
    "read_image",
    "read_window",
    "sorted_bounds",
    "stretch_to_uint8",
    "suggest_bands",
    "to_uint8",
    "window_boxes",
]

log = logging.getLogger(__name__)

#: The torchgeo / QGIS default percentile stretch (2nd to 98th percentile of the valid pixels).
DEFAULT_PERCENTILES: tuple[float, float] = (2.0, 98.0)
#: Files read with PIL; everything else goes to rasterio (GDAL).
PIL_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif")
#: Colour interpretations that name a display colour, as GDAL spells them.
_COLOUR_NAMES = ("red", "green", "blue")

# data types announced by the "auto" stretch in this process (one log line each)
_announced: set[str] = set()


class ImageryError(InputError):
    """An image that cannot be read with the given settings (the message names the file and the fix)."""


@dataclass(frozen=True)
class Stretch:
    """How values become 0..255: ``mode`` is ``auto``, ``percentile``, ``range`` or ``none``.

    ``low``/``high`` are percentiles (``percentile``) or values (``range``); ``None`` otherwise.
    """

    mode: str = "auto"
    low: float | None = None
    high: float | None = None

    @classmethod
    def parse(cls, text: str | Sequence[float] | Stretch | None) -> Stretch:
        """``"auto"``, ``"none"``, ``"2,98"`` (percentiles), ``"range:0,3000"`` or a ``(low, high)`` pair
        of percentiles; :class:`~rsmmvp_tasks.errors.UsageError`-like :class:`ImageryError` when malformed."""
        if text is None:
            return cls()
        if isinstance(text, Stretch):
            return text
        if not isinstance(text, str):
            low, high = (float(v) for v in text)
            return cls._checked("percentile", low, high, f"{low:g},{high:g}")
        raw = text.strip().lower()
        if raw in ("auto", ""):
            return cls()
        if raw == "none":
            return cls("none")
        mode, body = ("range", raw[len("range:"):]) if raw.startswith("range:") else ("percentile", raw)
        parts = body.split(",")
        try:
            low, high = (float(p) for p in parts)
        except ValueError:
            raise ImageryError(
                f"--stretch {text!r}: expected auto, none, two percentiles LOW,HIGH (e.g. 2,98) or "
                "range:LOW,HIGH (values, e.g. range:0,3000)") from None
        return cls._checked(mode, low, high, text)

    @classmethod
    def _checked(cls, mode: str, low: float, high: float, text: str) -> Stretch:
        if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
            raise ImageryError(f"--stretch {text!r}: LOW must be below HIGH (finite numbers)")
        if mode == "percentile" and not 0.0 <= low < high <= 100.0:
            raise ImageryError(f"--stretch {text!r}: percentiles lie in 0..100")
        return cls(mode, low, high)

    def describe(self) -> str:
        """The CLI text of this stretch (``parse(describe())`` gives it back)."""
        if self.mode in ("auto", "none"):
            return self.mode
        text = f"{self.low:g},{self.high:g}"
        return f"range:{text}" if self.mode == "range" else text


def parse_bands(text: str | Sequence[int | str] | None) -> tuple[int | str, ...] | None:
    """``"4,3,2"`` -> ``(4, 3, 2)``; ``"red,green,blue"`` -> names; ``None``/``""`` -> ``None`` (the default).

    Numbers are 1-based band indices (>= 1). One or three bands.
    """
    if text is None:
        return None
    items: list[int | str] = []
    parts = text.split(",") if isinstance(text, str) else list(text)
    for part in parts:
        if isinstance(part, str):
            part = part.strip()
            if not part:
                continue
            if part.lstrip("-").isdigit():
                part = int(part)
        if isinstance(part, int) and not isinstance(part, bool):
            if part < 1:
                raise ImageryError(f"--bands {text!r}: band numbers start at 1 (as in GDAL), got {part}")
        elif not isinstance(part, str):
            raise ImageryError(f"--bands {text!r}: {part!r} is neither a band number nor a band name")
        items.append(part)
    if not items:
        return None
    if len(items) not in (1, 3):
        raise ImageryError(f"--bands {text!r}: give three bands (red, green, blue) or one (grey), got {len(items)}")
    return tuple(items)


@dataclass(frozen=True)
class ReadSettings:
    """Band selection, stretch and nodata override (see the module docstring)."""

    bands: tuple[int | str, ...] | None = None
    stretch: Stretch = field(default_factory=Stretch)
    nodata: float | None = None

    @classmethod
    def from_options(cls, bands: str | Sequence[int | str] | None = None, stretch: str | Stretch | None = None,
                     nodata: float | str | None = None) -> ReadSettings:
        """Settings from CLI-style text (``bands="4,3,2"``, ``stretch="2,98"``, ``nodata="0"``)."""
        if isinstance(nodata, str):
            try:
                nodata = float(nodata)
            except ValueError:
                raise ImageryError(f"--nodata {nodata!r} is not a number") from None
        return cls(parse_bands(bands), Stretch.parse(stretch), nodata)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ReadSettings:
        """The inverse of :meth:`describe` (``None`` or ``{}`` gives the defaults)."""
        data = data or {}
        return cls.from_options(data.get("bands"), data.get("stretch"), data.get("nodata"))

    def describe(self) -> dict[str, Any]:
        """JSON-ready: ``{"bands": [..] | None, "stretch": "auto" | "2,98" | ..., "nodata": float | None}``."""
        return {"bands": list(self.bands) if self.bands is not None else None,
                "stretch": self.stretch.describe(), "nodata": self.nodata}

    @property
    def is_default(self) -> bool:
        return self == ReadSettings()


@dataclass
class RasterData:
    """Pixels as numbers: ``array`` ``(bands, h, w)`` of the selected bands, ``valid`` ``(h, w)`` bool.

    ``bands`` are the 1-based indices used; ``crs``/``transform``/``bounds`` describe the pixels read
    (``None`` for an image without a georeference).
    """

    array: Any
    valid: Any
    dtype: str
    bands: tuple[int, ...]
    band_names: tuple[str | None, ...]
    source: str
    reader: str  # "rasterio" | "pil"
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    bounds: tuple[float, float, float, float] | None = None
    rgb: Any = None  # PIL path: an RGB image to use as is (8-bit, default bands); None otherwise


@dataclass
class ReadResult:
    """An image ready for an encoder or a person, and what was done to get it."""

    image: Any  # PIL.Image.Image, mode "RGB"
    source: str
    dtype: str
    bands: tuple[int, ...]
    stretch: str  # what was applied: "none", "2,98", "range:0,3000", or "limits" (given explicitly)
    limits: list[tuple[float, float]] | None  # per output band; None when values were used as they are
    valid_fraction: float
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    bounds: tuple[float, float, float, float] | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready provenance of the pixels (no image)."""
        return {"dtype": self.dtype, "bands": list(self.bands), "stretch": self.stretch,
                "limits": [[float(lo), float(hi)] for lo, hi in self.limits] if self.limits else None,
                "valid_fraction": round(self.valid_fraction, 4), "crs": self.crs,
                "transform": list(self.transform) if self.transform else None,
                "bounds": list(self.bounds) if self.bounds else None}


def _name(source: Any) -> str:
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes>"
    return str(source)


def _is_tiff(head: bytes) -> bool:
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _uses_rasterio(source: Any) -> bool:
    if isinstance(source, (bytes, bytearray)):
        return _is_tiff(bytes(source[:4]))
    return Path(str(source)).suffix.lower() not in PIL_SUFFIXES


def _import_rasterio(source: Any) -> Any:
    try:
        import rasterio
    except ImportError:  # pragma: no cover - rasterio is in install_requires
        raise ImageryError(f"{_name(source)}: reading GeoTIFF and other GDAL formats needs rasterio "
                           "(pip install rasterio), which was not found") from None
    return rasterio


#: A band name that is a satellite band number: ``B2``, ``B03``, ``SR_B4`` (lower case).
_BAND_NUMBER = re.compile(r"(?:sr_)?b0*(\d+)")
#: Band names that mean red, green, blue, by naming convention (compared case-insensitively):
#: colour words; Landsat 8/9 OLI and Sentinel-2 MSI band numbers (B4 red, B3 green, B2 blue).
TRUE_COLOUR_NAMES: tuple[tuple[str, str, str], ...] = (
    ("red", "green", "blue"), ("B4", "B3", "B2"), ("B04", "B03", "B02"), ("SR_B4", "SR_B3", "SR_B2"))


def suggest_bands(names: Sequence[str | None]) -> str:
    """The ``--bands`` advice for a file whose colours are not marked, in words.

    Where the file names its bands (GDAL band descriptions) the advice is **by name**: a set of
    :data:`TRUE_COLOUR_NAMES` the file has (``--bands B4,B3,B2``: true colour for Landsat 8/9 and
    Sentinel-2), else three of its own names as an example of the syntax, saying that the choice is
    the user's. Without names it is by number (``--bands R,G,B``, 1-based). Never a numeric guess for
    a named file: band 4 of a file holding B2..B5 is near-infrared, not red.
    """
    have = {(n or "").strip().lower(): n for n in names if n and n.strip()}
    for triple in TRUE_COLOUR_NAMES:
        if all(t.lower() in have for t in triple):
            picked = ",".join(str(have[t.lower()]).strip() for t in triple)
            extra = "; Landsat 4-7 number them one lower: --bands B3,B2,B1" if triple[0] == "B4" and "b1" in have else ""
            return (f"--bands {picked} (the bands these names give as red, green, blue: true colour for Landsat 8/9 and "
                    f"Sentinel-2{extra}), or --bands NAME for one band")
    if len(have) >= 3:
        example = ",".join(str(n).strip() for n in list(have.values())[:3])
        return (f"--bands R,G,B by the names above (e.g. --bands {example}, if those are red, green, blue) or by "
                f"number (1-based), or --bands N for one band")
    return "--bands R,G,B (1-based band numbers, e.g. --bands 4,3,2 for a Landsat-8 stack of bands 1-7) or --bands N for one band"


def _numbers_not_rgb(names: Sequence[str]) -> bool:
    """Whether ``names`` (lower case) are all satellite band numbers and not ``B4, B3, B2`` in that order."""
    hits = [_BAND_NUMBER.fullmatch(n) for n in names]
    return all(hits) and [int(h.group(1)) for h in hits if h] != [4, 3, 2]


def _pick_bands(wanted: tuple[int | str, ...] | None, count: int, names: Sequence[str | None],
                colours: Sequence[str], alpha: set[int], where: str) -> tuple[int, ...]:
    """1-based indices of the bands to show (see ``bands`` in the module docstring)."""
    listing = ", ".join(f"{k + 1}={names[k] or colours[k]}" for k in range(count))
    if wanted is None:
        if all(c in colours for c in _COLOUR_NAMES):
            return tuple(colours.index(c) + 1 for c in _COLOUR_NAMES)
        lowered = [(n or "").strip().lower() for n in names]
        if all(lowered.count(c) == 1 for c in _COLOUR_NAMES):
            return tuple(lowered.index(c) + 1 for c in _COLOUR_NAMES)
        data = [k + 1 for k in range(count) if k + 1 not in alpha]
        if len(data) == 1:
            return (data[0],)
        if len(data) == 3 and not _numbers_not_rgb([lowered[k - 1] for k in data]):
            return tuple(data)
        raise ImageryError(
            f"{where}: {count} bands ({listing}) and none marked red, green and blue; say which bands to show "
            f"with {suggest_bands(names)}")
    out: list[int] = []
    for item in wanted:
        if isinstance(item, int):
            if item > count:
                raise ImageryError(f"{where}: has {count} band(s) ({listing}); --bands asks for band {item}")
            out.append(item)
            continue
        key = item.strip().lower()
        hits = [k + 1 for k in range(count) if (names[k] or "").strip().lower() == key]
        if not hits:
            hits = [k + 1 for k in range(count) if colours[k] == key]
        if len(hits) != 1:
            found = "no band" if not hits else f"{len(hits)} bands"
            raise ImageryError(f"{where}: {found} named {item!r}; its bands are {listing}. "
                               "Give band numbers (1-based) instead")
        out.append(hits[0])
    return tuple(out)


def _read_rasterio(source: Any, settings: ReadSettings, window: Any, out_shape: tuple[int, int] | None,
                   max_side: int | None = None) -> RasterData:
    rasterio = _import_rasterio(source)
    from rasterio.errors import NotGeoreferencedWarning, RasterioError
    from rasterio.io import MemoryFile

    where = _name(source)
    memfile = MemoryFile(bytes(source)) if isinstance(source, (bytes, bytearray)) else None
    try:
        with warnings.catch_warnings():
            # a plain TIFF (no CRS) is a valid image: its metadata says crs=None, no warning needed
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with (memfile.open() if memfile else rasterio.open(source)) as ds:
                return read_dataset(ds, settings, window=window, out_shape=out_shape, where=where,
                                    max_side=max_side)
    except RasterioError as exc:
        raise ImageryError(f"{where}: not a readable raster ({exc})") from None
    finally:
        if memfile is not None:
            memfile.close()


@dataclass(frozen=True)
class RasterPlan:
    """What reading an open raster needs, worked out once (:func:`plan_dataset`) and reused per window.

    ``bands`` (1-based) and their ``names``; ``mask`` says how the valid-pixel mask is made:
    ``"value"`` — pixels equal to ``nodata`` (the ``--nodata`` override, or the file's nodata value
    when that is all GDAL would mask: computed from the data, no second read), ``"all"`` — every
    pixel valid (GDAL says so), ``"gdal"`` — GDAL's mask bands (``read_masks``: per-dataset masks,
    alpha). Float data also marks NaN/inf invalid.
    """

    bands: tuple[int, ...]
    names: tuple[str | None, ...]
    mask: str
    nodata: float | None = None


def plan_dataset(ds: Any, settings: ReadSettings | None = None, where: str | None = None) -> RasterPlan:
    """The :class:`RasterPlan` of ``settings`` on the open rasterio dataset ``ds``.

    Raises :class:`ImageryError` when the settings do not fit the file (a band it lacks, an
    ambiguous band layout; the message names ``where`` and the ``--bands`` to give).
    """
    from rasterio.enums import MaskFlags

    settings = settings or ReadSettings()
    where = where or str(ds.name)
    colours = [ci.name.lower() for ci in ds.colorinterp]
    alpha = {k + 1 for k, c in enumerate(colours) if c == "alpha"}
    names = list(ds.descriptions or (None,) * ds.count)
    bands = _pick_bands(settings.bands, ds.count, names, colours, alpha, where)
    picked = tuple(names[b - 1] for b in bands)
    if settings.nodata is not None:
        return RasterPlan(bands, picked, "value", settings.nodata)
    flags = [list(ds.mask_flag_enums[b - 1]) for b in bands]
    if all(f == [MaskFlags.all_valid] for f in flags):
        return RasterPlan(bands, picked, "all")
    if ds.nodata is not None and all(f == [MaskFlags.nodata] for f in flags):
        return RasterPlan(bands, picked, "value", float(ds.nodata))
    return RasterPlan(bands, picked, "gdal")


def read_window(ds: Any, plan: RasterPlan, window: Any = None,
                out_shape: tuple[int, int] | None = None) -> tuple[Any, Any]:
    """``(array, valid)``: the planned bands of ``window`` (``(bands, h, w)``) and its valid-pixel mask
    ``(h, w)`` bool, reading the pixels once (GDAL's masks only where the plan says ``"gdal"``).

    ``out_shape`` ``(h, w)`` reads a decimated copy (nearest neighbour). Raises
    ``rasterio.errors.RasterioError`` when the pixels cannot be decoded.
    """
    import numpy as np

    kwargs: dict[str, Any] = {"window": window}
    if out_shape is not None:
        kwargs["out_shape"] = (len(plan.bands), *out_shape)
    array = ds.read(list(plan.bands), **kwargs)
    if plan.mask == "value":
        valid = ~_equal(array, plan.nodata).any(axis=0)  # type: ignore[arg-type]
    elif plan.mask == "all":
        valid = np.ones(array.shape[1:], bool)
    else:
        valid = (ds.read_masks(list(plan.bands), **kwargs) > 0).all(axis=0)
    if array.dtype.kind == "f":
        valid &= np.isfinite(array).all(axis=0)
    return array, valid


def read_dataset(ds: Any, settings: ReadSettings | None = None, *, window: Any = None,
                 out_shape: tuple[int, int] | None = None, where: str | None = None,
                 max_side: int | None = None) -> RasterData:
    """:func:`read_array` on an open :class:`rasterio.io.DatasetReader` (e.g. one scene read tile by tile).

    Raises ``rasterio.errors.RasterioError`` when the pixels cannot be decoded (a damaged file) and
    :class:`ImageryError` when the settings do not fit the file.
    """
    from rasterio.windows import Window

    where = where or str(ds.name)
    plan = plan_dataset(ds, settings, where)
    if out_shape is None and max_side is not None:
        h, w = (int(window.height), int(window.width)) if window is not None else (ds.height, ds.width)
        if max(h, w) > max_side:
            scale = max(h, w) / max_side
            out_shape = (max(1, round(h / scale)), max(1, round(w / scale)))
    array, valid = read_window(ds, plan, window, out_shape)
    win = window if window is not None else Window(0, 0, ds.width, ds.height)
    crs = ds.crs.to_string() if ds.crs else None
    georef = ds.crs is not None or not ds.transform.is_identity
    transform = tuple(ds.window_transform(win))[:6] if georef else None
    bounds = None
    if georef:  # (left, bottom, right, top) of the box holding the window, whatever the axis directions
        box = window_boxes(ds.transform, [(win.col_off, win.row_off, win.width, win.height)])[0]
        bounds = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    return RasterData(array, valid, str(array.dtype), plan.bands, plan.names, where,
                      "rasterio", crs=crs, transform=transform, bounds=bounds)


def window_boxes(transform: Any, windows: Sequence[tuple[int, int, int, int]]) -> Any:
    """``(n, 4)`` float array: each window's ``(left, bottom, right, top)`` under ``transform``: the box
    of its four corners, so sorted whichever way the axes run; for a north-up or south-up raster the
    values of ``rasterio.windows.bounds``, for a rotated one the box that holds the whole window."""
    import numpy as np

    if not windows:
        return np.zeros((0, 4))
    w = np.asarray(windows, dtype=np.float64)
    cols = np.stack([w[:, 0], w[:, 0] + w[:, 2], w[:, 0], w[:, 0] + w[:, 2]], axis=1)
    rows = np.stack([w[:, 1], w[:, 1], w[:, 1] + w[:, 3], w[:, 1] + w[:, 3]], axis=1)
    a, b, c, d, e, f = (float(v) for v in tuple(transform)[:6])
    xs, ys = a * cols + b * rows + c, d * cols + e * rows + f
    return np.stack([xs.min(axis=1), ys.min(axis=1), xs.max(axis=1), ys.max(axis=1)], axis=1)


def sorted_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` with ``left <= right`` and ``bottom <= top``, whichever way the
    raster's axes run (a south-up raster's ``rasterio.windows.bounds`` gives ``bottom > top``)."""
    x1, y1, x2, y2 = (float(v) for v in bounds)
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _equal(band: Any, value: float) -> Any:
    import numpy as np

    if isinstance(value, float) and math.isnan(value):
        return np.isnan(band) if band.dtype.kind == "f" else np.zeros(band.shape, bool)
    return band == value


_PIL_NUMERIC = {"I;16": "uint16", "I;16B": "uint16", "I;16L": "uint16", "I": "int32", "F": "float32"}


def _read_pil(source: Any, settings: ReadSettings, window: Any) -> RasterData:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    where = _name(source)
    try:
        with Image.open(io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else source) as im:
            im.load()
            if window is not None:
                c, r, w, h = (int(v) for v in (window.col_off, window.row_off, window.width, window.height))
                im = im.crop((c, r, c + w, r + h))
            mode = im.mode
            if mode in _PIL_NUMERIC:
                array = np.asarray(im).astype(_PIL_NUMERIC[mode], copy=False)[None]
                names: list[str | None] = [None]
                colours = ["gray"]
                alpha_plane = None
            else:
                if mode in ("P", "PA"):
                    im = im.convert("RGBA")
                elif mode not in ("1", "L", "LA", "RGB", "RGBA"):
                    im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
                if im.mode == "1":
                    im = im.convert("L")
                band_names = im.getbands()
                array = np.asarray(im)
                array = array[None] if array.ndim == 2 else np.moveaxis(array, -1, 0)
                colours = [{"R": "red", "G": "green", "B": "blue", "A": "alpha", "L": "gray"}.get(b, b.lower())
                           for b in band_names]
                names = list(band_names)
                alpha_plane = array[colours.index("alpha")] if "alpha" in colours else None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageryError(f"{where}: not a readable image ({type(exc).__name__}: {exc})") from None
    count = array.shape[0]
    alpha = {k + 1 for k, c in enumerate(colours) if c == "alpha"}
    bands = _pick_bands(settings.bands, count, names, colours, alpha, where)
    valid = np.ones(array.shape[1:], bool) if alpha_plane is None else alpha_plane > 0
    selected = array[[b - 1 for b in bands]]
    if settings.nodata is not None:
        for band in selected:
            valid &= ~_equal(band, settings.nodata)
    if selected.dtype.kind == "f":
        valid &= np.isfinite(selected).all(axis=0)
    return RasterData(selected, valid, str(selected.dtype), bands, tuple(names[b - 1] for b in bands), where, "pil")


def read_array(source: str | Path | bytes, settings: ReadSettings | None = None, *, window: Any = None,
               out_shape: tuple[int, int] | None = None, max_side: int | None = None) -> RasterData:
    """The selected bands of ``source`` as numbers, with the valid-pixel mask and the georeference.

    ``window`` is a :class:`rasterio.windows.Window` (anything with ``col_off``, ``row_off``, ``width``,
    ``height``): only those pixels are read. ``out_shape`` ``(h, w)`` (rasterio only) reads a
    decimated copy (nearest neighbour), e.g. for scene statistics; ``max_side`` does so only when the
    raster is larger than that (e.g. a thumbnail of a whole scene). PIL images are read whole.
    """
    settings = settings or ReadSettings()
    if isinstance(source, Path):
        source = str(source)
    if not isinstance(source, (bytes, bytearray)) and not Path(source).is_file():
        raise ImageryError(f"image not found: {source}")
    if _uses_rasterio(source):
        return _read_rasterio(source, settings, window, out_shape, max_side)
    if out_shape is not None:
        raise ImageryError(f"{_name(source)}: decimated reads (out_shape) need a raster read by rasterio")
    return _read_pil(source, settings, window)


def _is_8bit(dtype: str) -> bool:
    return dtype in ("uint8", "bool")


def compute_limits(data: RasterData, stretch: Stretch) -> list[tuple[float, float]] | None:
    """Per-band ``(low, high)`` value limits of ``stretch`` on ``data``'s valid pixels; ``None`` = as is.

    ``auto`` resolves to ``None`` for 8-bit data and to the :data:`DEFAULT_PERCENTILES` otherwise
    (logging once per data type and process). ``none`` on values outside 0..255 raises
    :class:`ImageryError`. A band without valid pixels gets ``(0, 0)`` (drawn black); a constant band
    ``(v, v)`` (drawn black at ``v``).
    """
    import numpy as np

    mode = stretch.mode
    if mode == "auto":
        if _is_8bit(data.dtype):
            return None
        if data.dtype not in _announced:
            _announced.add(data.dtype)
            log.info("%s holds %s values: stretching each band's %g-%g percentile of valid pixels to 0-255 (the default "
                     "for data that is not 8-bit; choose with --stretch LOW,HIGH, range:LOW,HIGH or none)",
                     data.source, data.dtype, *DEFAULT_PERCENTILES)
        stretch = Stretch("percentile", *DEFAULT_PERCENTILES)
        mode = "percentile"
    if mode == "none":
        if _is_8bit(data.dtype):
            return None
        values = data.array[:, data.valid]
        if values.size:
            lo, hi = float(values.min()), float(values.max())
            integral = data.dtype.startswith(("uint", "int")) or bool(np.all(values == np.round(values)))
            if lo < 0 or hi > 255 or not integral:
                raise ImageryError(
                    f"{data.source}: {data.dtype} values from {lo:g} to {hi:g} do not fit 8 bits as they are; "
                    f"--stretch none would cut or truncate them. Use --stretch auto (2-98 percentiles), LOW,HIGH "
                    f"percentiles or range:LOW,HIGH")
        return None
    if mode == "range":
        return [(float(stretch.low), float(stretch.high))] * data.array.shape[0]
    limits = []
    for band in data.array:
        values = band[data.valid]
        if values.size == 0:
            limits.append((0.0, 0.0))
            continue
        lo, hi = np.percentile(values, [stretch.low, stretch.high])
        limits.append((float(lo), float(hi)))
    return limits


def stretch_to_uint8(array: Any, valid: Any, limits: Sequence[tuple[float, float]] | None) -> Any:
    """``(h, w, 3)`` uint8 of ``array`` ``(bands, h, w)``: each band mapped linearly from its ``(low, high)``
    to 0..255 (clipped, rounded half to even, in float32: exact for 8- to 16-bit integers), pixels not
    ``valid`` 0; one band is repeated as grey. ``limits=None`` casts values as they are (bool: 0/255).
    A band with ``high <= low`` is drawn black."""
    import numpy as np

    if limits is None:
        out = array.astype(np.uint8) * np.uint8(255) if array.dtype == bool else array.astype(np.uint8, copy=True)
    else:
        lo = np.array([float(x[0]) for x in limits], np.float32)
        span = np.array([float(x[1]) - float(x[0]) for x in limits], np.float64)
        gain = np.where(span > 0, 255.0 / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)
        scaled = array.astype(np.float32)
        scaled -= lo[:, None, None]
        scaled *= gain[:, None, None]
        if array.dtype.kind == "f":
            np.nan_to_num(scaled, copy=False, nan=0.0)
        np.clip(scaled, 0, 255, out=scaled)
        out = np.rint(scaled, out=scaled).astype(np.uint8)
    out *= valid  # invalid pixels black
    if out.shape[0] == 1:
        out = np.repeat(out, 3, axis=0)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def to_uint8(data: RasterData, limits: Sequence[tuple[float, float]] | None) -> Any:
    """:func:`stretch_to_uint8` of ``data``'s array and valid mask."""
    return stretch_to_uint8(data.array, data.valid, limits)


def read_image(source: str | Path | bytes, settings: ReadSettings | None = None, *, window: Any = None,
               limits: Sequence[tuple[float, float]] | None = None, max_side: int | None = None) -> ReadResult:
    """Read ``source`` (a file path or encoded bytes) as an RGB 8-bit PIL image with its metadata.

    ``settings`` picks the bands, stretch and nodata (module docstring); ``window`` reads a part;
    ``limits`` (per selected band) replaces the stretch, e.g. a scene's shared limits; ``max_side``
    reads a raster larger than that decimated (see :func:`read_array`). Raises
    :class:`ImageryError` naming the file when it cannot be read as asked.
    """
    from PIL import Image

    settings = settings or ReadSettings()
    data = read_array(source, settings, window=window, max_side=max_side)
    if limits is not None:
        if len(limits) != len(data.bands):
            raise ImageryError(f"{data.source}: {len(limits)} limits given for {len(data.bands)} bands")
        used, applied = [tuple(map(float, lim)) for lim in limits], "limits"
    else:
        used = compute_limits(data, settings.stretch)
        mode = settings.stretch.mode
        applied = ("none" if used is None else
                   Stretch("percentile", *DEFAULT_PERCENTILES).describe() if mode == "auto" else settings.stretch.describe())
    h, w = data.array.shape[1:]
    valid_fraction = float(data.valid.mean()) if h and w else 0.0
    image = Image.fromarray(to_uint8(data, used)) if h and w else Image.new("RGB", (w, h))
    return ReadResult(image, data.source, data.dtype, data.bands, applied, used, valid_fraction,
                      crs=data.crs, transform=data.transform, bounds=data.bounds)
