"""Loading RSMMVP data from wherever it is, and the ``process_docs`` hook of the full benchmark.

:func:`load_rsmmvp` accepts a built folder, a parquet file, a ``save_to_disk`` folder, a raw
MMVP-style layout (:mod:`rsmmvp_tasks.dataset.raw`) or a hub dataset id. A built folder is read as
its users read it (``datasets.load_dataset(folder)``: the ``data/*.parquet`` files), not from its
``disk/`` copy, so a check of the folder checks what is published. What cannot be read is an
:class:`~rsmmvp_tasks.errors.InputError` naming the file: a corrupt or empty parquet, a
``DatasetDict`` without the split, a mined PAIRS table (to annotate with ``rsmmvp review`` first).

:func:`process_hub_docs` is what the ``rsmmvp`` task runs on what lmms-eval loaded from the hub.
If the hub data already has the contract columns it is used as is. Otherwise (the published repo
exposes only an image column; its questions sit in a separate table, as in MMVP's hub copy) the
repo snapshot is converted with :func:`rsmmvp_tasks.dataset.raw.read_raw`, checked with the validator
(violations are logged; it fails only on those that make evaluation impossible: a missing column
or image, an unreadable image, an answer outside the options, fewer than two options), and
cached with ``save_to_disk`` under ``$RSMMVP_CACHE`` (default ``~/.cache/rsmmvp``), keyed by the
snapshot, so the conversion runs once. Several processes converting at once (every rank of a first
``accelerate launch``) take a file lock beside the cache: one converts, the others wait and read
its result.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import InputError
from rsmmvp_tasks.paths import cache_root
from rsmmvp_tasks.schema import PAIR_SIZE, PARQUET_GLOB, REQUIRED_COLUMNS, is_pairs_table

logger = logging.getLogger(__name__)

__all__ = ["UnreadableDatasetError", "cache_root", "is_built", "load_rsmmvp", "process_hub_docs", "raw_to_dataset"]

#: violations that make a raw layout unusable for evaluation (others, e.g. a missing pattern column
#: as in MMVP's own hub copy, are logged but tolerated)
_FATAL = {"missing_column", "image_missing", "image_unreadable", "answer_range", "empty_options", "duplicate_options"}


class UnreadableDatasetError(InputError):
    """A dataset file or folder that cannot be read as RSMMVP data (exit code 2); the message names it."""


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


def raw_to_dataset(
    root: Path, *, name: str | None = None, pair_size: int = PAIR_SIZE, table: str | Path | None = None
) -> Any:
    """Read and check a raw layout; the contract Dataset (images embedded) it gives for evaluation.

    Every violation is logged; :data:`_FATAL` ones raise :class:`rsmmvp_tasks.dataset.build.ValidationFailed`.
    """
    from rsmmvp_tasks.dataset.build import ValidationFailed, rows_to_dataset
    from rsmmvp_tasks.dataset.raw import read_raw
    from rsmmvp_tasks.dataset.validate import ValidationReport, validate_dataset

    name = name or str(root)
    rows = read_raw(root, pair_size=pair_size, table=table)
    report = validate_dataset(rows, pair_size=pair_size)
    if not report.ok:
        logger.warning("rsmmvp: %s breaks the RSMMVP contract:\n%s", name, report.format())
        fatal = [v for v in report.violations if v.code in _FATAL]
        if fatal:
            raise ValidationFailed(ValidationReport(report.n_rows, report.n_pairs, fatal))
    return rows_to_dataset(rows)


def _pick_split(data: Any, split: str, where: Path) -> Any:
    import datasets

    if isinstance(data, datasets.DatasetDict):
        if split not in data:
            raise UnreadableDatasetError(
                f"{where}: a DatasetDict without a {split!r} split (it has {list(data)}); RSMMVP data lives in the "
                f"{split!r} split: rename it, or pick another with split=..."
            )
        return data[split]
    return data


def _refuse_pairs_table(data: Any, where: Path, columns: list[str] | None = None) -> Any:
    """``data`` (or a table with ``columns``), unless it is a mined PAIRS table, refused with what to do."""
    if is_pairs_table(data.column_names if columns is None else columns):
        raise UnreadableDatasetError(
            f"{where} is a mined PAIRS table (from `rsmmvp mine`), not an RSMMVP dataset: annotate its pairs with "
            f"`rsmmvp review {where} --out DIR`, then build the dataset with `rsmmvp build --pairs {where} "
            "--annotations FILE --out OUT`"
        )
    return data


def _read_parquet(files: list[Path], where: Path) -> Any:
    """The rows of parquet ``files``; a file that is not complete parquet is named in the error."""
    import datasets
    import pyarrow.parquet as pq

    for path in files:  # the footer is read first: cheap, and names the damaged file
        try:
            pq.ParquetFile(str(path)).close()
        except Exception as exc:  # noqa: BLE001 - arrow/OS errors have many types; all mean "unreadable"
            raise UnreadableDatasetError(
                f"{path}: cannot be read as parquet ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "is it complete? Rebuild it (`rsmmvp build` swaps a finished folder in, so an interrupted build "
                "leaves the earlier output intact) or fetch it again"
            ) from exc
    try:
        data = datasets.load_dataset("parquet", data_files=[str(p) for p in files], split="train")
    except Exception as exc:  # noqa: BLE001 - a damaged row group, mismatched schemas: unreadable input
        cause = exc
        while cause.__cause__ is not None or cause.__context__ is not None:
            cause = cause.__cause__ or cause.__context__  # the root error says what is wrong
        raise UnreadableDatasetError(
            f"{where}: cannot be read as parquet ({type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''})"
        ) from exc
    return _refuse_pairs_table(data, where)


def load_rsmmvp(
    path_or_id: str | os.PathLike[str],
    split: str = "test",
    *,
    pair_size: int = PAIR_SIZE,
    table: str | Path | None = None,
) -> Any:
    """The dataset at ``path_or_id`` as a :class:`datasets.Dataset` in the contract.

    ``split`` picks the split of a ``DatasetDict`` folder or the ``data/<split>-*.parquet`` files of a
    built folder (all ``data/*.parquet`` when none is named so). ``table`` names the question table of
    a raw layout holding several. Raises :class:`UnreadableDatasetError` (an
    :class:`~rsmmvp_tasks.errors.InputError`) for what cannot be read.
    """
    import datasets

    from rsmmvp_tasks.dataset.hub import resolve_source

    path = resolve_source(path_or_id)
    if path.is_file():
        if path.suffix.lower() in (".csv", ".tsv"):  # a PAIRS.csv gets the same advice as PAIRS.parquet
            import pandas as pd

            try:
                header = list(pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", nrows=0).columns)
            except Exception:  # noqa: BLE001 - unreadable: the generic message below applies
                header = []
            _refuse_pairs_table(None, path, header)
        if path.suffix != ".parquet":
            raise UnreadableDatasetError(
                f"{path}: not a parquet file; pass a parquet file, a built or save_to_disk folder, a raw layout "
                "folder (question table + images) or a hub id"
            )
        return _read_parquet([path], path)
    # a built folder is what load_dataset(folder) reads: data/*.parquet, before any disk/ copy
    parquet = sorted(path.glob(f"data/{split}-*.parquet")) or sorted(path.glob("data/*.parquet"))
    if parquet:
        return _read_parquet(parquet, path / PARQUET_GLOB if len(parquet) > 1 else parquet[0])
    for disk in (path, path / "disk"):
        if (disk / "state.json").exists() or (disk / "dataset_dict.json").exists():
            try:
                data = datasets.load_from_disk(str(disk))
            except Exception as exc:  # noqa: BLE001 - a damaged save_to_disk folder, whatever the error type
                raise UnreadableDatasetError(
                    f"{disk}: a save_to_disk folder that cannot be read ({type(exc).__name__}: {exc})"
                ) from exc
            return _refuse_pairs_table(_pick_split(data, split, disk), disk)
    return raw_to_dataset(path, pair_size=pair_size, table=table)


def process_hub_docs(docs: Any, repo_id: str) -> Any:
    """Contract rows for the hub dataset ``repo_id`` (``docs``: what lmms-eval loaded from it)."""
    if all(c in docs.column_names for c in REQUIRED_COLUMNS):
        return docs.sort("index")
    import datasets
    from filelock import FileLock

    from rsmmvp_tasks.dataset.hub import resolve_source

    snapshot = resolve_source(repo_id)
    key = hashlib.sha1(str(snapshot.resolve()).encode()).hexdigest()[:16]
    cached = cache_root() / repo_id.replace("/", "__") / key
    if (cached / "state.json").exists():
        logger.info("rsmmvp: using the converted %s cached at %s", repo_id, cached)
        return datasets.load_from_disk(str(cached))
    cached.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cached) + ".lock"):  # one process converts; the others wait here and find the result
        if (cached / "state.json").exists():
            logger.info("rsmmvp: using the converted %s cached at %s (converted by another process)", repo_id, cached)
            return datasets.load_from_disk(str(cached))
        logger.info(
            "rsmmvp: %s has columns %s, not the RSMMVP contract; converting its question table and "
            "images (once; cached at %s)",
            repo_id,
            docs.column_names,
            cached,
        )
        ds = raw_to_dataset(snapshot, name=repo_id)
        for stale in cached.parent.glob(f"{cached.name}.tmp*"):  # left by a killed conversion (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = cached.with_name(f"{cached.name}.tmp{os.getpid()}")
        ds.save_to_disk(str(tmp))
        tmp.rename(cached)  # a half-written cache is never taken for a finished one
    return datasets.load_from_disk(str(cached))
