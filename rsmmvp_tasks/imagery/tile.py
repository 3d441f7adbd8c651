"""``rsmmvp tile``: cut scenes into 8-bit PNG tiles and record where each tile is.

Grid
----
A scene of ``W x H`` pixels gives the windows ``(col_off, row_off, size, size)`` with
``col_off = 0, stride, 2*stride, ...`` while ``col_off + size <= W`` (rows alike): full tiles only,
the remainder at the right and bottom edges is not tiled (:func:`tile_windows`). ``stride`` defaults
to ``size`` (tiles touch, no overlap); a smaller stride makes overlapping tiles.

Pixels
------
Every tile of a scene gets **the same stretch**: limits are computed once per scene, on a decimated
read of at most ``stats_pixels`` pixels (nearest neighbour, like QGIS' estimated statistics), with
the settings of :mod:`~rsmmvp_tasks.imagery.read` (``--bands``, ``--stretch``, ``--nodata``); so tiles
of one scene are comparable, and a tile that is mostly water is not stretched into noise. A tile
whose share of nodata pixels exceeds ``max_nodata`` is not written (counted as skipped).

Output folder ``OUT``
---------------------
``OUT/<scene>/<scene>_r<row_off>_c<col_off>.png``
    the tiles (``<scene>`` is the file's stem; scenes given with the same stem get ``-<8 hex>`` of
    their path appended).
``OUT/tiles.parquet`` and ``OUT/tiles.csv``
    one row per tile written, :data:`TILE_COLUMNS`: ``tile`` (path relative to ``OUT``),
    ``scene`` (absolute path of the scene file), ``scene_name``, the window ``col_off``,
    ``row_off``, ``width``, ``height`` (pixels of the scene), ``crs``, ``left``, ``bottom``,
    ``right``, ``top`` (the window's bounds in CRS units, ``rasterio.windows.bounds``), ``lon``,
    ``lat`` (its centre, WGS 84 degrees), ``valid_fraction``, ``bands`` (1-based, ``"4,3,2"``),
    ``stretch`` (as asked) and ``limits`` (JSON ``[[low, high], ...]`` per band: the scene's stretch).
    A scene without georeference gets empty CRS, bounds and lon/lat.
``OUT/tiles.json``
    the settings (``size``, ``stride``, ``max_nodata``, ``read``), and per scene its size, CRS,
    bands, limits, tiles written and skipped, and whether it is complete; plus the scenes that
    could not be read (``errors``).

Resuming: rerunning the same command skips the scenes already complete and, within a scene, the
tiles already recorded in the table whose file exists; a scene's recorded limits are reused so a
resumed scene's tiles match the rest. The table is rewritten (atomically) after every scene and
every :data:`FLUSH_EVERY` tiles. Rerunning with other settings into the same ``OUT`` is refused.

A scene that cannot be opened or decoded, or that the settings do not fit (``--bands 4,3,2`` on a
3-band file), is reported (a warning and an ``errors`` entry) and skipped; ``strict=True`` makes it
fatal (:class:`SceneError`), after saving what was done.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError, UsageError
from rsmmvp_tasks.fileio import atomic_write_bytes, atomic_write_text
from rsmmvp_tasks.imagery.read import ImageryError, ReadSettings, compute_limits, read_dataset, to_uint8

__all__ = [
    "FLUSH_EVERY",
    "TABLE_NAME",
    "TILE_COLUMNS",
    "SceneError",
    "TileReport",
    "TileSpec",
    "read_tile_table",
    "scene_names",
    "tile_scenes",
    "tile_windows",
]

log = logging.getLogger(__name__)

#: The tile table's stem inside the output folder (``tiles.parquet``, ``tiles.csv``, ``tiles.json``).
TABLE_NAME = "tiles"
#: Columns of the tile table, in order.
TILE_COLUMNS: tuple[str, ...] = ("tile", "scene", "scene_name", "col_off", "row_off", "width", "height", "crs",
                                 "left", "bottom", "right", "top", "lon", "lat", "valid_fraction", "bands",
                                 "stretch", "limits")
#: The table is saved after this many new tiles (and after every scene).
FLUSH_EVERY = 500
_FORMAT = 1


class SceneError(InputError):
    """A scene that cannot be read, with ``strict`` on (the message names the file)."""


@dataclass(frozen=True)
class TileSpec:
    """How scenes are cut (see the module docstring)."""

    size: int = 224
    stride: int | None = None  # None: = size
    read: ReadSettings = field(default_factory=ReadSettings)
    max_nodata: float = 0.5
    stats_pixels: int = 4_000_000

    def __post_init__(self) -> None:
        if self.size < 1 or (self.stride is not None and self.stride < 1):
            raise UsageError(f"tile size and stride must be >= 1 (got size {self.size}, stride {self.stride})")
        if not 0.0 <= self.max_nodata <= 1.0:
            raise UsageError(f"--max-nodata is a share of pixels in [0, 1], got {self.max_nodata}")

    @property
    def step(self) -> int:
        return self.stride or self.size

    def describe(self) -> dict[str, Any]:
        """What ``tiles.json`` records (and a resumed run must match)."""
        return {"size": self.size, "stride": self.step, "max_nodata": self.max_nodata, "read": self.read.describe()}


@dataclass
class TileReport:
    """What :func:`tile_scenes` did."""

    out: Path
    scenes: int = 0
    written: int = 0
    already: int = 0
    skipped_nodata: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (scene, error)

    @property
    def table(self) -> Path:
        return self.out / f"{TABLE_NAME}.parquet"


def tile_windows(width: int, height: int, size: int, stride: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """``(col_off, row_off, size, size)`` of every full tile, row by row (see the module docstring)."""
    step = stride or size
    for row in range(0, height - size + 1, step):
        for col in range(0, width - size + 1, step):
            yield col, row, size, size


def scene_names(scenes: Sequence[Path]) -> dict[Path, str]:
    """The output folder name of each scene: its stem, with ``-<8 hex of the path>`` where stems collide."""
    stems: dict[str, int] = {}
    for p in scenes:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    return {p: p.stem if stems[p.stem] == 1 else f"{p.stem}-{hashlib.sha1(str(p).encode()).hexdigest()[:8]}"
            for p in scenes}


def read_tile_table(path: str | Path) -> Any:
    """The tile table (``tiles.parquet`` or ``tiles.csv``, or the folder holding them) as a DataFrame,
    with ``path``: each tile's absolute file path. Raises :class:`~rsmmvp_tasks.errors.InputError`."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / f"{TABLE_NAME}.parquet"
    if not path.is_file():
        raise InputError(f"tile table not found: {path} (write one with `rsmmvp tile SCENE... --out DIR`)")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a tile table ({type(exc).__name__}: {exc})") from None
    missing = [c for c in TILE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: not a tile table written by `rsmmvp tile`; missing column(s) {missing}")
    base = path.resolve().parent
    frame["path"] = [str((base / t).resolve()) for t in frame["tile"]]
    return frame


def _save_png(path: Path, image: Any) -> None:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


class _Table:
    """The tile table and ``tiles.json`` of one output folder, loaded for resuming and saved as it grows."""

    def __init__(self, out: Path, spec: TileSpec) -> None:
        import pandas as pd

        self.out = out
        self.meta_path = out / f"{TABLE_NAME}.json"
        self.parquet = out / f"{TABLE_NAME}.parquet"
        self.meta: dict[str, Any] = {"format": _FORMAT, **spec.describe(), "scenes": {}, "errors": []}
        self.rows: list[dict[str, Any]] = []
        if self.meta_path.is_file():
            try:
                old = json.loads(self.meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"{self.meta_path}: unreadable ({exc}); delete {out} to start over") from None
            diff = [f"{k}: {old.get(k)!r} there, {v!r} now" for k, v in spec.describe().items() if old.get(k) != v]
            if diff:
                raise UsageError(f"{out} holds tiles made with other settings ({'; '.join(diff)}); "
                                 "use another --out, or delete it to start over")
            self.meta["scenes"] = dict(old.get("scenes") or {})
            if self.parquet.is_file():
                self.rows = pd.read_parquet(self.parquet).to_dict(orient="records")
        self.done = {(r["scene"], int(r["col_off"]), int(r["row_off"])) for r in self.rows
                     if (out / r["tile"]).is_file()}
        self.rows = [r for r in self.rows if (r["scene"], int(r["col_off"]), int(r["row_off"])) in self.done]

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.done.add((row["scene"], row["col_off"], row["row_off"]))

    def save(self) -> None:
        import pandas as pd

        from rsmmvp_tasks.fileio import write_csv_safe

        frame = pd.DataFrame(self.rows, columns=list(TILE_COLUMNS))
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(self.parquet, buf.getvalue())
        write_csv_safe(self.out / f"{TABLE_NAME}.csv", frame)
        atomic_write_text(self.meta_path, json.dumps(self.meta, indent=1) + "\n")


def _scene_limits(ds: Any, spec: TileSpec, where: str) -> tuple[list[tuple[float, float]] | None, tuple[int, ...]]:
    """The scene's stretch limits from a decimated read, and the bands they are for."""
    scale = max(1.0, (ds.width * ds.height / spec.stats_pixels) ** 0.5)
    shape = (max(1, int(ds.height / scale)), max(1, int(ds.width / scale)))
    data = read_dataset(ds, spec.read, out_shape=shape if scale > 1 else None, where=where)
    return compute_limits(data, spec.read.stretch), data.bands


def _centres(crs: Any, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
    from rasterio.warp import transform

    if crs is None or not xs:
        return [float("nan")] * len(xs), [float("nan")] * len(xs)
    lons, lats = transform(crs, "EPSG:4326", xs, ys)
    return [float(v) for v in lons], [float(v) for v in lats]


def _tile_scene(scene: Path, name: str, spec: TileSpec, table: _Table, report: TileReport, bar: Any) -> None:
    """Tile one scene into ``table``; rasterio errors propagate to the caller (a damaged scene)."""
    import rasterio
    from rasterio.windows import Window
    from rasterio.windows import bounds as window_bounds

    key = str(scene)
    with rasterio.open(scene) as ds:
        windows = list(tile_windows(ds.width, ds.height, spec.size, spec.stride))
        bar.total = (bar.total or 0) + len(windows)
        bar.refresh()
        state = table.meta["scenes"].get(key)
        if state and state.get("done"):
            report.already += state.get("tiles", 0)
            bar.update(len(windows))
            return
        if state and "limits" in state:
            limits = [tuple(x) for x in state["limits"]] if state["limits"] is not None else None
            bands = tuple(state["bands"])
        else:
            limits, bands = _scene_limits(ds, spec, key)
        crs = ds.crs.to_string() if ds.crs else None
        state = {"name": name, "width": ds.width, "height": ds.height, "crs": crs, "bands": list(bands),
                 "limits": [list(x) for x in limits] if limits is not None else None,
                 "tiles": sum(1 for r in table.rows if r["scene"] == key), "skipped_nodata": 0, "done": False}
        table.meta["scenes"][key] = state
        georef = ds.crs is not None
        all_bounds = [window_bounds(Window(*w), ds.transform) for w in windows]
        lons, lats = _centres(ds.crs, [(b[0] + b[2]) / 2 for b in all_bounds], [(b[1] + b[3]) / 2 for b in all_bounds])
        stretch_text = spec.read.stretch.describe()
        limits_json = json.dumps(state["limits"])
        bands_text = ",".join(str(b) for b in bands)
        settings = ReadSettings(bands, spec.read.stretch, spec.read.nodata)
        folder = table.out / name
        folder.mkdir(parents=True, exist_ok=True)
        since_flush = 0
        for k, (col, row, w, h) in enumerate(windows):
            bar.update(1)
            if (key, col, row) in table.done:
                report.already += 1
                continue
            data = read_dataset(ds, settings, window=Window(col, row, w, h), where=key)
            valid = float(data.valid.mean())
            if 1.0 - valid > spec.max_nodata:
                report.skipped_nodata += 1
                state["skipped_nodata"] += 1
                continue
            if limits is None:
                compute_limits(data, settings.stretch)  # raises on --stretch none with values beyond 0..255
            from PIL import Image

            rel = f"{name}/{name}_r{row:05d}_c{col:05d}.png"
            _save_png(table.out / rel, Image.fromarray(to_uint8(data, limits)))
            left, bottom, right, top = (float(v) for v in all_bounds[k])
            table.add({
                "tile": rel, "scene": key, "scene_name": name, "col_off": col, "row_off": row, "width": w, "height": h,
                "crs": crs, "left": left if georef else None, "bottom": bottom if georef else None,
                "right": right if georef else None, "top": top if georef else None, "lon": lons[k], "lat": lats[k],
                "valid_fraction": round(valid, 4), "bands": bands_text, "stretch": stretch_text, "limits": limits_json,
            })
            report.written += 1
            state["tiles"] += 1
            since_flush += 1
            if since_flush >= FLUSH_EVERY:
                table.save()
                since_flush = 0
        state["done"] = True


def tile_scenes(scenes: Sequence[str | Path], out: str | Path, spec: TileSpec | None = None, *,
                strict: bool = False, progress: bool = True) -> TileReport:
    """Cut ``scenes`` into tiles under ``out`` (see the module docstring); returns what was done.

    A scene that cannot be read, or that the settings do not fit (a band it lacks, ``--stretch none``
    on 16-bit values: :class:`~rsmmvp_tasks.imagery.read.ImageryError`), is reported in
    ``report.failed`` and skipped, or raises :class:`SceneError` when ``strict``. Raises
    :class:`~rsmmvp_tasks.errors.UsageError` when ``out`` holds tiles made with other settings.
    """
    from rasterio.errors import RasterioError
    from tqdm.auto import tqdm

    spec = spec or TileSpec()
    paths = [Path(s).expanduser().resolve() for s in scenes]
    if not paths:
        raise UsageError("no scene given")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"scene(s) not found: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = _Table(out, spec)
    report = TileReport(out=out)
    names = scene_names(list(dict.fromkeys(paths)))
    with tqdm(total=0, desc="tile", unit="tile", disable=not progress) as bar:
        try:
            for scene, name in names.items():
                report.scenes += 1
                try:
                    _tile_scene(scene, name, spec, table, report, bar)
                except (RasterioError, OSError, ImageryError) as exc:
                    message = f"{type(exc).__name__}: {exc}"
                    report.failed.append((str(scene), message))
                    table.meta["errors"] = [e for e in table.meta["errors"] if e["scene"] != str(scene)]
                    table.meta["errors"].append({"scene": str(scene), "error": message})
                    if strict:
                        raise SceneError(f"{scene}: cannot be tiled ({message}); drop --strict to skip such scenes") from None
                    log.warning("skipping scene %s: %s", scene, message)
                    continue
                table.meta["errors"] = [e for e in table.meta["errors"] if e["scene"] != str(scene)]
                table.save()
        finally:
            table.save()
    log.info("%s: %d tiles written, %d already there, %d mostly nodata skipped, %d scene(s) could not be tiled",
             out, report.written, report.already, report.skipped_nodata, len(report.failed))
    return report

