"""Building an RSMMVP-format dataset folder from contract rows, raw layouts or annotations.

``build_dataset(rows, out_dir)`` validates first (nothing is written if any violation is
found: :class:`ValidationFailed` carries the full report), then writes::

    out_dir/data/test-00000-of-00001.parquet   image bytes embedded (no path to a file left behind)
    out_dir/disk/                              datasets.save_to_disk copy (load_from_disk)
    out_dir/README.md                          dataset card (rsmmvp_tasks.dataset.card)

``datasets.load_dataset(str(out_dir))`` reads it through the card's ``configs``; so does the hub
after ``rsmmvp build ... --push ORG/NAME``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from rsmmvp_tasks.dataset.card import CardInfo, render_card
from rsmmvp_tasks.schema import OPTIONAL_COLUMNS, PAIR_SIZE, features
from rsmmvp_tasks.dataset.validate import ValidationReport, validate_dataset

logger = logging.getLogger(__name__)

__all__ = ["ValidationFailed", "build_dataset", "build_from_raw", "rows_to_dataset"]

PARQUET_NAME = "data/test-00000-of-00001.parquet"


class ValidationFailed(ValueError):
    """The rows break the contract; ``.report`` lists every violation."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.format())
        self.report = report


def _image_bytes(image: Any) -> dict[str, Any]:
    """Any accepted image form -> ``{"bytes": ..., "path": <file name or None>}`` (bytes embedded)."""
    import io

    from PIL import Image

    if isinstance(image, dict):
        if image.get("bytes"):
            return {"bytes": image["bytes"], "path": Path(image["path"]).name if image.get("path") else None}
        image = image.get("path")
    if isinstance(image, (bytes, bytearray)):
        return {"bytes": bytes(image), "path": None}
    if isinstance(image, Image.Image):
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        return {"bytes": buf.getvalue(), "path": None}
    path = Path(str(image))
    return {"bytes": path.read_bytes(), "path": path.name}


def rows_to_dataset(rows: list[dict[str, Any]]) -> Any:
    """Contract rows -> a :class:`datasets.Dataset` with the contract features, sorted by index."""
    import datasets
    from tqdm.auto import tqdm

    records = []
    ordered = sorted(rows, key=lambda r: int(r["index"]))
    for row in tqdm(ordered, desc="reading images", unit="img", disable=len(ordered) < 500):
        record = {k: row.get(k) for k in ("index", "pair_id", "question", "options", "answer", "pattern")}
        record["index"] = int(record["index"])
        record["pair_id"] = str(record["pair_id"])
        record["options"] = [str(o) for o in record["options"]]
        record["image"] = _image_bytes(row["image"])
        for column in OPTIONAL_COLUMNS:
            record[column] = row.get(column)
        records.append(record)
    return datasets.Dataset.from_list(records, features=features())


def build_dataset(
    rows: list[dict[str, Any]], out_dir: str | Path, *, card: CardInfo | None = None, pair_size: int = PAIR_SIZE
) -> Any:
    """Validate ``rows``, then write the dataset folder (see the module docstring); returns the Dataset."""
    report = validate_dataset(rows, pair_size=pair_size)
    if not report.ok:
        raise ValidationFailed(report)
    out = Path(out_dir)
    ds = rows_to_dataset(rows)
    parquet = out / PARQUET_NAME
    parquet.parent.mkdir(parents=True, exist_ok=True)
    for stale in parquet.parent.glob("test-*.parquet"):  # an earlier build's shards would be loaded too
        logger.info("removing %s from an earlier build", stale)
        stale.unlink()
    ds.to_parquet(str(parquet))
    if (out / "disk").exists():
        shutil.rmtree(out / "disk")
    ds.save_to_disk(str(out / "disk"))
    (out / "README.md").write_text(render_card(ds, card or CardInfo()), encoding="utf-8")
    logger.info("wrote %d rows (%d pairs) to %s", len(ds), report.n_pairs, out)
    return ds


def build_from_raw(
    raw: str | Path, out_dir: str | Path, *, card: CardInfo | None = None, pair_size: int = PAIR_SIZE
) -> Any:
    """A raw MMVP-style layout (folder or hub id) -> a validated dataset folder."""
    from rsmmvp_tasks.dataset.hub import resolve_source
    from rsmmvp_tasks.dataset.raw import read_raw

    return build_dataset(read_raw(resolve_source(raw), pair_size=pair_size), out_dir, card=card, pair_size=pair_size)
