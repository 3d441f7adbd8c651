"""The page of ``rsmmvp human page DATASET --out DIR``: one image and its question at a time, for a person.

:func:`write_human_page` loads any RSMMVP dataset (:func:`rsmmvp_tasks.dataset.loading.load_rsmmvp`:
a built folder, a parquet file, a ``save_to_disk`` folder, a raw layout, a hub id or a shipped task
name such as ``rsmmvp_mini``), refuses one that breaks the contract (the same check as the
lmms-eval tasks, which also gives the same dataset fingerprint), and writes two files into ``DIR``:

- ``index.html``, for the annotators: self-contained and offline (images embedded as JPEG ``data:``
  URIs, no network), like the review page of :mod:`rsmmvp_tasks.mining.review`; progress in
  ``localStorage`` under ``"rsmmvp-human:<page_id>"``; a JSON export ("Download answers") and import;
  ``window.rsmmvpExport()`` / ``window.rsmmvpImport(text)`` for scripts and tests; one item at a
  time: the image, the question, the lettered options and "I cannot tell"; keys ``1``/``2``... or
  ``a``/``b``... pick, ``0`` cannot tell, arrows or ``j``/``k`` move, ``n`` jumps to the next
  unanswered item;
- the **key file** :func:`key_file_name` (``DO-NOT-PUBLISH.human-key.<page_id>.json``), for the
  organiser only: it maps the page's item ids back to the dataset's row indices, and
  ``rsmmvp human score --key`` needs it. Each page gets its own key file, so a rewritten page never
  replaces the key of a page already handed out.

**The page holds nothing derived from the answers or the row indices.** Item ids and the page id
are fresh random tokens (:mod:`secrets`) of each page, and the order of the items is drawn from a
secret random seed (recorded in the key file only) in which the two images of a pair never follow
each other (:func:`shuffled_order`). No dataset fingerprint, index, pair id, pattern, answer or seed
is in the page, so nobody holding only ``index.html`` can tell which items form a pair or which
row an item is, and so cannot try answer keys against the dataset's fingerprint. (An annotator who
has the dataset itself can of course look its answers up: a human baseline needs trusted people.)
``--seed N`` makes the order reproducible from ``N``: whoever knows ``N`` and the dataset can
rebuild the order, so keep it private too.

The export (format :data:`EXPORT_FORMAT`) names the page id and, per answered item, its id, the
choice (a letter, or ``null`` for "I cannot tell") and the seconds spent on it;
:mod:`rsmmvp_tasks.human.scoring` scores it with the page's key file. Answers exported by pages of
the earlier format (:data:`LEGACY_EXPORT_FORMAT`, ids ``sha256("<fingerprint>:<index>")[:16]``, see
:func:`legacy_item_id`) are still scored, without a key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from rsmmvp_tasks.dataset.loading import load_rsmmvp
from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.evaluation.task import process_docs
from rsmmvp_tasks.fileio import atomic_write_text, owned_outputs
from rsmmvp_tasks.pages import render_page
from rsmmvp_tasks.thumbnails import thumbnail_data_uri

__all__ = [
    "PAGE_FORMAT",
    "EXPORT_FORMAT",
    "LEGACY_EXPORT_FORMAT",
    "KEY_FORMAT",
    "DATA_PLACEHOLDER",
    "HumanDataset",
    "HumanPageFiles",
    "PageKey",
    "key_file_name",
    "load_human_dataset",
    "legacy_item_id",
    "read_page_keys",
    "shuffled_order",
    "page_data",
    "write_human_page",
]

log = logging.getLogger(__name__)

PAGE_FORMAT = "rsmmvp-human-page/2"
#: the ``format`` of the answer files the page exports (item ids mapped back by the page's key file)
EXPORT_FORMAT = "rsmmvp-human/2"
#: answer files of the first pages, whose item ids were derived from the fingerprint and the index
LEGACY_EXPORT_FORMAT = "rsmmvp-human/1"
#: the ``format`` of a page's key file
KEY_FORMAT = "rsmmvp-human-key/1"
#: how key files are named (``*`` is the page id): the name says not to publish it
KEY_GLOB = "DO-NOT-PUBLISH.human-key.*.json"
TEMPLATE_NAME = "human_template.html"
DATA_PLACEHOLDER = "__RSMMVP_HUMAN_DATA__"
#: the row fields the scorer needs (images left out)
ROW_FIELDS = ("index", "pair_id", "question", "options", "answer", "pattern", "pair_size", "dataset_fingerprint")
#: hex characters of the random page and item ids (64 bits each)
TOKEN_BYTES = 8


@dataclass
class HumanDataset:
    """A checked dataset: ``rows`` (no images, :data:`ROW_FIELDS`), its fingerprint, and the data with images."""

    source: str
    rows: list[dict[str, Any]]
    fingerprint: str
    data: Any

    def by_index(self) -> dict[int, dict[str, Any]]:
        """``{row index: row}``."""
        return {int(r["index"]): r for r in self.rows}

    def legacy_ids(self) -> dict[str, dict[str, Any]]:
        """``{legacy item id: row}``: the ids of pages of :data:`LEGACY_EXPORT_FORMAT` (:func:`legacy_item_id`)."""
        return {legacy_item_id(self.fingerprint, r["index"]): r for r in self.rows}


@dataclass(frozen=True)
class PageKey:
    """What maps one page back to its dataset (the content of its key file; never in the page).

    ``items`` maps each item id of the page to its row index; ``seed`` is the seed of its order.
    """

    page_id: str
    dataset_fingerprint: str
    dataset: str
    seed: int
    items: dict[str, int]
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """The key file's JSON object."""
        return {"format": KEY_FORMAT, "note": "private: maps the page's items to the dataset; do not publish",
                "page_id": self.page_id, "dataset": self.dataset, "dataset_fingerprint": self.dataset_fingerprint,
                "seed": self.seed, "items": self.items}


class HumanPageFiles(NamedTuple):
    """What :func:`write_human_page` wrote: the page for the annotators and the key for the organiser."""

    page: Path
    key: Path


def key_file_name(page_id: str) -> str:
    """The key file's name for ``page_id``, written next to ``index.html``: it says not to publish it."""
    return KEY_GLOB.replace("*", page_id)


def load_human_dataset(source: str | Path) -> HumanDataset:
    """Load and check ``source`` as the rsmmvp tasks do (contract refused with its violations: exit 1)."""
    data = process_docs(load_rsmmvp(source))
    rows = data.remove_columns([c for c in data.column_names if c not in ROW_FIELDS]).to_list()
    fingerprints = {r["dataset_fingerprint"] for r in rows}
    if len(fingerprints) != 1:
        raise InputError(f"{source}: holds no question" if not rows else f"{source}: several fingerprints")
    return HumanDataset(source=str(source), rows=rows, fingerprint=fingerprints.pop(), data=data)


def legacy_item_id(fingerprint: str, index: int) -> str:
    """The item id of the first page format: ``sha256("<fingerprint>:<index>")[:16]``.

    Only for scoring answers given on such pages: anyone holding the fingerprint can recompute it
    for every index, which is why today's pages use random ids and a key file instead.
    """
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


def _fresh_ids(count: int) -> list[str]:
    """``count`` distinct random tokens (64 bits each, from :mod:`secrets`)."""
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < count:
        token = secrets.token_hex(TOKEN_BYTES)
        if token not in seen:
            seen.add(token)
            ids.append(token)
    return ids


def page_data(dataset: HumanDataset, *, seed: int | None = None, max_side: int = 768,
              title: str | None = None) -> tuple[dict[str, Any], PageKey]:
    """``(the JSON object the page renders, its key)``: items in a secret shuffled order, random ids.

    ``seed`` fixes the order (default: a fresh secret seed); the ids are random whatever the seed.
    The page object holds no fingerprint, index, pair id, answer or seed (module docstring).
    """
    import datasets
    from tqdm.auto import tqdm

    seed = secrets.randbits(63) if seed is None else int(seed)
    images = dataset.data.cast_column("image", datasets.Image(decode=False))["image"]
    order = shuffled_order([str(r["pair_id"]) for r in dataset.rows], seed)
    page_id, *ids = _fresh_ids(len(order) + 1)
    items = []
    key_items: dict[str, int] = {}
    for item, position in zip(ids, tqdm(order, desc="human page", unit="image", disable=len(order) < 20), strict=True):
        row = dataset.rows[position]
        key_items[item] = int(row["index"])
        items.append({
            "id": item,
            "question": str(row["question"]),
            "options": [str(o) for o in row["options"]],
            "src": _image_uri(images[position], row["index"], max_side),
        })
    name = Path(dataset.source).name or dataset.source
    data = {"format": PAGE_FORMAT, "export_format": EXPORT_FORMAT, "title": title or "", "dataset": name,
            "page_id": page_id, "items": items}
    key = PageKey(page_id=page_id, dataset_fingerprint=dataset.fingerprint, dataset=dataset.source, seed=seed,
                  items=key_items)
    return data, key


def write_human_page(source: str | Path, out_dir: str | Path, *, seed: int | None = None, max_side: int = 768,
                     title: str | None = None, overwrite: bool = False) -> HumanPageFiles:
    """Write ``out_dir/index.html`` and its key file for the dataset at ``source`` (module docstring).

    The key is written first: a page is never left without the key that scores its answers. Never over
    an ``index.html`` rsmmvp did not write there or one edited since
    (:func:`~rsmmvp_tasks.fileio.owned_outputs`; ``overwrite`` replaces it).
    """
    dataset = load_human_dataset(source)
    data, key = page_data(dataset, seed=seed, max_side=max_side, title=title)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with owned_outputs(out, [key_file_name(key.page_id), "index.html"], overwrite=overwrite):
        key_path = atomic_write_text(out / key_file_name(key.page_id), json.dumps(key.to_json(), indent=1))
        page = atomic_write_text(out / "index.html", render_page(__package__, TEMPLATE_NAME, DATA_PLACEHOLDER, data))
    log.info("wrote %s (%d questions, %.1f MB) and its key %s", page, len(data["items"]), page.stat().st_size / 1e6,
             key_path.name)
    return HumanPageFiles(page=page, key=key_path)


def _read_key(path: Path) -> PageKey:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable key file ({exc})") from exc
    items = data.get("items") if isinstance(data, Mapping) else None
    if (not isinstance(data, Mapping) or data.get("format") != KEY_FORMAT or not isinstance(items, Mapping)
            or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in items.items())
            or not isinstance(data.get("page_id"), str) or not isinstance(data.get("dataset_fingerprint"), str)):
        raise InputError(f"{path}: not a key file of `rsmmvp human page` (format {KEY_FORMAT!r}, "
                         "'page_id', 'dataset_fingerprint' and 'items' mapping ids to row indices)")
    seed = data.get("seed")
    return PageKey(page_id=data["page_id"], dataset_fingerprint=data["dataset_fingerprint"],
                   dataset=str(data.get("dataset", "")), seed=seed if isinstance(seed, int) else -1,
                   items=dict(items), source=str(path))


def read_page_keys(paths: Iterable[str | Path]) -> dict[str, PageKey]:
    """``{page id: key}`` of the key files given, each a key file or a page folder holding key files.

    Raises :class:`InputError` naming the path for a missing or malformed key, a folder without one,
    or two different keys claiming one page id.
    """
    keys: dict[str, PageKey] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(path.glob(KEY_GLOB))
            if not files:
                raise InputError(f"{path}: holds no key file ({KEY_GLOB}); give the folder `rsmmvp human page` "
                                 "wrote, or the key file itself")
        elif path.is_file():
            files = [path]
        else:
            raise InputError(f"{path}: no such key file or page folder")
        for file in files:
            key = _read_key(file)
            if key.page_id in keys and keys[key.page_id].items != key.items:
                raise InputError(f"{file}: page id {key.page_id} is also the id of {keys[key.page_id].source}, "
                                 "with other items")
            keys[key.page_id] = key
    return keys

