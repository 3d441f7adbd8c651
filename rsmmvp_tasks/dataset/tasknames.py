"""Shipped lmms-eval task names as dataset arguments: ``rsmmvp human page rsmmvp_mini`` and the like.

Wherever a command takes a dataset (:func:`rsmmvp_tasks.dataset.hub.resolve_source`, under
:func:`~rsmmvp_tasks.dataset.loading.load_rsmmvp`), the name of a task shipped in
:func:`rsmmvp_tasks.paths.tasks_dir` stands for the dataset that task evaluates -- read from the
task's own YAML, so a task added there is known without touching this module:

- a ``dataset_path`` that is a hub id (``rsmmvp``, ``rsmmvp_cot``, ``rsmmvp_circular``:
  ``IVUlab/RSMMVP``) is that id;
- a ``dataset_path`` that is a ``datasets`` builder (``parquet``, ``json``, ``csv``...) with
  ``dataset_kwargs.data_files`` (``rsmmvp_mini`` and its variants) is the file of the task's test
  split, relative to the YAML's folder (``.../rsmmvp/data/rsmmvp_mini.parquet``).

``include:`` chains are followed (the including file's keys win), and custom tags such as
``!function`` are read as nothing. A local path with the same name as a task wins over the task
(the caller checks the path first).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from rsmmvp_tasks.paths import tasks_dir

__all__ = ["shipped_task_datasets", "task_dataset"]

#: ``dataset_path`` values that name a ``datasets`` builder reading ``data_files``, not a dataset
_BUILDERS = frozenset({"parquet", "json", "csv", "arrow", "text", "imagefolder"})


class _Loader(yaml.SafeLoader):
    """A safe loader that reads lmms-eval's custom tags (``!function utils.x``) as ``None``."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _read(path: Path, depth: int = 0) -> dict[str, Any]:
    """The YAML at ``path`` merged over its ``include`` (a name or a list, relative to its folder)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
    if not isinstance(data, Mapping):
        return {}
    includes = data.get("include") or []
    merged: dict[str, Any] = {}
    for name in [includes] if isinstance(includes, str) else list(includes):
        if depth < 8 and (path.parent / str(name)).is_file():
            merged.update(_read(path.parent / str(name), depth + 1))
    merged.update(data)
    return merged


def _dataset_of(config: Mapping[str, Any], folder: Path) -> str | None:
    source = config.get("dataset_path")
    if not isinstance(source, str) or not source:
        return None
    if source not in _BUILDERS:
        return source
    kwargs = config.get("dataset_kwargs") or {}
    files = kwargs.get("data_files") if isinstance(kwargs, Mapping) else None
    if isinstance(files, Mapping):
        files = files.get(config.get("test_split") or "test")
    if isinstance(files, list) and len(files) == 1:
        files = files[0]
    return str((folder / files).resolve()) if isinstance(files, str) else None


@functools.lru_cache(maxsize=1)
def shipped_task_datasets() -> dict[str, str]:
    """``{task name: dataset source}`` of every task YAML shipped with the package (module docstring)."""
    found: dict[str, str] = {}
    try:
        root = tasks_dir()
    except FileNotFoundError:  # pragma: no cover - the task YAMLs ship with the package
        return found
    for path in sorted(root.glob("*/*.yaml")):
        try:
            config = _read(path)
        except (OSError, yaml.YAMLError):  # pragma: no cover - a broken shipped YAML fails its own tests
            continue
        task, source = config.get("task"), _dataset_of(config, path.parent)
        if isinstance(task, str) and source:
            found[task] = source
    return found


def task_dataset(name: str) -> str | None:
    """The dataset source that the shipped task ``name`` evaluates, or ``None`` when no shipped task has that name."""
    return shipped_task_datasets().get(str(name))
