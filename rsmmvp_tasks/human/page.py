"""The page of ``rsmmvp human DATASET --out DIR``: one image and its question at a time, for a person.

:func:`write_human_page` loads any RSMMVP dataset (:func:`rsmmvp_tasks.dataset.loading.load_rsmmvp`:
a built folder, a parquet file, a ``save_to_disk`` folder, a raw layout or a hub id), refuses one
that breaks the contract (the same check as the lmms-eval tasks, which also gives the same dataset
fingerprint), and writes ``DIR/index.html``:

- self-contained and offline (images embedded as JPEG ``data:`` URIs, no network), like the review
  page of :mod:`rsmmvp_tasks.mining.review`; progress in ``localStorage`` under
  ``"rsmmvp-human:<page_id>"``; a JSON export ("Download answers") and import;
  ``window.rsmmvpExport()`` / ``window.rsmmvpImport(text)`` for scripts and tests;
- one item at a time: the image, the question, the lettered options and "I cannot tell"; keys
  ``1``/``2``... or ``a``/``b``... pick, ``0`` cannot tell, arrows or ``j``/``k`` move, ``n`` jumps to
  the next unanswered item;
- items in a shuffled order (:func:`shuffled_order`, seeded by ``seed``) in which the two images of
  a pair never follow each other;
- **no answers**: an item holds only an opaque id (:func:`item_id`), the question, the options and
  the image -- no index, no pair id, no visual pattern, no answer letter.

The export (format :data:`EXPORT_FORMAT`) names the dataset fingerprint and, per answered item, its
id, the choice (a letter, or ``null`` for "I cannot tell") and the seconds spent on it;
:mod:`rsmmvp_tasks.human.scoring` scores it. Item ids do not depend on the seed, so pages with
different seeds (one per annotator, to vary the order) are scored together.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.pages import render_page

__all__ = [
    "PAGE_FORMAT",
    "EXPORT_FORMAT",
    "DATA_PLACEHOLDER",
    "HumanDataset",
    "load_human_dataset",
    "item_id",
    "shuffled_order",
    "page_data",
    "write_human_page",
]

log = logging.getLogger(__name__)

PAGE_FORMAT = "rsmmvp-human-page/1"
#: the ``format`` of the answer files the page exports
EXPORT_FORMAT = "rsmmvp-human/1"
TEMPLATE_NAME = "human_template.html"
DATA_PLACEHOLDER = "__RSMMVP_HUMAN_DATA__"
#: the row fields the scorer needs (images left out)
ROW_FIELDS = ("index", "pair_id", "question", "options", "answer", "pattern", "pair_size", "dataset_fingerprint")


@dataclass
class HumanDataset:
    """A checked dataset: ``rows`` (no images, :data:`ROW_FIELDS`), its fingerprint, and the data with images."""

    source: str
    rows: list[dict[str, Any]]
    fingerprint: str
    data: Any

    def ids(self) -> dict[str, dict[str, Any]]:
        """``{item id: row}``."""
        return {item_id(self.fingerprint, r["index"]): r for r in self.rows}


def load_human_dataset(source: str | Path) -> HumanDataset:
    """Load and check ``source`` as the rsmmvp tasks do (contract refused with its violations: exit 1)."""
    from rsmmvp_tasks.dataset.loading import load_rsmmvp
    from rsmmvp_tasks.evaluation.task import process_docs

    data = process_docs(load_rsmmvp(source))
    rows = data.remove_columns([c for c in data.column_names if c not in ROW_FIELDS]).to_list()
    fingerprints = {r["dataset_fingerprint"] for r in rows}
    if len(fingerprints) != 1:
        raise InputError(f"{source}: holds no question" if not rows else f"{source}: several fingerprints")
    return HumanDataset(source=str(source), rows=rows, fingerprint=fingerprints.pop(), data=data)


def item_id(fingerprint: str, index: int) -> str:
    """The opaque id of a question on the page: nothing about the row can be read from it."""
    return hashlib.sha256(f"{fingerprint}:{int(index)}".encode()).hexdigest()[:16]


def shuffled_order(pair_ids: list[str], seed: int, *, tries: int = 1000) -> list[int]:
    """A random order of ``range(len(pair_ids))`` in which no two neighbours share a pair id.

    Random greedy draws (a fresh draw when one runs into a dead end), reproducible from ``seed``.
    Raises :class:`~rsmmvp_tasks.errors.InputError` when no such order exists (one pair holds more
    than half of the questions, e.g. a dataset of one pair).
    """
    n = len(pair_ids)
    largest = max(Counter(pair_ids).values(), default=0)
    if largest > (n + 1) // 2:
        raise InputError(
            f"the dataset has {n} question(s) and a pair with {largest}: no order keeps the images of a pair apart; "
            "a human baseline needs at least two pairs"
        )
    rng = random.Random(seed)
    for _ in range(tries):
        remaining = list(range(n))
        rng.shuffle(remaining)
        order: list[int] = []
        while remaining:
            last = pair_ids[order[-1]] if order else None
            pick = next((k for k, i in enumerate(remaining) if pair_ids[i] != last), None)
            if pick is None:
                break
            order.append(remaining.pop(pick))
        if len(order) == n:
            return order
    raise InputError(f"no order found that keeps the images of each pair apart after {tries} draws")  # pragma: no cover


def _image_uri(image: Any, index: int, max_side: int) -> str:
    """A downscaled JPEG data URI of a row's image (``{"bytes", "path"}`` as stored, undecoded)."""
    from rsmmvp_tasks.mining.review import thumbnail_data_uri

    raw = image.get("bytes") if isinstance(image, dict) else None
    path = image.get("path") if isinstance(image, dict) else None
    try:
        if raw:
            # encoded bytes: read_image (under thumbnail_data_uri) reads them as it reads a file
            return thumbnail_data_uri(raw, max_side=max_side)  # type: ignore[arg-type]
        if path:
            return thumbnail_data_uri(path, max_side=max_side)
    except (OSError, ValueError) as exc:
        raise InputError(f"row index={index}: its image cannot be read ({type(exc).__name__}: {exc})") from exc
    raise InputError(f"row index={index}: has no image")


def page_data(dataset: HumanDataset, *, seed: int = 0, max_side: int = 768, title: str | None = None) -> dict[str, Any]:
    """The JSON object the page renders: items in shuffled order, without answers (module docstring)."""
    import datasets
    from tqdm.auto import tqdm

    images = dataset.data.cast_column("image", datasets.Image(decode=False))["image"]
    order = shuffled_order([str(r["pair_id"]) for r in dataset.rows], seed)
    items = []
    for position in tqdm(order, desc="human page", unit="image", disable=len(order) < 20):
        row = dataset.rows[position]
        items.append({
            "id": item_id(dataset.fingerprint, row["index"]),
            "question": str(row["question"]),
            "options": [str(o) for o in row["options"]],
            "src": _image_uri(images[position], row["index"], max_side),
        })
    page_id = hashlib.sha256(f"{dataset.fingerprint}:{seed}".encode()).hexdigest()[:16]
    return {
        "format": PAGE_FORMAT,
        "export_format": EXPORT_FORMAT,
        "title": title or "",
        "dataset": Path(dataset.source).name or dataset.source,
        "dataset_fingerprint": dataset.fingerprint,
        "seed": seed,
        "page_id": page_id,
        "items": items,
    }


def write_human_page(source: str | Path, out_dir: str | Path, *, seed: int = 0, max_side: int = 768,
                     title: str | None = None) -> Path:
    """Write ``out_dir/index.html`` for the dataset at ``source``; return its path."""
    dataset = load_human_dataset(source)
    data = page_data(dataset, seed=seed, max_side=max_side, title=title)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    from rsmmvp_tasks.fileio import atomic_write_text

    page = atomic_write_text(out / "index.html", render_page(__package__, TEMPLATE_NAME, DATA_PLACEHOLDER, data))
    log.info("wrote %s (%d questions, seed %d, %.1f MB)", page, len(data["items"]), seed, page.stat().st_size / 1e6)
    return page
