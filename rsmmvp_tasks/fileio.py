"""Writing files so that nobody ever reads half of one, and CSV files a spreadsheet cannot execute.

Atomic writers
--------------
:func:`atomic_write_bytes` and :func:`atomic_write_text` write to a temporary file beside the
target, ``fsync`` it and ``os.replace`` it over the target: a reader (or a rerun after ``kill -9``)
sees the old file or the new one, never a truncated one.

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
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "FORMULA_PREFIXES",
    "atomic_write_bytes",
    "atomic_write_text",
    "csv_safe_cell",
    "restore_csv_cell",
    "write_csv_safe",
]

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
    from rsmmvp_tasks.values import is_missing

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
