"""``rsmmvp tile SCENE... --out DIR``: cut remote-sensing scenes into 8-bit PNG tiles plus a tile table.

See :mod:`rsmmvp_tasks.imagery.tile` (grid, per-scene stretch, table, appending, resuming, the
folder lock) and :mod:`rsmmvp_tasks.imagery.read` (bands, stretch, nodata). Exit status:

* 0 — tiles are in the folder (unreadable scenes and scenes that gave no tile are reported and skipped);
* 1 — the scenes were read but **no scene gave a tile** (each smaller than ``--size``, or all its
  tiles beyond ``--max-nodata``): one line saying why (:class:`~rsmmvp_tasks.imagery.tile.NoTilesError`);
* 2 — usage or bad input: every scene unreadable (the reason printed once), one with ``--strict``, a
  scene changed since it was tiled into ``--out``, other settings than the folder's, or another
  ``rsmmvp tile`` writing to the same ``--out`` (it is named; wait or use another folder).
"""

from __future__ import annotations

import argparse

from rsmmvp_tasks.commands.argtypes import positive_int

__all__ = ["add_read_options", "read_settings", "register", "run"]


def add_read_options(p: argparse.ArgumentParser) -> None:
    """``--bands``, ``--stretch`` and ``--nodata``: how pixels become 8-bit RGB (shared with ``embed``)."""
    p.add_argument("--bands", default=None, metavar="R,G,B",
                   help="bands shown as red, green, blue (1-based, e.g. 4,3,2 for Landsat-8 true colour; names "
                        "such as red,green,blue where the file names its bands), or one band for grey. Default: "
                        "the bands the file marks red/green/blue, its only band, or bands 1,2,3 of a 3-band file")
    p.add_argument("--stretch", default="auto", metavar="LOW,HIGH",
                   help="how values become 0-255: LOW,HIGH percentiles of the valid pixels per band (e.g. 2,98, "
                        "the torchgeo/QGIS default), range:LOW,HIGH fixed values, none (8-bit values as they are), "
                        "or auto (default): 8-bit data as it is, anything else 2,98 (logged once)")
    p.add_argument("--nodata", default=None, metavar="VALUE",
                   help="pixel value that marks missing data (overrides the file's; e.g. 0 for Landsat Level-1 fill)")


def read_settings(args: argparse.Namespace) -> object:
    """The :class:`~rsmmvp_tasks.imagery.read.ReadSettings` of ``--bands/--stretch/--nodata``."""
    from rsmmvp_tasks.imagery.read import ReadSettings

    return ReadSettings.from_options(args.bands, args.stretch, args.nodata)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a share between 0 and 1")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "tile",
        help="cut GeoTIFF (and other GDAL) scenes into 8-bit PNG tiles with a table of where each tile is",
        description=(
            "Cut each SCENE into SIZE x SIZE tiles (full tiles only, every STRIDE pixels), stretched to 8 bits with "
            "one stretch per scene, written as DIR/<scene>/<scene>_r<row>_c<col>.png, plus DIR/tiles.parquet and "
            "DIR/tiles.csv (source, window, CRS, bounds, centre lon/lat of every tile) and DIR/tiles.json. Rerunning "
            "the same command resumes; runs into one DIR accumulate scenes (a file name already taken there gets a "
            "short hash of its path), one run at a time. Exit 1 when no scene gives a tile. Then: rsmmvp embed DIR ..."
        ),
    )
    p.add_argument("scenes", nargs="+", metavar="SCENE", help="raster files rasterio can read (GeoTIFF, JP2, VRT, ...)")
    p.add_argument("--out", "-o", required=True, metavar="DIR", help="output folder (created; resumed when it exists)")
    p.add_argument("--size", type=positive_int, default=224, help="tile side in pixels (default: 224)")
    p.add_argument("--stride", type=positive_int, default=None, help="pixels between tile origins (default: --size)")
    add_read_options(p)
    p.add_argument("--max-nodata", type=_share, default=0.5, metavar="SHARE",
                   help="skip tiles with more than this share of nodata pixels (default: 0.5)")
    p.add_argument("--strict", action="store_true", help="stop at the first unreadable scene instead of skipping it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rsmmvp_tasks.errors import InputError
    from rsmmvp_tasks.imagery.tile import NoTilesError, TileSpec, tile_scenes

    spec = TileSpec(size=args.size, stride=args.stride, read=read_settings(args), max_nodata=args.max_nodata)
    report = tile_scenes(args.scenes, args.out, spec, strict=args.strict, progress=not args.no_progress)
    if not (report.written or report.already):
        if report.failed and not report.empty:
            scene, detail = report.failed[0]
            if len(report.failed) == 1:  # tile_scenes left it to us: said once, here
                raise InputError(f"{scene}: cannot be tiled: {detail}")
            raise InputError(f"no scene could be tiled ({len(report.failed)} failed; the reasons are above)")
        scene, reason = report.empty[0] if report.empty else (args.scenes[0], "no tile")
        more = f" (and {len(report.empty) - 1} other scene(s) likewise)" if len(report.empty) > 1 else ""
        raise NoTilesError(f"no tile written: {scene}: {reason}{more}; use a smaller --size"
                           + (" or a higher --max-nodata" if "nodata" in reason else ""))
    print(f"{report.out}: {report.written} tiles written, {report.already} already there, {report.skipped_nodata} "
          f"skipped (> {args.max_nodata:g} nodata), {len(report.failed)} scene(s) could not be tiled -> {report.table}")
    return 0
