"""Loading RSMMVP data from wherever it is, and the ``process_docs`` hook of the full benchmark.

:func:`load_rsmmvp` accepts a built folder (``data/*.parquet`` or ``disk/``), a parquet file, a
``save_to_disk`` folder, a raw MMVP-style layout (:mod:`rsmmvp_tasks.dataset.raw`) or a hub dataset id.

:func:`process_hub_docs` is what the ``rsmmvp`` task runs on what lmms-eval loaded from the hub.
If the hub data already has the contract columns it is used as is. Otherwise (the published repo
exposes only an image column; its questions sit in a separate table, as in MMVP's hub copy) the
repo snapshot is converted with :func:`rsmmvp_tasks.dataset.raw.read_raw`, checked with the validator
(violations are logged; it fails only on those that make evaluation impossible: a missing column
or image, an unreadable image, an answer outside the options, fewer than two options), and
cached with ``save_to_disk`` under ``$RSMMVP_CACHE`` (default ``~/.cache/rsmmvp``), keyed by the
snapshot, so the conversion runs once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from rsmmvp_tasks.schema import PAIR_SIZE, REQUIRED_COLUMNS

logger = logging.getLogger(__name__)

__all__ = ["cache_root", "is_built", "load_rsmmvp", "process_hub_docs", "raw_to_dataset"]

#: violations that make a raw layout unusable for evaluation (others, e.g. a missing pattern column
#: as in MMVP's own hub copy, are logged but tolerated)
_FATAL = {"missing_column", "image_missing", "image_unreadable", "answer_range", "empty_options"}


def cache_root() -> Path:
    """Where converted hub snapshots are cached: ``$RSMMVP_CACHE``, default ``~/.cache/rsmmvp``."""
    return Path(os.environ.get("RSMMVP_CACHE", Path.home() / ".cache" / "rsmmvp"))


def is_built(path: Path) -> bool:
    """Whether ``path`` is a built/saved dataset (parquet file, ``save_to_disk`` folder, ``data/*.parquet``)
    rather than a raw layout."""
    if path.is_file():
        return path.suffix == ".parquet"
    return (
        (path / "state.json").exists()
        or (path / "dataset_dict.json").exists()
        or (path / "disk" / "state.json").exists()
        or any(path.glob("data/*.parquet"))
    )


def raw_to_dataset(root: Path, *, name: str | None = None, pair_size: int = PAIR_SIZE) -> Any:
    """Read and check a raw layout; the contract Dataset (images embedded) it gives for evaluation.

    Every violation is logged; :data:`_FATAL` ones raise :class:`rsmmvp_tasks.dataset.build.ValidationFailed`.
    """
    from rsmmvp_tasks.dataset.build import ValidationFailed, rows_to_dataset
    from rsmmvp_tasks.dataset.raw import read_raw
    from rsmmvp_tasks.dataset.validate import ValidationReport, validate_dataset

    name = name or str(root)
    rows = read_raw(root, pair_size=pair_size)
    report = validate_dataset(rows, pair_size=pair_size)
    if not report.ok:
        logger.warning("rsmmvp: %s breaks the RSMMVP contract:\n%s", name, report.format())
        fatal = [v for v in report.violations if v.code in _FATAL]
        if fatal:
            raise ValidationFailed(ValidationReport(report.n_rows, report.n_pairs, fatal))
    return rows_to_dataset(rows)


def _pick_split(data: Any, split: str) -> Any:
    import datasets

    if isinstance(data, datasets.DatasetDict):
        if split not in data:
            raise KeyError(f"split {split!r} not found; the dataset has {list(data)}")
        return data[split]
    return data


def load_rsmmvp(path_or_id: str | os.PathLike[str], split: str = "test", *, pair_size: int = PAIR_SIZE) -> Any:
    """The dataset at ``path_or_id`` as a :class:`datasets.Dataset` in the contract.

    ``split`` picks the split of a ``DatasetDict`` folder or the ``data/<split>-*.parquet`` files of a
    built folder (all ``data/*.parquet`` when none is named so).
    """
    import datasets

    from rsmmvp_tasks.dataset.hub import resolve_source

    path = resolve_source(path_or_id)
    if path.is_file():
        if path.suffix != ".parquet":
            raise ValueError(f"{path}: not a parquet file; pass a parquet file, a dataset folder or a hub id")
        return datasets.load_dataset("parquet", data_files=str(path), split="train")
    for disk in (path, path / "disk"):
        if (disk / "state.json").exists() or (disk / "dataset_dict.json").exists():
            return _pick_split(datasets.load_from_disk(str(disk)), split)
    parquet = sorted(path.glob(f"data/{split}-*.parquet")) or sorted(path.glob("data/*.parquet"))
    if parquet:
        return datasets.load_dataset("parquet", data_files=[str(p) for p in parquet], split="train")
    return raw_to_dataset(path, pair_size=pair_size)


def process_hub_docs(docs: Any, repo_id: str) -> Any:
    """Contract rows for the hub dataset ``repo_id`` (``docs``: what lmms-eval loaded from it)."""
    if all(c in docs.column_names for c in REQUIRED_COLUMNS):
        return docs.sort("index")
    import datasets

    from rsmmvp_tasks.dataset.hub import resolve_source

    snapshot = resolve_source(repo_id)
    key = hashlib.sha1(str(snapshot.resolve()).encode()).hexdigest()[:16]
    cached = cache_root() / repo_id.replace("/", "__") / key
    if (cached / "state.json").exists():
        logger.info("rsmmvp: using the converted %s cached at %s", repo_id, cached)
        return datasets.load_from_disk(str(cached))
    logger.info(
        "rsmmvp: %s has columns %s, not the RSMMVP contract; converting its question table and "
        "images (once; cached at %s)",
        repo_id,
        docs.column_names,
        cached,
    )
    ds = raw_to_dataset(snapshot, name=repo_id)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.save_to_disk(str(tmp))
    tmp.rename(cached)  # a half-written cache is never taken for a finished one
    return datasets.load_from_disk(str(cached))
