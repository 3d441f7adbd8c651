"""Loading RSMMVP data from wherever it is, and the ``process_docs`` hook of the full benchmark.

:func:`load_rsmmvp` accepts a built folder (``data/*.parquet`` or ``disk/``), a parquet file, a
``save_to_disk`` folder, a raw MMVP-style layout (:mod:`rsmmvp_tasks.raw`) or a hub dataset id.

:func:`process_hub_docs` is what the ``rsmmvp`` task runs on what lmms-eval loaded from the hub.
If the hub data already has the contract columns it is used as is. Otherwise (the published repo
exposes only an image column; its questions sit in a separate table, as in MMVP's hub copy) the
repo snapshot is converted with :func:`rsmmvp_tasks.raw.read_raw`, checked with the validator
(violations are logged, and make it fail only when a required column or an image is missing), and
cached with ``save_to_disk`` under ``$RSMMVP_CACHE`` (default ``~/.cache/rsmmvp``), keyed by the
snapshot, so the conversion runs once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from rsmmvp_tasks.schema import PAIR_SIZE, REQUIRED_COLUMNS

logger = logging.getLogger(__name__)

__all__ = ["load_rsmmvp", "process_hub_docs", "cache_root"]

_FATAL = {"missing_column", "image_missing", "image_unreadable"}


def cache_root() -> Path:
    return Path(os.environ.get("RSMMVP_CACHE", Path.home() / ".cache" / "rsmmvp"))


def load_rsmmvp(path_or_id: str | os.PathLike[str], *, pair_size: int = PAIR_SIZE) -> Any:
    """The dataset at ``path_or_id`` as a :class:`datasets.Dataset` in the contract."""
    import datasets

    from rsmmvp_tasks.build import rows_to_dataset
    from rsmmvp_tasks.hub import resolve_source
    from rsmmvp_tasks.raw import read_raw

    path = resolve_source(path_or_id)
    if path.is_file() and path.suffix == ".parquet":
        return datasets.load_dataset("parquet", data_files=str(path), split="train")
    if (path / "state.json").exists():
        return datasets.load_from_disk(str(path))
    if (path / "disk" / "state.json").exists():
        return datasets.load_from_disk(str(path / "disk"))
    parquet = sorted(path.glob("data/*.parquet"))
    if parquet:
        return datasets.load_dataset("parquet", data_files=[str(p) for p in parquet], split="train")
    return rows_to_dataset(read_raw(path, pair_size=pair_size))


def process_hub_docs(docs: Any, repo_id: str) -> Any:
    """Contract rows for the hub dataset ``repo_id`` (``docs``: what lmms-eval loaded from it)."""
    if all(c in docs.column_names for c in REQUIRED_COLUMNS):
        return docs.sort("index")
    import datasets

    from rsmmvp_tasks.build import rows_to_dataset
    from rsmmvp_tasks.hub import resolve_source
    from rsmmvp_tasks.raw import read_raw
    from rsmmvp_tasks.validate import validate_dataset

    snapshot = resolve_source(repo_id)
    key = hashlib.sha1(str(snapshot.resolve()).encode()).hexdigest()[:16]
    cached = cache_root() / repo_id.replace("/", "__") / key
    if (cached / "state.json").exists():
        logger.info("rsmmvp: using the converted %s cached at %s", repo_id, cached)
        return datasets.load_from_disk(str(cached))
    logger.info("rsmmvp: %s has columns %s, not the RSMMVP contract; converting its question table and "
                "images (once; cached at %s)", repo_id, docs.column_names, cached)
    rows = read_raw(snapshot)
    report = validate_dataset(rows)
    if not report.ok:
        logger.warning("rsmmvp: %s breaks the RSMMVP contract:\n%s", repo_id, report.format())
        if report.codes() & _FATAL:
            raise ValueError(f"rsmmvp: {repo_id} cannot be evaluated: {sorted(report.codes() & _FATAL)} (see the log)")
    ds = rows_to_dataset([r for r in rows if r["image"] is not None])
    cached.parent.mkdir(parents=True, exist_ok=True)
    ds.save_to_disk(str(cached))
    return datasets.load_from_disk(str(cached))
