r"""The annotation page of ``rsmmvp review``: a static HTML file where a person writes one question per pair.

:func:`write_review_page` reads a PAIRS table (:mod:`rsmmvp_tasks.mining.pairs`) and writes into
``out_dir``:

``index.html``
    One self-contained page (no server, no network: open it from disk). Each pair is shown side by
    side with its rank and scores; per pair one writes the question, the two options, the correct
    option for image A and for image B (picking one fills the other with the opposite; equal answers
    raise a visible warning), the visual pattern (a select of :data:`rsmmvp_tasks.schema.PATTERNS`),
    or marks the pair skipped. Progress is kept in the browser's ``localStorage`` under
    ``"rsmmvp-review:<PAIRS sha256>"``, so a reload loses nothing; "Download annotations (JSON)"
    writes the annotation file (format in :mod:`rsmmvp_tasks.mining.annotations`) and "Import JSON…"
    continues from one. ``window.rsmmvpExport()`` returns the same JSON as a string and
    ``window.rsmmvpImport(text)`` loads one (for scripts and tests).
``annotations_template.csv``
    The same work as a spreadsheet (:data:`~rsmmvp_tasks.mining.annotations.CSV_COLUMNS`).

Images are embedded as downscaled JPEG ``data:`` URIs by default (the page is one file you can
move or send), or linked by relative path (``embed_images=False``: small page, full resolution,
but it must stay where the images can be reached). An image that cannot be read — missing,
corrupt, or a decompression bomb (more pixels than PIL's ``Image.MAX_IMAGE_PIXELS`` allows) — is
logged and shown as a message on its card; it does not stop the page. Images are decoded by
:mod:`rsmmvp_tasks.imagery.read` (GeoTIFF, 16-bit and float data stretched) with the PAIRS ``read``
settings when the table has them (the ``--bands``/``--stretch`` the images were embedded with).
Where the PAIRS table carries places (``geo_a``/``geo_b`` from ``rsmmvp mine --tiles``), each image's
centre latitude/longitude, CRS, scene and window are written under it
(:func:`rsmmvp_tasks.imagery.provenance.caption`).

The page is ``review_template.html`` rendered by :func:`rsmmvp_tasks.pages.render_page` (the script
and style it shares with the human baseline page inlined). Its data is JSON inside a
``<script type="application/json">`` element; any PAIRS value may hold ``</script>``, ``<!--`` or ``&``:
:func:`rsmmvp_tasks.pages.script_json` escapes them, so ``JSON.parse`` reads back exactly the values.

Errors: :class:`~rsmmvp_tasks.mining.pairs.PairsError` for a missing or malformed PAIRS table,
:class:`~rsmmvp_tasks.errors.UsageError` for ``limit`` or ``thumb_size`` below 1.
"""

from __future__ import annotations

import json
import logging
import math
import os
import urllib.parse
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.fileio import atomic_write_text
from rsmmvp_tasks.imagery.provenance import caption
from rsmmvp_tasks.imagery.read import ReadSettings
from rsmmvp_tasks.mining.annotations import write_annotation_template
from rsmmvp_tasks.mining.pairs import (
    PAIRS_COLUMNS,
    PAIRS_READ_COLUMN,
    PairsTable,
    read_pairs,
)
from rsmmvp_tasks.pages import render_page
from rsmmvp_tasks.schema import PATTERNS
from rsmmvp_tasks.thumbnails import (
    thumbnail_data_uri,  # re-exported: its home moved to a neutral module
)

__all__ = ["DATA_PLACEHOLDER", "TEMPLATE_NAME", "page_data", "thumbnail_data_uri", "write_review_page"]

log = logging.getLogger(__name__)

TEMPLATE_NAME = "review_template.html"
#: Pages larger than this (MB) get a warning suggesting ``--limit`` / ``--link-images``.
LARGE_PAGE_MB = 100.0
#: Where the page template receives its JSON data.
DATA_PLACEHOLDER = "__RSMMVP_DATA__"

# PAIRS columns the page shows in their own places (others go to the card's score line).
_KNOWN = frozenset(PAIRS_COLUMNS) | {"geo_a", "geo_b", PAIRS_READ_COLUMN}  # places are shown under each image


def _json_scalar(value: Any) -> Any:
    """A PAIRS cell as a JSON-safe scalar (numpy numbers to Python, floats rounded), or ``None`` to drop it (NaN, ±inf)."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            return None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 4) if math.isfinite(value) else None  # JSON has no NaN or infinity
    if isinstance(value, (int, str)):
        return value
    return None


def _image_src(abs_path: str, out_dir: Path, embed: bool, max_side: int,
               settings: Any = None) -> tuple[str | None, str | None]:
    """``(src, error)`` for one image: a data URI or a relative URL, or an error message."""
    if not Path(abs_path).is_file():
        return None, f"file not found: {abs_path}"
    if not embed:
        rel = Path(os.path.relpath(abs_path, out_dir.resolve())).as_posix()
        return urllib.parse.quote(rel), None
    from PIL import Image

    try:
        return thumbnail_data_uri(abs_path, max_side=max_side, settings=settings), None
    except Image.DecompressionBombError as exc:
        return None, f"image too large to show safely ({exc})"
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises SyntaxError for some malformed headers
        return None, f"unreadable image ({type(exc).__name__}: {exc})"


def page_data(pairs: PairsTable, out_dir: Path, *, embed_images: bool = True, limit: int | None = None,
              thumb_size: int = 384) -> dict[str, Any]:
    """The JSON object the page template renders (pairs in rank order, images as ``src_a``/``src_b``)."""
    from tqdm.auto import tqdm

    records = pairs.records[:limit] if limit else pairs.records
    items: list[dict[str, Any]] = []
    errors = 0
    for rec in tqdm(records, desc="review page", unit="pair", disable=len(records) < 20):
        item: dict[str, Any] = {
            "rank": rec["rank"], "image_a": rec["image_a"], "image_b": rec["image_b"],
            "clip_similarity": _json_scalar(rec["clip_similarity"]), "ssl_similarity": _json_scalar(rec["ssl_similarity"]),
            "gap": _json_scalar(rec.get("gap")),
            "extra": {k: v for k, v in ((k, _json_scalar(v)) for k, v in rec.items() if k not in _KNOWN) if v not in (None, "")},
        }
        settings = ReadSettings.from_dict(json.loads(rec["read"])) if rec.get("read") else None
        for side in ("a", "b"):
            src, err = _image_src(rec[f"path_{side}"], out_dir, embed_images, thumb_size, settings)
            item[f"src_{side}"], item[f"error_{side}"] = src, err
            item[f"place_{side}"] = caption(rec.get(f"geo_{side}"))
            if err:
                errors += 1
                log.warning("pair rank %s, image %s: %s", rec["rank"], side.upper(), err)
        items.append(item)
    if errors:
        log.warning("%d image(s) could not be shown; their pairs are on the page with a message (skip them or fix the paths)", errors)
    return {
        "pairs_sha256": pairs.sha256,
        "pairs_file": pairs.path.name,
        "encoders": sorted({e for e in (pairs.encoders(r) for r in records) if e}),
        "total_pairs": len(pairs.records),
        "limited": len(records) < len(pairs.records),
        "patterns": [[k, v] for k, v in PATTERNS.items()],
        "pairs": items,
    }


def write_review_page(pairs_path: str | Path, out_dir: str | Path, *, embed_images: bool = True,
                      limit: int | None = None, thumb_size: int = 384) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/annotations_template.csv``; return the page's path.

    ``limit`` keeps the first ``limit`` pairs by rank; ``thumb_size`` is the longest side of
    embedded thumbnails in pixels. Raises :class:`~rsmmvp_tasks.mining.pairs.PairsError` on a bad
    PAIRS table and :class:`~rsmmvp_tasks.errors.UsageError` for ``limit`` or ``thumb_size`` below 1.
    """
    if limit is not None and limit < 1:
        raise UsageError(f"limit (--limit) must be a positive number of pairs, got {limit}")
    if thumb_size < 1:
        raise UsageError(f"thumb_size (--thumb-size) must be a positive number of pixels, got {thumb_size}")
    pairs = read_pairs(pairs_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = page_data(pairs, out, embed_images=embed_images, limit=limit, thumb_size=thumb_size)
    page = out / "index.html"
    atomic_write_text(page, render_page(__package__, TEMPLATE_NAME, DATA_PLACEHOLDER, data))
    template = write_annotation_template(pairs, out / "annotations_template.csv", limit=limit)
    size_mb = page.stat().st_size / 1e6
    log.info("wrote %s (%d pairs, images %s, %.1f MB) and %s", page, len(data["pairs"]),
             "embedded" if embed_images else "linked", size_mb, template)
    if size_mb > LARGE_PAGE_MB:
        log.warning("the page is %.0f MB: browsers get slow on pages this large; split the work with --limit, "
                    "or use --link-images or a smaller --thumb-size", size_mb)
    return page
