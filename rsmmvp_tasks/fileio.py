"""Writing files so that nobody ever reads half of one, never over a file rsmmvp did not write, and CSV
files a spreadsheet cannot execute.

Atomic writers
--------------
:func:`atomic_write_bytes` and :func:`atomic_write_text` write to a temporary file beside the
target, ``fsync`` it and ``os.replace`` it over the target: a reader (or a rerun after ``kill -9``)
sees the old file or the new one, never a truncated one.

Never over someone else's file
------------------------------
A command that writes into a folder a user names (``rsmmvp build --out``, ``report --out``,
``leaderboard render --out``, ``human --out``) may replace what an earlier run of rsmmvp wrote there,
and nothing else. The proof is a manifest in the folder, :data:`WRITTEN_MANIFEST` (``build`` keeps its
own, ``.rsmmvp-build.json``), recording for each file written its path relative to the folder and
the sha256 of the content written: ``{"version": 2, "files": {"README.md": "<sha256>", ...}}``.

- :func:`check_owned` refuses (:class:`NotOwnedError`, exit code 2) when any of the given targets
  exists and is either not in the manifest (someone else's file) or no longer has the recorded
  content (edited by hand since: a curated dataset card, an annotated report) -- unless
  ``overwrite=True``. Call it for every target *before* writing the first one.
- :func:`record_written` adds the files' current hashes to the manifest after writing them.
- :func:`guarded_write_bytes` / :func:`guarded_write_text` do the three steps for one file;
  :func:`owned_outputs` for a set of files (``with owned_outputs(out, names): <write them>``), the
  call ``report --out``, ``leaderboard render --out`` and ``human --out`` make.

A manifest that lists names without hashes (``{"files": [...]}``, written by rsmmvp before 0.3) can
not tell an edited file from an untouched one: its files count as changed.

CSV that stays data
-------------------
A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (CSV/formula injection: an image named
``=HYPERLINK("http://evil","open").png`` becomes a live link). :func:`csv_safe_cell` neutralises
such a cell by prefixing a single quote ``'`` (the OWASP recommendation; spreadsheets show the text
as written). Numbers stored as numbers, and text that is exactly a number (``"-0.5"``), are left
alone. :func:`restore_csv_cell` undoes the prefix when reading back a CSV we wrote (and that a user
may have edited). :func:`write_csv_safe` writes a pandas DataFrame or rows (dicts or sequences)
atomically with every cell neutralised; every CSV rsmmvp writes goes through it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rsmmvp_tasks.errors import UsageError
from rsmmvp_tasks.values import first_few, is_missing

__all__ = [
    "FORMULA_PREFIXES",
    "WRITTEN_MANIFEST",
    "NotOwnedError",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_owned",
    "csv_safe_cell",
    "file_sha256",
    "guarded_write_bytes",
    "guarded_write_text",
    "not_owned",
    "owned_outputs",
    "read_manifest",
    "record_written",
    "restore_csv_cell",
    "write_csv_safe",
    "write_manifest",
]

#: the manifest of the files rsmmvp wrote into a folder (see "Never over someone else's file")
WRITTEN_MANIFEST = ".rsmmvp-written.json"
_MANIFEST_VERSION = 2

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file beside it and ``os.replace``; returns the path.

    The parent folder must exist. A crash leaves at worst a ``.<name>.tmp<pid>`` file, never a
    truncated ``path``.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """:func:`atomic_write_bytes` for text (default UTF-8); returns the path."""
    return atomic_write_bytes(path, text.encode(encoding))


def _is_number_text(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_safe_cell(value: Any) -> Any:
    """``value``, with a ``'`` prefixed when it is text a spreadsheet would run as a formula.

    >>> csv_safe_cell('=HYPERLINK("http://x","open").png')
    '\\'=HYPERLINK("http://x","open").png'
    >>> csv_safe_cell("-0.5"), csv_safe_cell(-0.5), csv_safe_cell("forest")
    ('-0.5', -0.5, 'forest')
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _is_number_text(value):
        return "'" + value
    return value


def restore_csv_cell(value: Any) -> Any:
    """The inverse of :func:`csv_safe_cell` for a cell read back from a CSV (other values unchanged).

    >>> restore_csv_cell("'=SUM(A1)"), restore_csv_cell("'quoted"), restore_csv_cell(3)
    ('=SUM(A1)', "'quoted", 3)
    """
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def write_csv_safe(
    path: str | os.PathLike[str],
    data: Any,
    columns: Sequence[str] | None = None,
) -> Path:
    """Write ``data`` as a UTF-8 CSV at ``path`` atomically, every cell through :func:`csv_safe_cell`.

    ``data`` is a pandas DataFrame (its columns are the header; the index is not written), an
    iterable of mappings (header: ``columns``, default the keys of the first row, missing keys
    written empty) or an iterable of sequences (header: ``columns``, required). ``None`` and NaN
    cells are written empty. Returns ``path``.
    """

    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        header = [str(c) for c in (columns or list(data.columns))]
        rows: Iterable[Sequence[Any]] = (
            [rec.get(c) for c in header] for rec in data.to_dict(orient="records")
        )
    else:
        items = list(data)
        if items and isinstance(items[0], Mapping):
            header = list(columns or items[0].keys())
            rows = ([rec.get(c) for c in header] for rec in items)
        else:
            if columns is None:
                raise ValueError("write_csv_safe: rows given as sequences need `columns` (the header)")
            header = list(columns)
            rows = items
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([csv_safe_cell(c) for c in header])
    for row in rows:
        writer.writerow(["" if is_missing(v) else csv_safe_cell(v) for v in row])
    return atomic_write_text(path, buf.getvalue())


# --------------------------------------------------------------------------- written-file manifests


class NotOwnedError(UsageError):
    """A target file exists that rsmmvp did not write, or that changed since it did (exit code 2)."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 (hex) of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: str | os.PathLike[str], name: str = WRITTEN_MANIFEST) -> dict[str, str] | None:
    """The manifest ``folder/name`` as {relative POSIX path: sha256}; ``None`` when absent or unreadable.

    A legacy manifest that lists names only maps each name to ``""`` (content unknown).
    """
    try:
        data = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(files, list):
        return {str(f): "" for f in files}
    if isinstance(files, dict):
        return {str(k): str(v) for k, v in files.items()}
    return None


def write_manifest(folder: str | os.PathLike[str], files: Mapping[str, str], name: str = WRITTEN_MANIFEST) -> Path:
    """Write ``files`` ({relative path: sha256}) as the manifest ``folder/name``, atomically."""
    body = {"version": _MANIFEST_VERSION, "files": dict(sorted(files.items()))}
    return atomic_write_text(Path(folder) / name, json.dumps(body, indent=1))


def _relative(folder: Path, target: str | os.PathLike[str]) -> str:
    """``target`` relative to ``folder``: a path under it (as given, or absolute), else taken as relative."""
    path = Path(target)
    for base, candidate in ((folder, path), (folder.absolute(), path.absolute())):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            continue
    if path.is_absolute():
        raise ValueError(f"{path} is not inside {folder}")
    return path.as_posix()


def not_owned(
    folder: str | os.PathLike[str], targets: Iterable[str | os.PathLike[str]], name: str = WRITTEN_MANIFEST
) -> list[str]:
    """Which of ``targets`` (paths relative to ``folder``, or absolute inside it) exist and are not
    rsmmvp's to replace, each as ``"<path> (<why>)"``: not in the manifest, or changed since written."""
    root = Path(folder)
    manifest = read_manifest(root, name) or {}
    refused = []
    for target in targets:
        relative = _relative(root, target)
        path = root / relative
        if not (path.exists() or path.is_symlink()):
            continue
        recorded = manifest.get(relative)
        if recorded is None:
            refused.append(f"{relative} (not written by rsmmvp)")
        elif not path.is_file() or not recorded or file_sha256(path) != recorded:
            refused.append(f"{relative} (changed since rsmmvp wrote it)")
    return refused


def check_owned(
    folder: str | os.PathLike[str],
    targets: Iterable[str | os.PathLike[str]],
    *,
    overwrite: bool = False,
    name: str = WRITTEN_MANIFEST,
    option: str = "--out",
) -> None:
    """Raise :class:`NotOwnedError` when any of ``targets`` may not be replaced (see :func:`not_owned`),
    unless ``overwrite``; the message names the files, the folder and the ways out."""
    if overwrite:
        return
    refused = not_owned(folder, targets, name)
    if refused:
        shown = first_few(refused, 5)
        raise NotOwnedError(
            f"{option} {folder}: would replace {shown}; nothing written. Move or rename those files, choose "
            f"another {option}, or pass --overwrite to replace them"
        )


def record_written(
    folder: str | os.PathLike[str], targets: Iterable[str | os.PathLike[str]], name: str = WRITTEN_MANIFEST
) -> Path:
    """Add the current sha256 of each of ``targets`` (relative to ``folder``) to the manifest; returns it."""
    root = Path(folder)
    manifest = {k: v for k, v in (read_manifest(root, name) or {}).items() if v}
    for target in targets:
        relative = _relative(root, target)
        manifest[relative] = file_sha256(root / relative)
    return write_manifest(root, manifest, name)


def guarded_write_bytes(path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False) -> Path:
    """:func:`atomic_write_bytes`, refused (:class:`NotOwnedError`) over a file rsmmvp did not write
    into that folder or that changed since (unless ``overwrite``); the write is recorded."""
    target = Path(path)
    check_owned(target.parent, [target.name], overwrite=overwrite)
    atomic_write_bytes(target, data)
    record_written(target.parent, [target.name])
    return target


def guarded_write_text(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False, encoding: str = "utf-8"
) -> Path:
    """:func:`guarded_write_bytes` for text (default UTF-8)."""
    return guarded_write_bytes(path, text.encode(encoding), overwrite=overwrite)


@contextmanager
def owned_outputs(
    folder: str | os.PathLike[str],
    targets: Iterable[str | os.PathLike[str]],
    *,
    overwrite: bool = False,
    option: str = "--out",
) -> Iterator[Path]:
    """Guard the writing of ``targets`` (paths relative to ``folder``, or absolute inside it) into ``folder``.

    On entry: the folder is created and :func:`check_owned` refuses (nothing written yet) when a target
    exists that rsmmvp did not write there or that changed since. The block writes the files; on a
    normal exit each target that now exists is recorded (:func:`record_written`). Yields the folder.
    """
    root = Path(folder)
    names = [_relative(root, t) for t in targets]
    root.mkdir(parents=True, exist_ok=True)
    check_owned(root, names, overwrite=overwrite, option=option)
    yield root
    record_written(root, [n for n in names if (root / n).is_file()])
