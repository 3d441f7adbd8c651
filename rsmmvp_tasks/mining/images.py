"""Where ``rsmmvp embed`` reads images from: folders, file lists and Hugging Face datasets.

Sources (the ``IMAGES`` argument of ``rsmmvp embed``)
-----------------------------------------------------
==================================  ===================================================  =========================
spec                                images                                               image id
==================================  ===================================================  =========================
a folder                            ``schema.IMAGE_SUFFIXES`` (any case),                path relative to the
                                    recursively, sorted                                  folder (POSIX ``/``)
a ``.txt`` file                     one path per line (blank lines and ``#`` comments    the line as written
                                    skipped); relative paths resolve against the file's
                                    folder
``hf:NAME[:split][#column]``        a hub dataset (``datasets.load_dataset``; offline    ``row-<n>`` (row number)
                                    mode and the local cache are honoured)
a ``save_to_disk`` folder or        a local dataset; ``#column`` may follow the path     ``row-<n>``
``.parquet`` file
==================================  ===================================================  =========================

The image column defaults to the dataset's first :class:`datasets.Image` column, else ``"image"``.
Image ids key the embedding caches: two caches made from the same source share ids, which is how
``rsmmvp mine`` joins a CLIP cache with an SSL cache.

:class:`ImageDataset` decodes (:func:`open_image`: 8-bit RGB, see :mod:`rsmmvp_tasks.imagery.read`) and preprocesses (a transformers image
processor) one image per item, so a :class:`torch.utils.data.DataLoader` with workers overlaps
decoding with the model. An image that cannot be read is not raised: its item carries the error
message, and :func:`collate` separates good items from failed ones.

Content stamps: :meth:`ImageList.stamps` gives each image a cheap fingerprint of its content —
``"<size>:<mtime_ns>"`` of a file (``None`` when it cannot be stat'ed), ``"ds:<fingerprint>"`` for a
dataset row (the ``datasets`` fingerprint of the loaded table, which changes when its files do). The
cache stores them, so a resumed ``rsmmvp embed`` re-embeds an image replaced in place.

Errors: :class:`ImageSourceError` (an :class:`~rsmmvp_tasks.errors.InputError`) for a source that
does not exist, cannot be loaded (a hub dataset not in the local cache while offline, a corrupt
parquet), holds no image or names an unknown column — its message says what was given and what is
accepted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.modelload import cause_of, not_loadable
from rsmmvp_tasks.schema import IMAGE_SUFFIXES

__all__ = [
    "IMAGE_SUFFIXES",
    "Batch",
    "ImageDataset",
    "ImageList",
    "ImageSourceError",
    "Item",
    "collate",
    "list_images",
    "open_image",
]

log = logging.getLogger(__name__)


class ImageSourceError(InputError):
    """An ``IMAGES`` spec that cannot be listed (missing, empty, unknown column...)."""


@dataclass
class ImageList:
    """The images of one source, in a fixed order.

    ``ids[i]`` is image ``i``'s id; :meth:`load` returns its bytes-or-path for decoding and
    :meth:`path` its file path (``None`` for dataset rows).
    """

    source: str
    kind: str  # "folder" | "filelist" | "dataset"
    ids: list[str]
    root: Path | None = None  # folder / file-list folder; None for datasets
    files: list[Path] = field(default_factory=list)  # absolute paths (folder, filelist)
    dataset: Any = None  # a datasets.Dataset with the image column left undecoded
    column: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def path(self, i: int) -> Path | None:
        """The file of image ``i`` (``None`` when it is a dataset row)."""
        return self.files[i] if self.files else None

    def raw(self, i: int) -> str | bytes | Path:
        """What to decode image ``i`` from: a path or encoded bytes."""
        if self.files:
            return self.files[i]
        cell = self.dataset[i][self.column]
        if isinstance(cell, dict):
            if cell.get("bytes"):
                return cell["bytes"]
            if cell.get("path"):
                return cell["path"]
        if isinstance(cell, (bytes, str)):
            return cell
        raise ValueError(f"row {i}: column {self.column!r} holds no image bytes or path ({type(cell).__name__})")

    def stamps(self) -> list[str | None]:
        """A content stamp per image (see the module docstring), in ``ids`` order."""
        if not self.files:
            fingerprint = getattr(self.dataset, "_fingerprint", None)
            return [f"ds:{fingerprint}" if fingerprint else None] * len(self.ids)
        out: list[str | None] = []
        for p in self.files:
            try:
                st = os.stat(p)
            except OSError:
                out.append(None)
            else:
                out.append(f"{st.st_size}:{st.st_mtime_ns}")
        return out

    def describe(self) -> dict[str, Any]:
        """What the cache manifest records about this source."""
        return {"source": self.source, "source_kind": self.kind, "root": str(self.root) if self.root else None,
                "column": self.column, "num_images": len(self.ids)}


def _list_folder(root: Path) -> ImageList:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ImageSourceError(f"no image ({', '.join(IMAGE_SUFFIXES)}) found under folder {root}")
    ids = [p.relative_to(root).as_posix() for p in files]
    return ImageList(source=str(root.resolve()), kind="folder", ids=ids, root=root.resolve(), files=[p.resolve() for p in files])


def _list_file(list_file: Path) -> ImageList:
    base = list_file.resolve().parent
    ids: list[str] = []
    files: list[Path] = []
    seen: set[str] = set()
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageSourceError(f"{list_file}: cannot be read as a UTF-8 file list ({cause_of(exc)})") from None
    for n, line in enumerate(lines, 1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry in seen:
            log.warning("%s:%d: %s listed again; embedding it once", list_file, n, entry)
            continue
        seen.add(entry)
        p = Path(entry).expanduser()
        ids.append(entry)
        files.append(p if p.is_absolute() else base / p)
    if not ids:
        raise ImageSourceError(f"file list {list_file} names no image (one path per line expected)")
    return ImageList(source=str(list_file.resolve()), kind="filelist", ids=ids, root=base, files=files)


def _split_column(spec: str, column: str | None) -> tuple[str, str | None]:
    if "#" in spec:
        spec, col = spec.rsplit("#", 1)
        if column and column != col:
            raise ImageSourceError(f"column given twice: #{col} in the source and --column {column}")
        column = col or column
    return spec, column


def _pick_column(ds: Any, column: str | None, where: str) -> str:
    import datasets

    names = list(ds.column_names)
    if column:
        if column not in names:
            raise ImageSourceError(f"{where}: no column {column!r}; columns are {names}")
        return column
    for name, feat in ds.features.items():
        if isinstance(feat, datasets.Image):
            return name
    if "image" in names:
        return "image"
    raise ImageSourceError(f"{where}: no image column found among {names}; name one with '#column' or --column")


def _list_dataset(ds: Any, source: str, column: str | None) -> ImageList:
    import datasets

    if isinstance(ds, datasets.DatasetDict):
        if len(ds) != 1:
            raise ImageSourceError(f"{source}: has splits {list(ds)}; name one (hf:NAME:split)")
        ds = next(iter(ds.values()))
    col = _pick_column(ds, column, source)
    if isinstance(ds.features[col], datasets.Image):
        ds = ds.cast_column(col, datasets.Image(decode=False))  # decode ourselves, so a bad image is one error
    ds = ds.select_columns([col])
    if len(ds) == 0:
        raise ImageSourceError(f"{source}: the dataset has no rows")
    width = len(str(len(ds) - 1))
    ids = [f"row-{i:0{width}d}" for i in range(len(ds))]
    return ImageList(source=source, kind="dataset", ids=ids, dataset=ds, column=col)


def _load(loader: Callable[[], Any], where: str, hub_name: str | None = None) -> Any:
    """Run a ``datasets`` loader; its failures become :class:`ImageSourceError` naming ``where``."""
    try:
        return loader()
    except (OSError, ValueError, ImportError) as exc:  # ConnectionError, DatasetNotFoundError, a corrupt file
        cause = cause_of(exc)
        if hub_name is None:
            raise ImageSourceError(f"{where}: cannot be loaded as a dataset ({cause})") from None
        raise ImageSourceError(not_loadable(
            where, hub_name, exc, f"hf download --repo-type dataset {hub_name}",
            "give a local folder, .parquet file or save_to_disk folder")) from None


def list_images(spec: str | Path, column: str | None = None) -> ImageList:
    """List the images of ``spec`` (see the module docstring for the accepted forms)."""
    text = str(spec)
    if text.startswith("hf:"):
        import datasets

        name, column = _split_column(text[3:], column)
        parts = name.split(":")
        if len(parts) > 2 or not parts[0]:
            raise ImageSourceError(f"bad dataset spec {text!r}; expected hf:NAME[:split][#column]")
        split = parts[1] if len(parts) == 2 and parts[1] else None
        ds = _load(lambda: datasets.load_dataset(parts[0], split=split), text, hub_name=parts[0])
        return _list_dataset(ds, text, column)
    path_text, col = _split_column(text, column) if "#" in text and not Path(text).exists() else (text, column)
    path = Path(path_text).expanduser()
    if not path.exists():
        raise ImageSourceError(
            f"image source not found: {path} (give a folder, a .txt list, a .parquet file, a save_to_disk folder, "
            f"or hf:NAME[:split][#column])"
        )
    if path.is_file():
        if path.suffix.lower() == ".parquet":
            import datasets

            ds = _load(lambda: datasets.load_dataset("parquet", data_files=str(path), split="train"), str(path))
            return _list_dataset(ds, str(path.resolve()) + (f"#{col}" if col else ""), col)
        if path.suffix.lower() in (".txt", ".lst", ".list"):
            return _list_file(path)
        raise ImageSourceError(f"{path}: unsupported file; give a folder, a .txt list (one path per line) or a .parquet")
    if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
        import datasets

        ds = _load(lambda: datasets.load_from_disk(str(path)), str(path))
        return _list_dataset(ds, str(path.resolve()) + (f"#{col}" if col else ""), col)
    return _list_folder(path)


def open_image(raw: str | bytes | Path, settings: Any = None) -> Any:
    """Decode an image fully (so a truncated file fails here) as 8-bit RGB, through the one reading path
    :func:`rsmmvp_tasks.imagery.read.read_image` (GeoTIFF via rasterio, 16-bit/float stretched; ``settings``,
    a :class:`~rsmmvp_tasks.imagery.read.ReadSettings`, picks bands, stretch and nodata)."""
    from rsmmvp_tasks.imagery.read import read_image

    return read_image(raw, settings).image


@dataclass
class Item:
    """One decoded image: ``pixels`` is ``None`` and ``error`` says why when it could not be read."""

    index: int
    pixels: Any
    error: str | None = None


@dataclass
class Batch:
    """Good items stacked into ``pixels``; failures listed in ``errors`` as ``(index, message)``."""

    indices: list[int]
    pixels: Any
    errors: list[tuple[int, str]]


class ImageDataset:
    """A map-style torch dataset over ``indices`` of an :class:`ImageList`.

    ``preprocess`` maps one RGB PIL image to a ``(C, H, W)`` tensor (e.g. an encoder's
    :meth:`~rsmmvp_tasks.mining.encoders.Encoder.preprocess`).
    """

    def __init__(self, images: ImageList, indices: Sequence[int], preprocess: Callable[[Any], Any],
                 settings: Any = None) -> None:
        self.images = images
        self.indices = list(indices)
        self.preprocess = preprocess
        self.settings = settings  # ReadSettings for open_image (None: the defaults)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: int) -> Item:
        i = self.indices[k]
        try:
            image = open_image(self.images.raw(i), self.settings)
        except Exception as exc:  # noqa: BLE001 - any decode failure is one bad image, reported by the caller
            return Item(i, None, f"{type(exc).__name__}: {exc}")
        return Item(i, self.preprocess(image))


def collate(items: list[Item]) -> Batch:
    """DataLoader ``collate_fn``: stack the good items, keep the failures apart."""
    import torch

    good = [it for it in items if it.error is None]
    pixels = torch.stack([it.pixels for it in good]) if good else None
    return Batch([it.index for it in good], pixels, [(it.index, it.error or "") for it in items if it.error is not None])
