"""The PAIRS table: what ``rsmmvp mine`` writes, ``rsmmvp review`` shows and ``rsmmvp build`` reads back.

This module is the one definition of the format: its columns, its writer, its reader, and the export
of pair images that have no file.

Columns
-------
One row per mined pair, in rank order. :data:`PAIRS_COLUMNS`, as ``rsmmvp mine`` writes them:

==================  ===========  ==========================================================================
column              type         meaning
==================  ===========  ==========================================================================
``rank``            int          1 = largest gap; unique. Informative: annotations are keyed by the images
``image_a``         str          image id of image A (the key of the pair, with ``image_b``)
``image_b``         str          image id of image B
``path_a``          str          file of image A ("" for a dataset row not exported); relative paths
                                 resolve against the PAIRS file's folder, then the working directory
``path_b``          str          file of image B
``clip_similarity`` float        CLIP cosine of the two images
``ssl_similarity``  float        self-supervised (DINOv2) cosine
``gap``             float        ``clip_similarity - ssl_similarity``
``clip_encoder``    str          CLIP model id or folder
``ssl_encoder``     str          SSL model id or folder
==================  ===========  ==========================================================================

Optional columns :data:`PAIRS_PLACE_COLUMNS` and :data:`PAIRS_READ_COLUMN`, written by ``rsmmvp mine``
when they apply and carried into the dataset by ``rsmmvp build``:

==================  ===========  ==========================================================================
``geo_a``           str (JSON)   place of image A (scene, CRS, bounds, centre lon/lat), from ``--tiles``
                                 (:mod:`~rsmmvp_tasks.mining.places`)
``geo_b``           str (JSON)   place of image B
``distance_m``      float        gap between the two footprints in metres (0: they touch or overlap)
``read``            str (JSON)   how the images were decoded (bands, stretch, nodata;
                                 :class:`rsmmvp_tasks.imagery.read.ReadSettings`), when not the defaults
==================  ===========  ==========================================================================

A table written by hand needs only :data:`PAIRS_REQUIRED_COLUMNS`; ``rank`` then follows row order
(1, 2, ...), ``path_a``/``path_b`` default to ``image_a``/``image_b`` (image paths), and other columns
are carried through to the review page. The pair ``(image_a, image_b)`` must be unique.

Files
-----
:func:`write_pairs` writes ``<out>.parquet`` (what the other commands read), ``<out>.csv`` (the same
table for a spreadsheet, every cell neutralised against formula injection by
:func:`rsmmvp_tasks.fileio.write_csv_safe`) and ``<out>.json`` (the mining parameters and counts).
:func:`read_pairs` reads either table (a CSV's neutralised cells are restored). A PAIRS table is
identified by the SHA-256 of its file (:func:`file_sha256`), which the review page records.

Errors: :class:`PairsError` (an :class:`~rsmmvp_tasks.errors.InputError`) for a missing or malformed
table; its message names the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.fileio import (  # file_sha256: a PAIRS table's identity
    atomic_write_bytes,
    atomic_write_text,
    file_sha256,
    restore_csv_cell,
    write_csv_safe,
)
from rsmmvp_tasks.schema import PAIRS_REQUIRED_COLUMNS, is_pairs_table
from rsmmvp_tasks.values import none_if_missing, text_or_empty

__all__ = [
    "PAIRS_COLUMNS",
    "PAIRS_PLACE_COLUMNS",
    "PAIRS_READ_COLUMN",
    "PAIRS_REQUIRED_COLUMNS",
    "PAIRS_SUFFIXES",
    "PairsError",
    "PairsTable",
    "export_pair_images",
    "file_sha256",
    "is_pairs_table",
    "mining_note",
    "pairs_stem",
    "read_pairs",
    "write_pairs",
]

log = logging.getLogger(__name__)

#: The columns ``rsmmvp mine`` writes, in order.
PAIRS_COLUMNS: tuple[str, ...] = ("rank", "image_a", "image_b", "path_a", "path_b", "clip_similarity",
                                  "ssl_similarity", "gap", "clip_encoder", "ssl_encoder")
#: Optional place columns (``rsmmvp mine --tiles``), see :mod:`rsmmvp_tasks.mining.places`.
PAIRS_PLACE_COLUMNS: tuple[str, ...] = ("geo_a", "geo_b", "distance_m")
#: Optional column: the decoding settings of the images, as JSON.
PAIRS_READ_COLUMN = "read"
#: The columns a PAIRS table must have.
#: The files :func:`write_pairs` writes, by suffix.
PAIRS_SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".json")


class PairsError(InputError):
    """A PAIRS table that is missing or malformed (the message names the file)."""


def pairs_stem(out: str | Path) -> Path:
    """``out`` without a PAIRS suffix: ``pairs.parquet`` and ``pairs`` both name the files ``pairs.*``."""
    out = Path(out)
    return out.with_suffix("") if out.suffix.lower() in PAIRS_SUFFIXES else out


@dataclass(frozen=True)
class PairsTable:
    """A PAIRS table as read by :func:`read_pairs`.

    ``records`` are the rows as dicts in rank order: ``rank`` an int, ``image_a``/``image_b`` stripped
    text, ``path_a``/``path_b`` the *resolved* image paths, missing cells ``None``.
    """

    path: Path
    sha256: str
    records: list[dict[str, Any]]

    def by_rank(self) -> dict[int, dict[str, Any]]:
        """Records keyed by ``rank``."""
        return {r["rank"]: r for r in self.records}

    def by_images(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Records keyed by ``(image_a, image_b)``, the key annotations attach by."""
        return {(r["image_a"], r["image_b"]): r for r in self.records}

    def encoders(self, record: Mapping[str, Any]) -> str | None:
        """``"clip=<id>;ssl=<id>"`` from the ``clip_encoder``/``ssl_encoder`` columns, or ``None``."""
        clip, ssl = text_or_empty(record.get("clip_encoder")), text_or_empty(record.get("ssl_encoder"))
        return f"clip={clip};ssl={ssl}" if clip or ssl else None


def _resolve_image(value: str, base: Path) -> Path:
    p = Path(value).expanduser()
    if p.is_absolute():
        return p
    for candidate in (base / p, Path.cwd() / p):
        if candidate.exists():
            return candidate.resolve()
    return (base / p).resolve()


def _read_frame(path: Path) -> Any:
    """The table in ``path`` as a DataFrame (CSV cells neutralised by our writer restored)."""
    import pandas as pd

    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, UnicodeDecodeError) as exc:  # pyarrow's errors are OSError / ValueError subclasses
        raise PairsError(f"{path}: cannot be read as a PAIRS table ({type(exc).__name__}: {exc})") from None
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]):  # object or (pandas >= 3) str columns
            frame[col] = frame[col].map(restore_csv_cell)
    return frame


def _check_columns(frame: Any, path: Path) -> Any:
    """Required columns present, similarities numeric, ranks unique ints; returns the frame in rank order."""
    import pandas as pd

    missing = [c for c in PAIRS_REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise PairsError(
            f"{path}: not a PAIRS table, missing column(s) {missing} (has {list(frame.columns)}); "
            f"it needs {list(PAIRS_REQUIRED_COLUMNS)}, as written by `rsmmvp mine`"
        )
    for col in ("clip_similarity", "ssl_similarity"):
        try:
            frame[col] = pd.to_numeric(frame[col]).astype(float)
        except (ValueError, TypeError) as exc:
            raise PairsError(f"{path}: column {col!r} must hold numbers ({exc})") from None
    if "rank" not in frame.columns:
        frame["rank"] = range(1, len(frame) + 1)
        return frame
    try:
        frame["rank"] = pd.to_numeric(frame["rank"]).astype(int)
    except (ValueError, TypeError) as exc:
        raise PairsError(f"{path}: column 'rank' must hold integers ({exc})") from None
    dupes = sorted(frame.loc[frame["rank"].duplicated(), "rank"].unique().tolist())
    if dupes:
        raise PairsError(f"{path}: rank(s) {dupes[:10]} appear more than once; ranks must be unique")
    return frame.sort_values("rank", kind="stable")


def read_pairs(path: str | Path) -> PairsTable:
    """Read and check a PAIRS table (``.parquet``, else CSV); see the module docstring for its columns.

    Raises :class:`PairsError` when it is missing, unreadable, lacks a required column, holds
    non-numeric similarities, repeats a rank or repeats a pair ``(image_a, image_b)``.
    """
    path = Path(path)
    if not path.is_file():
        raise PairsError(f"PAIRS table not found: {path} (write one with `rsmmvp mine`)")
    frame = _check_columns(_read_frame(path), path)
    base = path.resolve().parent
    records: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for rec in frame.to_dict(orient="records"):
        rec = {k: none_if_missing(v) for k, v in rec.items()}
        rec["rank"] = int(rec["rank"])
        rec["image_a"], rec["image_b"] = text_or_empty(rec["image_a"]), text_or_empty(rec["image_b"])
        if not rec["image_a"] or not rec["image_b"]:
            raise PairsError(f"{path}: pair rank {rec['rank']} has an empty image_a or image_b")
        key = (rec["image_a"], rec["image_b"])
        if key in seen:
            raise PairsError(f"{path}: pair {key[0]!r}, {key[1]!r} appears twice (ranks {seen[key]} and {rec['rank']}); "
                             "a pair's images are its key and must be unique")
        seen[key] = rec["rank"]
        for side in ("a", "b"):
            raw = text_or_empty(rec.get(f"path_{side}")) or rec[f"image_{side}"]
            rec[f"path_{side}"] = str(_resolve_image(raw, base))
        records.append(rec)
    return PairsTable(path=path, sha256=file_sha256(path), records=records)


def mining_note(pairs: str | Path) -> str | None:
    """One sentence for the dataset card on how the pairs were searched, from the PAIRS ``.json`` beside ``pairs``.

    Says the candidate stage (exact, or the approximate index and its settings) and, when
    ``mine --check-recall`` measured it, the recall with its 95% interval. ``None`` when the ``.json``
    is missing or unreadable, or records neither.
    """
    meta_path = pairs_stem(pairs).with_name(pairs_stem(pairs).name + ".json")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    search, recall = meta.get("search") or {}, meta.get("recall")
    if not search and not recall:
        return None
    index = search.get("index", "exact")
    if index == "exact":
        text = "Pairs were mined by an exact search over every pair of images"
    else:
        settings = ", ".join(f"{k}={v}" for k, v in search.items() if k not in ("index", "margin", "block"))
        text = f"Pairs were mined with an approximate `{index}` candidate stage ({settings})"
    if recall and recall.get("recall") is not None:
        lo, hi = recall["interval95"]
        text += (f"; its recall of CLIP-close pairs, measured on {recall['queries']} random query images "
                 f"({recall['exact_pairs']} exact pairs), is {recall['recall']:.4f} (95% interval {lo:.4f}-{hi:.4f})")
    elif index != "exact":
        text += "; its recall was not measured (`rsmmvp mine --check-recall K`)"
    return text + "."


def write_pairs(frame: Any, summary: Mapping[str, Any], out: str | Path) -> list[Path]:
    """Write ``<out>.parquet``, ``<out>.csv`` (formula-safe) and ``<out>.json``; return the three paths.

    ``out`` may carry one of :data:`PAIRS_SUFFIXES` or none. Each file is written atomically.
    """
    stem = pairs_stem(out)
    stem.parent.mkdir(parents=True, exist_ok=True)
    parquet, csv_path, json_path = (stem.with_name(stem.name + s) for s in PAIRS_SUFFIXES)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    atomic_write_bytes(parquet, buf.getvalue())
    write_csv_safe(csv_path, frame)
    atomic_write_text(json_path, json.dumps(dict(summary), indent=2) + "\n")
    return [parquet, csv_path, json_path]


def export_pair_images(frame: Any, manifest: Mapping[str, Any], out_dir: str | Path, pairs_dir: str | Path) -> int:
    """Save the images of PAIRS rows without a file (dataset sources) as ``out_dir/<id>.png``.

    The source is reopened from a cache ``manifest`` (``source``, ``column``); ``path_a``/``path_b``
    are set in place, relative to ``pairs_dir``. Returns the number of files written. Raises
    :class:`PairsError` when an image id is no longer in the source (it was changed since embedding).
    """
    from rsmmvp_tasks.imagery.read import ReadSettings
    from rsmmvp_tasks.mining.images import list_images, open_image

    todo = {frame.at[r, f"image_{s}"] for r in frame.index for s in "ab" if not frame.at[r, f"path_{s}"]}
    if not todo:
        return 0
    source = list_images(manifest["source"], column=manifest.get("column"))
    settings = ReadSettings.from_dict(manifest.get("read"))  # decoded as they were embedded
    pos = {image_id: k for k, image_id in enumerate(source.ids)}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, str] = {}
    for image_id in sorted(todo):
        if image_id not in pos:
            raise PairsError(f"image {image_id!r} is not in {manifest['source']} any more; was the dataset changed? "
                             "Re-embed it, or rerun `rsmmvp mine` with --no-export-images")
        target = out_dir / (image_id.replace("/", "_") + ".png")
        open_image(source.raw(pos[image_id]), settings).save(target)
        written[image_id] = Path(os.path.relpath(target, Path(pairs_dir))).as_posix()
    for side in "ab":
        empty = frame[f"path_{side}"] == ""
        frame.loc[empty, f"path_{side}"] = frame.loc[empty, f"image_{side}"].map(written)
    log.info("wrote %d pair images to %s", len(written), out_dir)
    return len(written)
