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
``OUT/<name>/<name>_r<row_off>_c<col_off>.png``
    the tiles. ``<name>`` is the scene file's stem, unless that name is already taken in ``OUT``
    (by another scene of this run or of an earlier run into ``OUT``): then ``<stem>-<8 hex>``, the
    start of the SHA-1 of the scene's resolved path. So ``a/ortho.tif`` and then ``b/ortho.tif``
    tiled into one ``OUT`` give ``ortho/`` and ``ortho-<hex>/``: no run overwrites another's tiles.
``OUT/tiles.parquet`` and ``OUT/tiles.csv``
    one row per tile written, :data:`TILE_COLUMNS`: ``tile`` (path relative to ``OUT``),
    ``scene`` (absolute path of the scene file), ``scene_name``, the window ``col_off``,
    ``row_off``, ``width``, ``height`` (pixels of the scene), ``crs``, ``left``, ``bottom``,
    ``right``, ``top`` (the window's bounds in CRS units, ``rasterio.windows.bounds`` sorted so that
    ``left <= right`` and ``bottom <= top`` whichever way the raster's axes run: a south-up raster
    too), ``lon``, ``lat`` (its centre, WGS 84 degrees), ``valid_fraction``, ``bands`` (1-based,
    ``"4,3,2"``), ``stretch`` (as asked) and ``limits`` (JSON ``[[low, high], ...]`` per band: the
    scene's stretch). A scene without georeference gets empty CRS, bounds and lon/lat.
``OUT/tiles.json``
    the settings (``size``, ``stride``, ``max_nodata``, ``read``), and per scene (by resolved path)
    its ``name``, size, CRS, bands, limits, tiles written and skipped, whether it is complete, and
    the file's ``stamp`` (bytes and modification time when it was tiled); plus the scenes that could
    not be read (``errors``).

Writing, appending and resuming
-------------------------------
One writer per ``OUT``: a run holds ``OUT/.lock`` (the lock of
:func:`rsmmvp_tasks.mining.lock.cache_lock`, released by the OS when the process dies) and a second
run into the same ``OUT`` is refused at once (:class:`TileFolderBusyError`, exit code 2) naming the
holder. Runs one after another into one ``OUT`` **accumulate** scenes.

Cost per tile is constant, whatever the size of the table: each tile's PNG is written (to a
temporary name, then renamed: never half a file under a tile's name; no ``fsync``), and its row is
appended to ``OUT/.tiles-parts/`` as one small parquet file per :data:`FLUSH_EVERY` tiles and per
scene, written atomically *after* the PNGs it lists (``fsync``-ed: the durable entry). At the end
of a run the parts are merged into ``tiles.parquet`` and ``tiles.csv`` (once per run: a cost in the
number of rows, so give many scenes to one run rather than one run per scene into a huge folder).
:func:`read_tile_table` reads the merged table **and** any parts, so the table of a killed run is
complete up to its last part.

Resuming: rerunning into ``OUT`` skips the scenes already complete and, within a scene, the tiles
already recorded whose file exists (a tile written after the last part is made again); a scene's
recorded limits are reused so a resumed scene's tiles match the rest. Rerunning with other settings
into the same ``OUT`` is refused, and so is a scene file that changed (size or modification time)
since it was tiled into ``OUT`` (its old tiles would be mixed with new ones).

A scene that cannot be opened or decoded, or that the settings do not fit (``--bands 4,3,2`` on a
3-band file), is reported (a warning and an ``errors`` entry) and skipped; ``strict=True`` makes it
fatal (:class:`SceneError`), after saving what was done. A scene that gives no tile (smaller than
``size``, or every tile beyond ``max_nodata``) is reported in :attr:`TileReport.empty` with the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import EXIT_VIOLATIONS, InputError, RsmmvpError, UsageError
from rsmmvp_tasks.fileio import (
    FORMULA_PREFIXES,
    atomic_write_bytes,
    atomic_write_text,
    csv_safe_cell,
)
from rsmmvp_tasks.imagery.read import (
    ImageryError,
    RasterData,
    ReadSettings,
    compute_limits,
    plan_dataset,
    read_dataset,
    read_window,
    stretch_to_uint8,
    window_boxes,
)
from rsmmvp_tasks.mining.lock import (
    LOCK_NAME,
    WRITER_NAME,
    CacheLockedError,
    cache_lock,
    lock_holder,
)

__all__ = [
    "FLUSH_EVERY",
    "PARTS_DIR",
    "TABLE_NAME",
    "TILE_COLUMNS",
    "NoTilesError",
    "SceneError",
    "TileFolderBusyError",
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
#: Folder (inside the output folder) of the table parts appended since the last merge.
PARTS_DIR = ".tiles-parts"
#: Columns of the tile table, in order.
TILE_COLUMNS: tuple[str, ...] = ("tile", "scene", "scene_name", "col_off", "row_off", "width", "height", "crs",
                                 "left", "bottom", "right", "top", "lon", "lat", "valid_fraction", "bands",
                                 "stretch", "limits")
#: A table part is written after this many new tiles (and at the end of every scene).
FLUSH_EVERY = 500
_KEY = ["scene", "col_off", "row_off"]
_FORMAT = 1


class SceneError(InputError):
    """A scene that cannot be read, with ``strict`` on (the message names the file)."""


class TileFolderBusyError(InputError):
    """Another run is writing to the output folder (the message names its pid and host); exit code 2."""


class NoTilesError(RsmmvpError):
    """The scenes were read but none gave a tile (all smaller than the tile size, or all nodata); exit code 1."""

    exit_code = EXIT_VIOLATIONS


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
    """What :func:`tile_scenes` did. ``failed``: ``(scene, message)`` of scenes that could not be read;
    ``empty``: ``(scene, reason)`` of scenes read that gave no tile in ``out``."""

    out: Path
    scenes: int = 0
    written: int = 0
    already: int = 0
    skipped_nodata: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)

    @property
    def table(self) -> Path:
        return self.out / f"{TABLE_NAME}.parquet"


def tile_windows(width: int, height: int, size: int, stride: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """``(col_off, row_off, size, size)`` of every full tile, row by row (see the module docstring)."""
    step = stride or size
    for row in range(0, height - size + 1, step):
        for col in range(0, width - size + 1, step):
            yield col, row, size, size


def _path_hash(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()


def scene_names(scenes: Sequence[Path], taken: Collection[str] = ()) -> dict[Path, str]:
    """The output folder name of each scene: its stem, or ``<stem>-<8 hex of its path>`` where that stem
    is in ``taken`` (names already used in the output folder) or shared with another scene here.

    Names are unique among ``scenes`` and never in ``taken`` (the hash is lengthened if need be).
    """
    stems: dict[str, int] = {}
    for p in scenes:
        stems[p.stem] = stems.get(p.stem, 0) + 1
    used = set(taken)
    out: dict[Path, str] = {}
    for p in scenes:
        name = p.stem
        if stems[p.stem] > 1 or name in used:
            digest = _path_hash(p)
            width = 8
            name = f"{p.stem}-{digest[:width]}"
            while name in used and width < len(digest):
                width += 4
                name = f"{p.stem}-{digest[:width]}"
        used.add(name)
        out[p] = name
    return out


def _normalise(frame: Any) -> Any:
    """Sort each row's bounds so that ``left <= right`` and ``bottom <= top`` (tables written before
    footprints were normalised at the source hold ``bottom > top`` for south-up rasters)."""
    import numpy as np

    for lo, hi in (("left", "right"), ("bottom", "top")):
        a = frame[lo].to_numpy(dtype=float, na_value=np.nan)
        b = frame[hi].to_numpy(dtype=float, na_value=np.nan)
        swap = b < a
        if swap.any():
            frame[lo] = np.where(swap, b, a)
            frame[hi] = np.where(swap, a, b)
    return frame


def _part_files(folder: Path) -> list[Path]:
    parts = folder / PARTS_DIR
    return sorted(parts.glob("part-*.parquet")) if parts.is_dir() else []


def _read_parquet(path: Path) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as a tile table ({type(exc).__name__}: {exc}); "
                         "rerun `rsmmvp tile` into a new folder") from None


def _merged(folder: Path, main: Path | None) -> Any:
    """The rows of ``main`` (the merged table, if any) and of every part in ``folder``, later rows
    replacing earlier ones of the same (scene, col_off, row_off)."""
    import pandas as pd

    frames = ([_read_parquet(main)] if main is not None and main.is_file() else [])
    frames += [_read_parquet(p) for p in _part_files(folder)]
    frames = [f for f in frames if len(f.columns)]
    if not frames:
        return pd.DataFrame(columns=list(TILE_COLUMNS))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        frame = frame.drop_duplicates(_KEY, keep="last").reset_index(drop=True)
    return frame


def read_tile_table(path: str | Path) -> Any:
    """The tile table (``tiles.parquet`` or ``tiles.csv``, or the folder holding them) as a DataFrame,
    with ``path``: each tile's absolute file path.

    The parquet table includes the parts a run appended and has not merged yet (a killed or running
    run). Bounds are returned sorted (``bottom <= top``) even from tables written before that rule.
    Raises :class:`~rsmmvp_tasks.errors.InputError`.
    """
    import pandas as pd

    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if path.is_dir():
        path = path / f"{TABLE_NAME}.parquet"
    csv = path.suffix.lower() == ".csv"
    if not path.is_file() and (csv or not _part_files(folder)):
        raise InputError(f"tile table not found: {path} (write one with `rsmmvp tile SCENE... --out DIR`)")
    if csv:
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot be read as a tile table ({type(exc).__name__}: {exc})") from None
    else:
        frame = _merged(folder, path)
    missing = [c for c in TILE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: not a tile table written by `rsmmvp tile`; missing column(s) {missing}")
    frame = _normalise(frame)
    base = folder.resolve()
    frame["path"] = [str((base / t).resolve()) for t in frame["tile"]]
    return frame


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [int(st.st_size), int(st.st_mtime_ns)]


def _save_png(path: str | Path, rgb: Any) -> None:
    """Write ``rgb`` as PNG under a temporary name and rename it (atomic, not fsync-ed: the table part
    written after it is the durable record)."""
    from PIL import Image

    head, tail = os.path.split(path)
    tmp = os.path.join(head, f".{tail}.tmp")
    Image.fromarray(rgb).save(tmp, format="PNG")
    os.replace(tmp, path)


def _write_csv(path: Path, frame: Any) -> None:
    """``frame`` as CSV, byte for byte what :func:`rsmmvp_tasks.fileio.write_csv_safe` writes (text
    cells through :func:`~rsmmvp_tasks.fileio.csv_safe_cell`, missing values empty, atomic), with
    pandas' C writer: the tile table has millions of rows, and cells of known types."""
    import pandas as pd

    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        values = values.astype(object)
        text = values.map(lambda v: isinstance(v, str))
        risky = text & values.where(text, "").astype(str).str.startswith(FORMULA_PREFIXES)
        if risky.any():  # only cells that start like a formula go through the shared rule
            values = values.copy()
            values[risky] = values[risky].map(csv_safe_cell)
        safe[column] = values
    text = safe.to_csv(index=False, lineterminator="\n", na_rep="")
    atomic_write_text(path, text)


class _Table:
    """The tile table and ``tiles.json`` of one output folder: loaded for resuming, appended as it grows."""

    def __init__(self, out: Path, spec: TileSpec) -> None:
        self.out = out
        self.meta_path = out / f"{TABLE_NAME}.json"
        self.parquet = out / f"{TABLE_NAME}.parquet"
        self.parts = out / PARTS_DIR
        self.meta: dict[str, Any] = {"format": _FORMAT, **spec.describe(), "scenes": {}, "errors": []}
        self.pending: list[dict[str, Any]] = []
        self.appended = 0
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
            self.meta["errors"] = list(old.get("errors") or [])
        frame = _merged(out, self.parquet)
        open_scenes = {k for k, v in self.meta["scenes"].items() if not v.get("done")}
        # per-tile keys only for unfinished scenes (complete ones are skipped whole), and there a tile
        # counts only if its file is there
        self.done: set[tuple[str, int, int]] = set()
        self.counts: dict[str, int] = {}
        mine = frame[frame["scene"].isin(open_scenes)] if len(frame) and open_scenes else frame.iloc[:0]
        for scene, col, row, tile in zip(mine["scene"], mine["col_off"], mine["row_off"], mine["tile"], strict=False):
            if (out / tile).is_file():
                self.done.add((scene, int(col), int(row)))
                self.counts[scene] = self.counts.get(scene, 0) + 1
        seq = [int(p.stem.split("-")[1]) for p in _part_files(out) if p.stem.split("-")[1].isdigit()]
        self.next_part = max(seq, default=0) + 1

    def names_taken(self) -> set[str]:
        return {str(v.get("name")) for v in self.meta["scenes"].values() if v.get("name")}

    def add(self, row: dict[str, Any]) -> None:
        self.pending.append(row)
        self.done.add((row["scene"], row["col_off"], row["row_off"]))
        if len(self.pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Append the pending rows as one part file (after their PNGs were written; fsync-ed)."""
        if not self.pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({c: [r[c] for r in self.pending] for c in TILE_COLUMNS})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        self.parts.mkdir(exist_ok=True)
        atomic_write_bytes(self.parts / f"part-{self.next_part:08d}.parquet", buf.getvalue())
        self.next_part += 1
        self.appended += len(self.pending)
        self.pending = []

    def save_meta(self) -> None:
        atomic_write_text(self.meta_path, json.dumps(self.meta, indent=1) + "\n")

    def merge(self) -> None:
        """Fold the parts into ``tiles.parquet`` and ``tiles.csv`` and remove them (nothing to do without parts).

        A crash between the two steps leaves parts whose rows are also in the merged table: reading
        drops the duplicates, so merging again is harmless.
        """
        parts = _part_files(self.out)
        if not parts and self.parquet.is_file():
            return
        frame = _merged(self.out, self.parquet).reindex(columns=list(TILE_COLUMNS))
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        atomic_write_bytes(self.parquet, buf.getvalue())
        _write_csv(self.out / f"{TABLE_NAME}.csv", frame)
        for part in parts:
            part.unlink()
        try:
            self.parts.rmdir()
        except OSError:
            pass


def _scene_limits(ds: Any, spec: TileSpec, where: str) -> tuple[list[tuple[float, float]] | None, tuple[int, ...]]:
    """The scene's stretch limits from a decimated read, and the bands they are for (a fixed
    ``range:`` stretch needs no pixels: its limits are the range)."""
    if spec.read.stretch.mode == "range":
        bands = plan_dataset(ds, spec.read, where).bands
        return [(float(spec.read.stretch.low), float(spec.read.stretch.high))] * len(bands), bands  # type: ignore[arg-type]
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


def _tile_scene(scene: Path, name: str, spec: TileSpec, table: _Table, report: TileReport, bar: Any,
                announce: bool = True) -> int:
    """Tile one scene into ``table``; returns how many of its tiles are in the table now. rasterio
    errors propagate to the caller (a damaged scene). ``announce``: log a scene that gives no tile."""
    import rasterio
    from rasterio.windows import Window

    key = str(scene)
    stamp = _stamp(scene)
    with rasterio.open(scene) as ds:
        windows = list(tile_windows(ds.width, ds.height, spec.size, spec.stride))
        bar.total = (bar.total or 0) + len(windows)
        bar.refresh()
        state = table.meta["scenes"].get(key)
        if state and state.get("done"):
            report.already += state.get("tiles", 0)
            bar.update(len(windows))
            if state.get("empty"):
                report.empty.append((key, str(state["empty"])))
            return int(state.get("tiles", 0))
        if state and "limits" in state:
            limits = [tuple(x) for x in state["limits"]] if state["limits"] is not None else None
            bands = tuple(state["bands"])
        else:
            limits, bands = _scene_limits(ds, spec, key)
        crs = ds.crs.to_string() if ds.crs else None
        state = {"name": name, "width": ds.width, "height": ds.height, "crs": crs, "bands": list(bands),
                 "limits": [list(x) for x in limits] if limits is not None else None,
                 "tiles": table.counts.get(key, 0), "skipped_nodata": 0, "done": False, "stamp": stamp}
        table.meta["scenes"][key] = state
        table.save_meta()
        georef = ds.crs is not None
        all_bounds = window_boxes(ds.transform, windows).tolist()
        lons, lats = _centres(ds.crs, [(b[0] + b[2]) / 2 for b in all_bounds], [(b[1] + b[3]) / 2 for b in all_bounds])
        stretch_text = spec.read.stretch.describe()
        limits_json = json.dumps(state["limits"])
        bands_text = ",".join(str(b) for b in bands)
        settings = ReadSettings(bands, spec.read.stretch, spec.read.nodata)
        plan = plan_dataset(ds, settings, key)
        folder = table.out / name
        folder.mkdir(parents=True, exist_ok=True)
        out_text = str(table.out)
        for k, (col, row, w, h) in enumerate(windows):
            bar.update(1)
            if (key, col, row) in table.done:
                report.already += 1
                continue
            array, valid = read_window(ds, plan, Window(col, row, w, h))
            valid_fraction = float(valid.mean())
            if 1.0 - valid_fraction > spec.max_nodata:
                report.skipped_nodata += 1
                state["skipped_nodata"] += 1
                continue
            if limits is None:  # raises on --stretch none with values beyond 0..255
                compute_limits(RasterData(array, valid, str(array.dtype), plan.bands, plan.names, key, "rasterio"),
                               settings.stretch)
            rel = f"{name}/{name}_r{row:05d}_c{col:05d}.png"
            _save_png(os.path.join(out_text, rel), stretch_to_uint8(array, valid, limits))
            left, bottom, right, top = all_bounds[k]
            table.add({
                "tile": rel, "scene": key, "scene_name": name, "col_off": col, "row_off": row, "width": w, "height": h,
                "crs": crs, "left": left if georef else None, "bottom": bottom if georef else None,
                "right": right if georef else None, "top": top if georef else None, "lon": lons[k], "lat": lats[k],
                "valid_fraction": round(valid_fraction, 4), "bands": bands_text, "stretch": stretch_text,
                "limits": limits_json,
            })
            report.written += 1
            state["tiles"] += 1
        table.flush()
        state["done"] = True
        if not state["tiles"]:
            reason = (f"{ds.width} x {ds.height} px is smaller than a {spec.size} px tile" if not windows else
                      f"all {len(windows)} tiles have more than {spec.max_nodata:g} nodata (--max-nodata)")
            state["empty"] = reason
            report.empty.append((key, reason))
            if announce:
                log.warning("%s gave no tile: %s", key, reason)
        return int(state["tiles"])


def _failure_detail(exc: BaseException, scene: Path) -> str:
    """Why a scene cannot be tiled, without the file name (the caller names it once)."""
    text = str(exc)
    if text.startswith(f"{scene}: "):
        text = text[len(str(scene)) + 2:]
    return text if isinstance(exc, ImageryError) else f"{type(exc).__name__}: {text}"


def _check_unchanged(table: _Table, paths: Sequence[Path]) -> None:
    for p in paths:
        state = table.meta["scenes"].get(str(p))
        if state and state.get("stamp") and list(state["stamp"]) != _stamp(p):
            raise InputError(f"{p} changed (size or modification time) since it was tiled into {table.out} as "
                             f"{state.get('name')}/; its old tiles would be mixed with new ones: tile it into another "
                             "--out, or delete that folder to start over")


def tile_scenes(scenes: Sequence[str | Path], out: str | Path, spec: TileSpec | None = None, *,
                strict: bool = False, progress: bool = True) -> TileReport:
    """Cut ``scenes`` into tiles under ``out`` (see the module docstring); returns what was done.

    A scene that cannot be read, or that the settings do not fit (a band it lacks, ``--stretch none``
    on 16-bit values: :class:`~rsmmvp_tasks.imagery.read.ImageryError`), is reported in
    ``report.failed`` (logged as a warning when several scenes are given; one scene's failure is
    left to the caller to show, once) and skipped, or raises :class:`SceneError` when ``strict``.
    Raises :class:`~rsmmvp_tasks.errors.UsageError` when ``out`` holds tiles made with other settings,
    :class:`~rsmmvp_tasks.errors.InputError` when a scene changed since it was tiled into ``out``,
    and :class:`TileFolderBusyError` when another run is writing to ``out``.
    """
    spec = spec or TileSpec()
    paths = [Path(s).expanduser().resolve() for s in scenes]
    if not paths:
        raise UsageError("no scene given")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"scene(s) not found: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a new or existing folder")
    out.mkdir(parents=True, exist_ok=True)
    try:
        with cache_lock(out):
            return _tile_locked(paths, out, spec, strict, progress)
    except CacheLockedError:
        raise TileFolderBusyError(
            f"{out} is being written by another `rsmmvp tile` ({lock_holder(out)}); wait for it to finish (then "
            "run again: scenes accumulate), or tile into another --out folder") from None


def _tile_locked(paths: list[Path], out: Path, spec: TileSpec, strict: bool, progress: bool) -> TileReport:
    """:func:`tile_scenes` under the folder's lock."""
    from rasterio.errors import RasterioError
    from tqdm.auto import tqdm

    table = _Table(out, spec)
    unique = list(dict.fromkeys(paths))
    _check_unchanged(table, unique)
    known = {p: str(table.meta["scenes"][str(p)]["name"]) for p in unique
             if table.meta["scenes"].get(str(p), {}).get("name")}
    names = dict(known)
    # a new scene never takes a name used in `out`: another scene's, or any file or folder there
    # (the table's own files, the lock, a user's folder)
    taken = table.names_taken() | {entry.name for entry in out.iterdir()} | {
        f"{TABLE_NAME}.parquet", f"{TABLE_NAME}.csv", f"{TABLE_NAME}.json", PARTS_DIR, LOCK_NAME, WRITER_NAME}
    names.update(scene_names([p for p in unique if p not in known], taken=taken))
    report = TileReport(out=out)
    with tqdm(total=0, desc="tile", unit="tile", disable=not progress) as bar:
        try:
            for scene in unique:
                report.scenes += 1
                try:
                    _tile_scene(scene, names[scene], spec, table, report, bar, announce=len(unique) > 1)
                except (RasterioError, OSError, ImageryError) as exc:
                    table.flush()
                    detail = _failure_detail(exc, scene)
                    report.failed.append((str(scene), detail))
                    table.meta["errors"] = [e for e in table.meta["errors"] if e["scene"] != str(scene)]
                    table.meta["errors"].append({"scene": str(scene), "error": detail})
                    if strict:
                        raise SceneError(f"{scene}: cannot be tiled ({detail}); drop --strict to skip such scenes") from None
                    if len(unique) > 1:
                        log.warning("skipping scene %s: %s", scene, detail)
                    continue
                table.meta["errors"] = [e for e in table.meta["errors"] if e["scene"] != str(scene)]
                table.save_meta()
        finally:
            table.flush()
            table.save_meta()
            table.merge()
    log.info("%s: %d tiles written, %d already there, %d mostly nodata skipped, %d scene(s) could not be tiled",
             out, report.written, report.already, report.skipped_nodata, len(report.failed))
    return report
